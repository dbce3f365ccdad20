"""SampleGrid: PNG grids of fixed-latent samples after each validation, sent to image-taking loggers."""

from __future__ import annotations

import csv
import os
from types import SimpleNamespace
from typing import Any, Optional

import pytest
import torch
from lightning.pytorch.loggers import CSVLogger, Logger
from torch.utils.data import DataLoader, TensorDataset
from torchvision.io import read_image

from ganmods import SGAN
from ganmods.callbacks import SampleGrid, image_grid
from ganmods.errors import ConfigurationError
from ganmods.nets import DCGANCritic, DCGANGenerator
from tests.conftest import fast_trainer


class _QuietLogger(Logger):
    """A logger that takes metrics only (no images)."""

    @property
    def name(self) -> str:
        return "quiet"

    @property
    def version(self) -> int:
        return 0

    def log_metrics(self, metrics: dict[str, float], step: Optional[int] = None) -> None:
        pass

    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        pass


class _ImageLogger(_QuietLogger):
    """A logger with ``log_image`` (as WandbLogger)."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[tuple[str, list[Any], int]] = []

    def log_image(self, key: str, images: list[Any], step: Optional[int] = None) -> None:
        self.images.append((key, images, step))


class _Board:
    def __init__(self) -> None:
        self.calls: list[tuple[str, torch.Tensor, int, str]] = []

    def add_image(self, tag: str, img: torch.Tensor, global_step: int, dataformats: str) -> None:
        self.calls.append((tag, img, global_step, dataformats))


class _BoardLogger(_QuietLogger):
    """A logger whose experiment has ``add_image`` (as TensorBoardLogger)."""

    def __init__(self) -> None:
        super().__init__()
        self._board = _Board()

    @property
    def experiment(self) -> _Board:
        return self._board


def _loader(n: int = 32) -> DataLoader:
    data = torch.rand(n, 1, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1
    return DataLoader(TensorDataset(data), batch_size=8)


def _model(**kwargs: Any) -> SGAN:
    torch.manual_seed(0)
    return SGAN(DCGANGenerator(latent_dim=8, image_size=16, channels=1, width=4),
                DCGANCritic(image_size=16, channels=1, width=4), **kwargs)


def test_grids_are_saved_and_logged_after_each_validation_but_not_the_sanity_check(tmp_path):
    model = _model(max_generator_steps=4, ema_decay=0.5)
    images, board = _ImageLogger(), _BoardLogger()
    callback = SampleGrid(n=6, nrow=4, seed=3)
    trainer = fast_trainer(tmp_path, logger=[images, board, CSVLogger(tmp_path / "csv"), _QuietLogger()],
                           callbacks=[callback], num_sanity_val_steps=1, limit_val_batches=1, val_check_interval=2,
                           log_every_n_steps=1)
    trainer.fit(model, train_dataloaders=_loader(), val_dataloaders=_loader(8))

    out = tmp_path / "samples"
    assert sorted(os.listdir(out)) == ["step_0000002.png", "step_0000004.png"]  # no step 0: sanity check skipped
    png = read_image(str(out / "step_0000004.png"))
    assert png.shape == (3, 2 * (16 + 2) + 2, 4 * (16 + 2) + 2) and png.dtype == torch.uint8
    # the grid shows the module's fixed-latent samples, from the EMA generator
    expected = image_grid(model.sample(6, seed=3), nrow=4)
    assert torch.equal(png, expected)
    assert not torch.equal(png, image_grid(model.generator.eval()(model.sample_latent(6)), nrow=4))
    # logged on Lightning's step axis, beside the validation values of the same moment (batches 2 and 4)
    assert images.images == [("samples", [str(out / "step_0000002.png")], 1), ("samples", [callback.last_path], 3)]
    assert [(tag, img.shape, step, fmt) for tag, img, step, fmt in board.experiment.calls] == [
        ("samples", png.shape, 1, "CHW"), ("samples", png.shape, 3, "CHW")]
    with open(tmp_path / "csv" / "lightning_logs" / "version_0" / "metrics.csv") as fh:
        val_steps = sorted({int(r["step"]) for r in csv.DictReader(fh) if r.get("val/d_adv")})
    assert val_steps == [1, 3]
    assert torch.equal(board.experiment.calls[-1][1], png)


def test_fixed_latents_give_identical_grids_across_validations(tmp_path):
    model = _model(max_generator_steps=2)
    callback = SampleGrid(n=4, nrow=2)
    trainer = fast_trainer(tmp_path, callbacks=[callback], limit_val_batches=1)
    trainer.fit(model, train_dataloaders=_loader(16), val_dataloaders=_loader(8))
    path = tmp_path / "samples" / "step_0000002.png"
    first = path.read_bytes()
    trainer.validate(model, dataloaders=_loader(8), verbose=False)
    assert path.read_bytes() == first
    other = SampleGrid(n=4, nrow=2, seed=1, dirname="other")
    fast_trainer(tmp_path, callbacks=[other], limit_val_batches=1).validate(model, _loader(8), verbose=False)
    assert (tmp_path / "other" / "step_0000002.png").read_bytes() != first


class _Trainer:
    """The trainer attributes SampleGrid reads; counts the (collective) ``log_dir`` requests."""

    def __init__(self, root: str, rank: int = 0, sanity: bool = False, datamodule: Any = None) -> None:
        self.default_root_dir, self.global_rank, self.sanity_checking = root, rank, sanity
        self.datamodule, self.loggers, self.global_step, self.log_dir_calls = datamodule, [], 0, 0
        self.fast_dev_run = False

    @property
    def log_dir(self) -> None:
        self.log_dir_calls += 1
        return None


def _module(step: int = 0, shape: tuple[int, ...] = (1, 8, 8)) -> SimpleNamespace:
    calls: list[int] = []

    def sample(n: int, seed: Optional[int] = None) -> torch.Tensor:
        calls.append(n)
        return torch.zeros(n, *shape)

    return SimpleNamespace(sample=sample, generator_steps=step, calls=calls)


def test_nothing_happens_during_the_sanity_check(tmp_path):
    trainer, module = _Trainer(str(tmp_path), sanity=True), _module()
    SampleGrid().on_validation_epoch_end(trainer, module)
    assert module.calls == [] and not os.listdir(tmp_path)


def test_every_rank_asks_for_the_log_dir_but_only_rank_zero_samples_and_writes(tmp_path):
    callback, other = SampleGrid(n=4), _Trainer(str(tmp_path / "r1"), rank=1)
    module = _module(step=7)
    callback.on_validation_epoch_end(other, module)
    assert other.log_dir_calls == 1 and module.calls == [] and not (tmp_path / "r1").exists()
    zero = _Trainer(str(tmp_path))
    callback.on_validation_epoch_end(zero, module)
    assert zero.log_dir_calls == 1 and module.calls == [4]
    assert (tmp_path / "samples" / "step_0000007.png").exists()


def test_every_n_validations(tmp_path):
    callback, trainer = SampleGrid(n=2, every_n_validations=2), _Trainer(str(tmp_path))
    for step in (1, 2, 3, 4, 5):
        callback.on_validation_epoch_end(trainer, _module(step=step))
    assert sorted(os.listdir(tmp_path / "samples")) == ["step_0000001.png", "step_0000003.png", "step_0000005.png"]


def test_non_image_data_is_skipped_without_error(tmp_path):
    toy = _Trainer(str(tmp_path), datamodule=SimpleNamespace(data_shape=(2,)))
    module = _module(shape=(2,))
    SampleGrid().on_validation_epoch_end(toy, module)
    assert module.calls == [] and toy.log_dir_calls == 0  # decided from the data shape, before generating
    plain = _Trainer(str(tmp_path))  # no datamodule: decided from the samples
    SampleGrid().on_validation_epoch_end(plain, module)
    SampleGrid().on_validation_epoch_end(plain, _module(shape=(4, 8, 8)))
    assert not (tmp_path / "samples").exists() or not os.listdir(tmp_path / "samples")


def test_image_grid_maps_minus_one_to_black_and_one_to_white():
    images = torch.tensor([-1.0, 0.0, 1.0, 5.0]).reshape(4, 1, 1, 1)
    grid = image_grid(images, nrow=4, padding=0)
    assert grid.shape == (3, 1, 4) and grid.dtype == torch.uint8
    assert grid[:, 0].tolist() == [[0, 128, 255, 255]] * 3  # grey images become RGB; out-of-range is clamped
    assert image_grid(torch.zeros(5, 3, 4, 6), nrow=2, padding=1).shape == (3, 3 * 5 + 1, 2 * 7 + 1)
    for bad in (torch.zeros(4, 2), torch.zeros(4, 2, 8, 8), torch.zeros(0, 3, 8, 8)):
        with pytest.raises(ConfigurationError, match="images must be a \\[n, C, H, W\\] tensor"):
            image_grid(bad)


BAD = [
    ({"n": 0}, "n must be an integer >= 1; got 0"),
    ({"nrow": -2}, "nrow must be an integer >= 1; got -2"),
    ({"seed": "zero"}, "seed must be an integer; got 'zero'"),
    ({"seed": 1.5}, "seed must be an integer; got 1.5"),
    ({"every_n_validations": 0}, "every_n_validations must be an integer >= 1; got 0"),
    ({"dirname": ""}, "dirname must be a non-empty relative folder name inside the log directory; got ''"),
    ({"dirname": "/tmp/x"}, "dirname must be a non-empty relative folder name"),
    ({"dirname": "../up"}, "dirname must be a non-empty relative folder name"),
    ({"padding": -1}, "padding must be an integer >= 0; got -1"),
]


@pytest.mark.parametrize("kwargs, message", BAD, ids=[next(iter(k)) + str(i) for i, (k, _) in enumerate(BAD)])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ConfigurationError, match=message.replace("[", "\\[").replace("]", "\\]")):
        SampleGrid(**kwargs)


def test_every_n_validations_base_counts_and_returns_the_folder_on_rank_zero_only():
    from types import SimpleNamespace

    from ganmods.callbacks.periodic import EveryNValidations

    cb = EveryNValidations(every_n_validations=2)
    rank0 = SimpleNamespace(log_dir="logs", default_root_dir="root", global_rank=0, fast_dev_run=False)
    assert [cb._due_log_dir(rank0) for _ in range(4)] == ["logs", None, "logs", None]
    other = EveryNValidations()
    assert other._due_log_dir(SimpleNamespace(log_dir=None, default_root_dir="root", global_rank=1, fast_dev_run=False)) is None
    assert other._due_log_dir(SimpleNamespace(log_dir=None, default_root_dir="root", global_rank=0, fast_dev_run=False)) == "root"
    # fast_dev_run has no log folder: nothing is drawn into the working folder
    assert other._due_log_dir(SimpleNamespace(log_dir=None, default_root_dir=".", global_rank=0, fast_dev_run=1)) is None


# ---------------------------------------------------------------------------------------------------------
# ganmods.images: the one [-1, 1] <-> uint8 conversion and the shared drawings
# ---------------------------------------------------------------------------------------------------------


def test_to_uint8_and_from_uint8_by_hand():
    from ganmods.images import from_uint8, to_uint8

    x = torch.tensor([-2.0, -1.0, -0.996, 0.0, 0.5, 1.0, 3.0])
    # (x + 1) * 127.5 = -127.5, 0, 0.51, 127.5, 191.25, 255, 510 -> rounded (half to even), clamped
    assert to_uint8(x).tolist() == [0, 0, 1, 128, 191, 255, 255] and to_uint8(x).dtype == torch.uint8
    u = torch.tensor([0, 1, 128, 255], dtype=torch.uint8)
    assert from_uint8(u).tolist() == pytest.approx([-1.0, 1 / 127.5 - 1, 128 / 127.5 - 1, 1.0], abs=1e-6)
    assert torch.equal(to_uint8(from_uint8(torch.arange(256, dtype=torch.uint8))), torch.arange(256).to(torch.uint8))
    with pytest.raises(ConfigurationError, match="images must be a floating-point tensor"):
        to_uint8(u)
    with pytest.raises(ConfigurationError, match="images must be a uint8 tensor"):
        from_uint8(x)


def test_write_png_round_trips_and_refuses_floats(tmp_path):
    from ganmods.images import write_png

    grid = torch.arange(2 * 3 * 4, dtype=torch.uint8).reshape(1, 6, 4).repeat(3, 1, 1)
    path = write_png(grid, str(tmp_path / "sub" / "g.png"))
    assert torch.equal(read_image(path), grid) and os.listdir(tmp_path / "sub") == ["g.png"]
    with pytest.raises(ConfigurationError, match="grid must be a uint8"):
        write_png(grid.float(), str(tmp_path / "bad.png"))


def test_scatter_and_grid_figures_are_saved(tmp_path):
    from ganmods.images import grid_figure, save_figure, scatter_figure

    points = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    fig = scatter_figure(points, real=points, critic=lambda x: x.sum(1), bounds=(-1, 2, -1, 2), title="t",
                         resolution=8)
    assert [c.get_offsets().shape[0] for c in fig.axes[0].collections if hasattr(c, "get_offsets")][-2:] == [2, 2]
    assert fig.axes[0].get_xlim() == (-1.0, 2.0)
    path = save_figure(fig, str(tmp_path / "a" / "s.png"))
    assert read_image(path).shape[1:] == (500, 500)
    image = grid_figure(torch.zeros(4, 1, 8, 8), title="grid", nrow=2)
    assert image.axes[0].get_images()[0].get_array().shape == (2 * 10 + 2, 2 * 10 + 2, 3)
    save_figure(image, str(tmp_path / "g.png"))
    for bad, name in (({"fake": torch.zeros(3)}, "fake"), ({"fake": points, "critic": abs}, "bounds"),
                      ({"fake": points, "bounds": (0, 1)}, "bounds")):
        with pytest.raises(ConfigurationError, match=name):
            scatter_figure(**bad)
