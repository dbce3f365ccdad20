"""Image data in GANDataModule: digits end to end, folders of files, the step-keyed image stream, the
torchvision sets' offline errors, and the evaluation protocol with a stand-in metric."""

from __future__ import annotations

import struct
from types import SimpleNamespace

import pytest
import torch
from lightning.pytorch.callbacks import Callback
from PIL import Image

from ganmods import SGAN, GANDataModule
from ganmods.data.digits import load_digits
from ganmods.data.splits import held_out_halves
from ganmods.data.stream import ImageBatches, mix_seed
from ganmods.errors import ConfigurationError
from tests.conftest import fast_trainer

pytestmark = pytest.mark.filterwarnings("ignore:.*does not have many workers.*")


def _digits(**kw) -> GANDataModule:
    kw.setdefault("batch_size", 150)
    kw.setdefault("image_size", 8)
    return GANDataModule("digits", **kw)


def _attach(dm: GANDataModule, critic_steps: int = 0, rank: int = 0, world_size: int = 1) -> SimpleNamespace:
    """Give the data module a stand-in trainer (what it reads: rank, world size, the model's counter)."""
    trainer = SimpleNamespace(global_rank=rank, world_size=world_size,
                              lightning_module=SimpleNamespace(critic_steps=critic_steps))
    dm.trainer = trainer
    return trainer


def _uint8(x: torch.Tensor) -> torch.Tensor:
    return ((x + 1) * 127.5).round().to(torch.uint8)


# ---------------------------------------------------------------------------------------------------------
# digits end to end
# ---------------------------------------------------------------------------------------------------------


def test_digits_shapes_range_and_defaults():
    dm = _digits(batches_per_epoch=3)
    assert dm.data_shape == (1, 8, 8)
    batches = list(dm.train_dataloader())
    assert len(batches) == 3 and all(b.shape == (150, 1, 8, 8) and b.dtype == torch.float32 for b in batches)
    x = torch.cat(batches)
    assert x.min() == -1 and x.max() == 1
    assert GANDataModule("digits").data_shape == (1, 32, 32)
    rgb = _digits(channels=3, batches_per_epoch=1)
    assert rgb.data_shape == (3, 8, 8)
    b = next(iter(rgb.train_dataloader()))
    assert torch.equal(b[:, 0], b[:, 1]) and torch.equal(b[:, 0], b[:, 2])  # grey replicated
    assert torch.equal(b[:, :1], next(iter(dm.train_dataloader())))  # same order, same pixels


def test_digits_pixels_match_the_bundled_split():
    dm = _digits(val_size=10_000)
    val, test = held_out_halves(297)  # the held-out split's fixed halves: validation, test
    for loader, half in ((dm.val_dataloader(), val), (dm.test_dataloader(), test)):
        held = torch.cat(list(loader))
        assert (held - load_digits("held_out")[half]).abs().max() <= 0.5 / 127.5 + 1e-6  # uint8 storage only
    assert dm.train_reference(1500).shape == (1500, 1, 8, 8)
    assert len(list(_digits(val_size=100).val_dataloader())) == 1  # first val_size of the held-out split


def test_digits_stream_deterministic_and_seeded():
    a = list(_digits(batches_per_epoch=4, seed=3).train_dataloader())
    b = list(_digits(batches_per_epoch=4, seed=3).train_dataloader())
    c = list(_digits(batches_per_epoch=4, seed=4).train_dataloader())
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not any(torch.equal(x, y) for x, y in zip(a, c))


def test_each_image_once_per_data_epoch():
    dm = _digits(batches_per_epoch=20)  # 1500 // 150 = 10 batches per data epoch
    stream = dm.train_dataloader().dataset
    assert isinstance(stream, ImageBatches) and stream.batches_per_data_epoch == 10
    epoch0 = torch.cat([stream.indices(k) for k in range(10)])
    epoch1 = torch.cat([stream.indices(k) for k in range(10, 20)])
    assert torch.equal(epoch0.sort().values, torch.arange(1500))
    assert torch.equal(epoch1.sort().values, torch.arange(1500))
    assert not torch.equal(epoch0, epoch1)
    train = dm.train_reference(1500)  # data epoch 0's order
    for k, batch in enumerate(dm.train_dataloader()):
        assert torch.equal(batch, stream.batch(k))
        if k < 10:
            assert torch.equal(batch, train[150 * k : 150 * (k + 1)])


def test_drop_last_when_batch_size_does_not_divide_n():
    stream = _digits(batch_size=400).train_dataloader().dataset  # 3 full batches, 300 images left out
    used = torch.cat([stream.indices(k) for k in range(3)])
    assert used.unique().numel() == 1200
    assert stream.indices(3).tolist() != stream.indices(0).tolist()  # data epoch 1 starts a new order


def test_two_ranks_partition_each_data_epoch():
    dms = [_digits(batches_per_epoch=5) for _ in range(2)]
    for rank, dm in enumerate(dms):
        _attach(dm, rank=rank, world_size=2)
    idx = [torch.cat([d.train_dataloader().dataset.indices(k) for k in range(5)]) for d in dms]
    assert set(idx[0].tolist()).isdisjoint(idx[1].tolist())
    assert torch.equal(torch.cat(idx).sort().values, torch.arange(1500))
    single = _digits().train_dataloader().dataset  # global batch k*W + r is batch g of one process
    assert torch.equal(dms[1].train_dataloader().dataset.indices(2), single.indices(2 * 2 + 1))
    batch = next(iter(dms[1].train_dataloader()))
    assert torch.equal(batch, single.batch(1))


def test_resume_from_step_k_continues_the_full_pass():
    full = list(_digits(batches_per_epoch=25).train_dataloader())  # crosses two data epochs
    dm = _digits(batches_per_epoch=12)
    trainer = _attach(dm, critic_steps=13)
    loader = dm.train_dataloader()
    it = iter(loader)
    trainer.lightning_module.critic_steps = 99  # read once when the pass starts, not per batch
    resumed = list(it)
    assert len(resumed) == 12
    assert all(torch.equal(x, y) for x, y in zip(resumed, full[13:25]))


def test_loaders_leave_the_global_rng_alone():
    dm = _digits(batches_per_epoch=3)
    dm.setup()
    state = torch.random.get_rng_state()
    iter(dm.train_dataloader())
    list(dm.train_dataloader())
    list(dm.val_dataloader())
    dm.real_samples(5, seed=1)
    dm.train_reference(5)
    assert torch.equal(state, torch.random.get_rng_state())


def test_train_reference_and_real_samples():
    dm = _digits()
    ref = dm.train_reference(40)
    assert torch.equal(ref, dm.train_reference(40))
    assert torch.equal(ref, next(iter(dm.train_dataloader()))[:40])  # the first images of the stream
    a = dm.real_samples(30, seed=2)
    assert a.shape == (30, 1, 8, 8) and torch.equal(a, dm.real_samples(30, seed=2))
    assert not torch.equal(a, dm.real_samples(30, seed=3))
    for call in (dm.real_samples, dm.train_reference):
        with pytest.raises(ConfigurationError, match="1500"):
            call(1501)


# ---------------------------------------------------------------------------------------------------------
# evaluation protocol
# ---------------------------------------------------------------------------------------------------------


class _Model:
    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def sample(self, n, seed=None):
        self.calls.append((n, seed))
        return torch.zeros(n, 1, 8, 8)


class _Metric:
    def __init__(self) -> None:
        self.calls: list[tuple[torch.Tensor, torch.Tensor, str]] = []

    def score(self, fake, real, real_key):
        self.calls.append((fake, real, real_key))
        return {"fake_mean": float(fake.mean()), "n_real": float(real.shape[0])}


@pytest.mark.parametrize("eval_samples,n_real", [(100, 100), (500, 149)])
def test_evaluate_scores_fakes_against_the_held_out_images(eval_samples, n_real):
    metric, model = _Metric(), _Model()
    dm = _digits(eval_samples=eval_samples, eval_seed=9, metric=metric)
    assert dm.evaluate(model) == {"fake_mean": 0.0, "n_real": float(n_real)}
    assert model.calls == [(eval_samples, 9)]
    ((fake, real, key),) = metric.calls
    assert fake.shape == (eval_samples, 1, 8, 8)
    val = held_out_halves(297)[0]  # the validation half of the held-out split
    assert torch.equal(real, load_digits("held_out")[val[:n_real]].add(1).mul(127.5).round().div(127.5).sub(1))
    assert key == dm.real_key == f"digits|split=held_out|half=val|n={n_real}|size=8|channels=1"


def test_evaluate_without_metric_returns_nothing_and_draws_nothing():
    model = _Model()
    assert _digits().evaluate(model) == {}
    assert model.calls == []


class _Recorder(Callback):
    def __init__(self) -> None:
        self.seen: list[tuple[int, torch.Tensor]] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.seen.append((pl_module.critic_steps, batch.clone()))


def test_training_sees_the_batch_of_each_critic_step_and_resumes_it(tmp_path):
    def nets():
        torch.manual_seed(0)
        gen = torch.nn.Sequential(torch.nn.Linear(4, 64), torch.nn.Tanh(), torch.nn.Unflatten(1, (1, 8, 8)))
        return dict(generator=gen, discriminator=torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 1)),
                    latent_dim=4)

    stream = _digits().train_dataloader().dataset
    first, second = _Recorder(), _Recorder()
    trainer = fast_trainer(tmp_path, callbacks=[first])
    trainer.fit(SGAN(**nets(), max_generator_steps=7), datamodule=_digits(batches_per_epoch=4))
    trainer.save_checkpoint(tmp_path / "m.ckpt")
    resumed = SGAN(**nets(), max_generator_steps=12)
    fast_trainer(tmp_path, callbacks=[second]).fit(resumed, datamodule=_digits(batches_per_epoch=4),
                                                   ckpt_path=tmp_path / "m.ckpt")
    assert [k for k, _ in first.seen] == list(range(7)) and [k for k, _ in second.seen] == list(range(7, 12))
    for k, batch in first.seen + second.seen:
        assert torch.equal(batch, stream.batch(k))


# ---------------------------------------------------------------------------------------------------------
# folders of image files
# ---------------------------------------------------------------------------------------------------------


def _write_folder(root, nested: bool = True):
    sub_a, sub_b = (root / "a", root / "b") if nested else (root, root)
    sub_a.mkdir(parents=True, exist_ok=True)
    sub_b.mkdir(parents=True, exist_ok=True)
    wide = Image.new("RGB", (30, 10), (255, 0, 0))  # red | green | blue bands: the centre crop is green
    wide.paste((0, 255, 0), (10, 0, 20, 10))
    wide.paste((0, 0, 255), (20, 0, 30, 10))
    wide.save(sub_a / "wide.PNG")
    tall = Image.new("RGB", (10, 30), (0, 0, 0))  # black / white / black: the centre crop is white
    tall.paste((255, 255, 255), (0, 10, 10, 20))
    tall.save(sub_a / "tall.bmp")
    Image.new("L", (16, 16), 100).save(sub_b / "grey.png")
    Image.new("RGB", (9, 9), (200, 50, 0)).save(sub_b / "orange.webp", lossless=True)
    (sub_b / "notes.txt").write_text("not an image")


def _all_images(dm: GANDataModule) -> set[tuple[int, ...]]:
    held = torch.cat(list(dm.val_dataloader()) + list(dm.test_dataloader()))
    train = dm.train_reference(4 - held.shape[0])
    return {tuple(x.flatten().tolist()) for x in _uint8(torch.cat([train, held]))}


def _const(values: tuple[int, ...], size: int = 8) -> tuple[int, ...]:
    return tuple(v for v in values for _ in range(size * size))


@pytest.mark.parametrize("nested", [True, False])
def test_folder_rgb_centre_crop_and_split(tmp_path, nested):
    _write_folder(tmp_path, nested)
    dm = GANDataModule("folder", root=str(tmp_path), image_size=8, batch_size=2,
                       dataset_options={"held_out_fraction": 0.5})
    assert dm.data_shape == (3, 8, 8)
    assert len(torch.cat(list(dm.val_dataloader()))) == len(torch.cat(list(dm.test_dataloader()))) == 1
    expected = {(0, 255, 0), (255, 255, 255), (100, 100, 100), (200, 50, 0)}
    assert _all_images(dm) == {_const(v) for v in expected}
    again = GANDataModule("folder", root=str(tmp_path), image_size=8, batch_size=2,
                          dataset_options={"held_out_fraction": 0.5})
    assert torch.equal(torch.cat(list(dm.val_dataloader())), torch.cat(list(again.val_dataloader())))
    assert "held_out_fraction=0.5" in dm.real_key and str(tmp_path) in dm.real_key


def test_folder_grey_uses_luminance(tmp_path):
    _write_folder(tmp_path)
    dm = GANDataModule("folder", root=str(tmp_path), image_size=8, channels=1, batch_size=2,
                       dataset_options={"held_out_fraction": 0.5})
    assert dm.data_shape == (1, 8, 8)
    # 0.299 R + 0.587 G + 0.114 B: green 149.7 -> 150, orange 89.15 -> 89
    assert _all_images(dm) == {_const((v,)) for v in (150, 255, 100, 89)}


def test_folder_default_split_and_batch_size_bound(tmp_path):
    for i in range(20):
        Image.new("RGB", (8, 8), (i, i, i)).save(tmp_path / f"{i:02d}.jpg")
    dm = GANDataModule("folder", root=str(tmp_path), image_size=8, batch_size=18)
    # default held_out_fraction 0.1: 2 held-out images, one validation, one test
    assert len(torch.cat(list(dm.val_dataloader()))) == len(torch.cat(list(dm.test_dataloader()))) == 1
    with pytest.raises(ConfigurationError, match=r"batch_size.*N = 18.*19"):
        GANDataModule("folder", root=str(tmp_path), image_size=8, batch_size=19).setup()


def test_folder_errors(tmp_path):
    with pytest.raises(ConfigurationError, match="root.*holds none"):
        GANDataModule("folder", root=str(tmp_path), image_size=8).setup()
    Image.new("RGB", (8, 8)).save(tmp_path / "ok.png")
    Image.new("RGB", (8, 8)).save(tmp_path / "ok2.png")
    (tmp_path / "broken.jpg").write_bytes(b"this is not a jpeg")
    with pytest.raises(ConfigurationError, match="broken.jpg"):
        GANDataModule("folder", root=str(tmp_path), image_size=8, batch_size=1,
                      dataset_options={"held_out_fraction": 0.5}).setup()
    with pytest.raises(ConfigurationError, match="root"):
        GANDataModule("folder", root=str(tmp_path / "nope"), image_size=8)
    with pytest.raises(ConfigurationError, match="image_size.*required"):
        GANDataModule("folder", root=str(tmp_path))
    with pytest.raises(ConfigurationError, match="held_out_fraction"):
        GANDataModule("folder", root=str(tmp_path), image_size=8, dataset_options={"held_out_fraction": 1.0})
    with pytest.raises(ConfigurationError, match="held_out_fraction.*leave"):
        GANDataModule("folder", root=str(tmp_path), image_size=8, batch_size=1,
                      dataset_options={"held_out_fraction": 0.01}).setup()


# ---------------------------------------------------------------------------------------------------------
# torchvision sets, offline
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to download fails the test."""
    import urllib.request

    import torchvision.datasets.cifar as cifar
    import torchvision.datasets.mnist as mnist

    def refuse(*args, **kwargs):
        raise AssertionError("a download was attempted")

    for module, name in [(urllib.request, "urlopen"), (mnist, "download_and_extract_archive"),
                         (cifar, "download_and_extract_archive")]:
        monkeypatch.setattr(module, name, refuse)


@pytest.mark.parametrize("dataset,folder", [("cifar10", "cifar-10-batches-py"), ("mnist", "MNIST"),
                                            ("fashion_mnist", "FashionMNIST"), ("celeba", "celeba")])
def test_missing_files_offline_name_root_and_files(dataset, folder, tmp_path, no_network):
    dm = GANDataModule(dataset, root=str(tmp_path))  # nothing is read before setup
    dm.prepare_data()  # download=False: nothing to do
    with pytest.raises(ConfigurationError) as info:
        dm.setup("fit")
    msg = str(info.value)
    assert str(tmp_path) in msg and dataset in msg and folder in msg and "download: true" in msg


def test_failed_download_is_a_configuration_error(tmp_path, monkeypatch):
    import torchvision.datasets.cifar as cifar

    calls = []

    def offline(*args, **kwargs):
        calls.append(args)
        raise OSError("network is unreachable")

    monkeypatch.setattr(cifar, "download_and_extract_archive", offline)
    dm = GANDataModule("cifar10", root=str(tmp_path), download=True)
    with pytest.raises(ConfigurationError, match="downloading failed.*unreachable"):
        dm.prepare_data()
    assert calls


def _idx(path, data: torch.Tensor) -> None:
    dims = list(data.shape)
    header = struct.pack(">I", (0x08 << 8) + len(dims)) + struct.pack(f">{len(dims)}I", *dims)
    path.write_bytes(header + data.numpy().tobytes())


def test_mnist_from_local_files(tmp_path, no_network):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for prefix, n, value in (("train", 12, 40), ("t10k", 5, 220)):
        _idx(raw / f"{prefix}-images-idx3-ubyte", torch.full((n, 28, 28), value, dtype=torch.uint8))
        _idx(raw / f"{prefix}-labels-idx1-ubyte", torch.zeros(n, dtype=torch.uint8))
    dm = GANDataModule("mnist", root=str(tmp_path), batch_size=4, batches_per_epoch=3, channels=3)
    assert dm.data_shape == (3, 32, 32)
    train = torch.cat(list(dm.train_dataloader()))
    held = torch.cat(list(dm.val_dataloader()) + list(dm.test_dataloader()))  # the official test file, halved
    assert train.shape == (12, 3, 32, 32) and held.shape == (5, 3, 32, 32)
    assert torch.all(_uint8(train) == 40) and torch.all(_uint8(held) == 220)
    assert dm.real_key == "mnist|split=test|half=val|n=3|size=32|channels=3"


# ---------------------------------------------------------------------------------------------------------
# argument checks
# ---------------------------------------------------------------------------------------------------------


def test_unknown_dataset_lists_image_and_toy_names():
    with pytest.raises(ConfigurationError) as info:
        GANDataModule("imagenet")
    msg = str(info.value)
    assert "imagenet" in msg and all(name in msg for name in ("digits", "cifar10", "folder", "ring8"))


@pytest.mark.parametrize(
    "kwargs,name",
    [
        ({"dataset": "digits", "image_size": 4}, "image_size"),
        ({"dataset": "digits", "image_size": 16.0}, "image_size"),
        ({"dataset": "cifar10", "image_size": True}, "image_size"),
        ({"dataset": "digits", "channels": 2}, "channels"),
        ({"dataset": "cifar10", "channels": "3"}, "channels"),
        ({"dataset": "digits", "root": "data"}, "root"),
        ({"dataset": "digits", "download": True}, "download"),
        ({"dataset": "mnist", "download": "yes"}, "download"),
        ({"dataset": "cifar10", "dataset_options": {"std": 0.1}}, "dataset_options"),
        ({"dataset": "digits", "metric": object()}, "metric"),
        ({"dataset": "ring8", "image_size": 32}, "image_size"),
        ({"dataset": "ring8", "channels": 1}, "channels"),
        ({"dataset": "ring8", "root": "data"}, "root"),
        ({"dataset": "ring8", "download": True}, "download"),
        ({"dataset": "ring8", "metric": _Metric()}, "metric"),
    ],
)
def test_bad_image_arguments_name_the_argument(kwargs, name):
    with pytest.raises(ConfigurationError, match=name):
        GANDataModule(**kwargs)


def test_batch_size_larger_than_the_training_set():
    with pytest.raises(ConfigurationError, match=r"batch_size.*1500.*2000"):
        _digits(batch_size=2000).setup()


def test_mix_seed_is_stable_and_order_sensitive():
    # splitmix64's published first output for state 0 is 0xE220A8397B1DCDAF; mix_seed keeps the top 63 bits
    assert mix_seed(0) == 0xE220A8397B1DCDAF >> 1
    assert mix_seed(0, 1, 2) == 3384391416029321617  # pinned: the data stream of every recorded run uses it
    assert len({mix_seed(0, 1, 2), mix_seed(0, 2, 1), mix_seed(1, 0, 2), mix_seed(0, 1), mix_seed(0, 1, 2, 0)}) == 5
    assert 0 <= mix_seed(-1, 2**70) < 2**63
