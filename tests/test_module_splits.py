"""The module reads the validation reference at validation and the test reference at test, never the other."""

from __future__ import annotations

import pytest
import torch

from ganmods import SGAN, GANDataModule
from tests.conftest import fast_trainer, tiny_nets


class _Recording(GANDataModule):
    """Records the split of every evaluation the module asks for."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.asked: list[str] = []

    def evaluate(self, model, split="val"):
        self.asked.append(split)
        return super().evaluate(model, split=split)


def test_validation_reads_val_and_test_reads_test(tmp_path):
    torch.manual_seed(0)
    model = SGAN(**tiny_nets(), max_generator_steps=4)
    data = _Recording("ring8", batch_size=16, batches_per_epoch=4, eval_samples=500)
    trainer = fast_trainer(tmp_path, limit_val_batches=1)
    trainer.fit(model, datamodule=data)
    assert data.asked and set(data.asked) == {"val"}
    data.asked.clear()
    (tested,) = trainer.test(model, datamodule=data, verbose=False)
    assert data.asked == ["test"]
    expected = data.evaluate(model, split="test")
    for name, value in expected.items():
        assert tested[f"test/{name}"] == pytest.approx(value, nan_ok=True)
