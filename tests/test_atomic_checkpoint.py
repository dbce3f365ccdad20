"""A crash while a checkpoint is being written never leaves a corrupt file behind."""

from __future__ import annotations

import fsspec.implementations.local as local
import pytest
import torch

import ganmods
from ganmods import SGAN, GANDataModule
from tests.conftest import fast_trainer, tiny_nets


def test_interrupted_save_keeps_the_previous_last_ckpt(tmp_path, monkeypatch):
    torch.manual_seed(0)
    model = SGAN(**tiny_nets(), max_generator_steps=3)
    trainer = fast_trainer(tmp_path)
    trainer.fit(model, datamodule=GANDataModule(batch_size=8, batches_per_epoch=10))
    path = tmp_path / "last.ckpt"
    trainer.save_checkpoint(path)
    before = path.read_bytes()

    real_write = local.LocalFileOpener.write

    def crash_half_way(self, data):
        real_write(self, data[: len(data) // 2])
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(local.LocalFileOpener, "write", crash_half_way)
    model.generator_steps = 99  # a different state, so a partial write would be visible
    with pytest.raises(OSError, match="simulated"):
        trainer.save_checkpoint(path)
    monkeypatch.undo()

    assert path.read_bytes() == before
    assert ganmods.load_checkpoint(path).generator_steps == 3
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".ckpt") == ["last.ckpt"]
