"""ganmods generate: samples from a checkpoint to files, without the training data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganmods import WGANGP, GANDataModule
from ganmods.cli import main
from tests.conftest import fast_trainer, tiny_nets


@pytest.fixture(scope="module")
def toy_ckpt(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gen")
    torch.manual_seed(0)
    model = WGANGP(**tiny_nets(), gp_weight=0.1, max_generator_steps=2)
    trainer = fast_trainer(tmp)
    trainer.fit(model, datamodule=GANDataModule(batch_size=8, batches_per_epoch=20))
    path = tmp / "toy.ckpt"
    trainer.save_checkpoint(path)
    return str(path), model


@pytest.mark.parametrize("name", ["s.npy", "s.csv", "s.pt", "s.png", "outdir"])
def test_generate_writes_the_requested_format(toy_ckpt, tmp_path, name, capsys):
    ckpt, model = toy_ckpt
    out = tmp_path / name
    assert main(["generate", "--ckpt", ckpt, "--n", "50", "--out", str(out), "--seed", "3"]) == 0
    expected = model.sample(50, seed=3)
    if name.endswith(".npy"):
        assert np.allclose(np.load(out), expected.numpy(), atol=1e-6)
        assert (tmp_path / "s.png").stat().st_size > 0  # scatter beside it
    elif name.endswith(".csv"):
        data = np.loadtxt(out, delimiter=",", skiprows=1)
        assert data.shape == (50, 2) and np.allclose(data, expected.numpy(), atol=1e-5)
    elif name.endswith(".pt"):
        assert torch.allclose(torch.load(out), expected)
    elif name.endswith(".png"):
        assert out.read_bytes()[:4] == b"\x89PNG"
    else:
        assert np.load(out / "samples.npy").shape == (50, 2) and (out / "samples.png").exists()
    assert str(out) in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--n", "0", "--out", "x.npy"], "n must be an integer >= 1; got 0"),
        (["--n", "5", "--out", "x.txt"], "out must be a directory or end in one of"),
        (["--n", "5", "--out", "x.png", "--grid"], "--grid needs image samples"),
        (["--n", "5", "--out", "x.npy", "--grid"], "out must end in .png with --grid"),
    ],
)
def test_generate_bad_input_is_one_line(toy_ckpt, tmp_path, args, fragment, capsys):
    ckpt, _ = toy_ckpt
    args = [a if not a.startswith("x.") else str(tmp_path / a) for a in args]
    assert main(["generate", "--ckpt", ckpt, *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ganmods: error: ") and fragment in err and "\n" not in err


def test_generate_missing_checkpoint_and_unwritable_out(tmp_path, toy_ckpt, capsys):
    assert main(["generate", "--ckpt", str(tmp_path / "none.ckpt"), "--n", "5", "--out", str(tmp_path / "a.npy")]) == 2
    assert "no such file" in capsys.readouterr().err
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["generate", "--ckpt", toy_ckpt[0], "--n", "5", "--out", str(blocker / "a.npy")]) == 2
    assert "writable directory" in capsys.readouterr().err
    assert blocker.read_text() == "x"  # nothing written before is lost


# ---------------------------------------------------------------- Lightning's predict
def _predict(model, loader):
    import lightning.pytorch as pl

    trainer = pl.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                         enable_model_summary=False)
    return torch.cat(trainer.predict(model, dataloaders=loader))


@pytest.mark.parametrize("ema", [None, 0.9])
def test_predict_with_latent_seeds_equals_sample(ema):
    from ganmods import SGAN
    from ganmods.generate import LatentSeeds

    torch.manual_seed(0)
    model = SGAN(**tiny_nets(), ema_decay=ema, latent_distribution="uniform")
    if ema:  # an EMA copy that differs from the training generator
        with torch.no_grad():
            for p in model.ema_generator.parameters():
                p.add_(0.5)
    out = _predict(model, LatentSeeds(n=50, seed=3, batch_size=16).dataloader())
    assert out.shape == (50, 2)
    assert torch.allclose(out, model.sample(50, seed=3), atol=1e-6)
    assert not torch.allclose(out, model.sample(50, seed=4))
    assert model.training  # predict leaves the module as it found it


def test_predict_with_a_latent_batch_and_bad_batches():
    from ganmods import SGAN
    from ganmods.errors import ConfigurationError
    from ganmods.generate import batch_latents

    torch.manual_seed(0)
    model = SGAN(**tiny_nets()).eval()
    z = torch.randn(10, 2)
    out = _predict(model, torch.utils.data.DataLoader(z, batch_size=4))
    assert torch.allclose(out, model.generator(z), atol=1e-6)
    for bad, fragment in [
        (torch.randn(4, 3), "got a torch.float32 tensor of shape [4, 3]"),
        (torch.zeros(4, 2, dtype=torch.long), "got a torch.int64 tensor of shape [4, 2]"),
        ({"n": 4, "seed": 0, "start": 3, "stop": 2}, "with 0 <= start < stop <= n); got {'n': 4"),
        ([1, 2], "got 'list'"),
    ]:
        with pytest.raises(ConfigurationError, match="batch must be float latents") as info:
            model.predict_step(bad, 0)
        assert fragment in str(info.value)
    assert batch_latents(model, {"n": 5, "seed": 1, "start": 0, "stop": 5}).shape == (5, 2)


def test_latent_seeds_batches_and_errors():
    from ganmods.errors import ConfigurationError
    from ganmods.generate import LatentSeeds

    seeds = LatentSeeds(n=10, seed=7, batch_size=4)
    assert [(b["start"], b["stop"]) for b in seeds.dataloader()] == [(0, 4), (4, 8), (8, 10)]
    with pytest.raises(IndexError):
        seeds[3]
    for kwargs, fragment in [({"n": 0}, "n must be an integer >= 1; got 0"),
                             ({"n": 3, "batch_size": 0}, "batch_size must be an integer >= 1; got 0"),
                             ({"n": 3, "seed": 1.5}, "seed must be an integer; got 1.5")]:
        with pytest.raises(ConfigurationError, match=fragment):
            LatentSeeds(**kwargs)


# ---------------------------------------------------------------- every core variant, and images
@pytest.mark.parametrize("variant", ["SGAN", "WGAN", "WGANGP", "RaGAN", "FGAN"])
def test_generate_from_each_core_variant(variant, tmp_path):
    import ganmods

    torch.manual_seed(0)
    model = getattr(ganmods, variant)(**tiny_nets(), max_generator_steps=2)
    trainer = fast_trainer(tmp_path)
    trainer.fit(model, datamodule=GANDataModule(batch_size=8, batches_per_epoch=20))
    trainer.save_checkpoint(tmp_path / "v.ckpt")
    assert main(["generate", "--ckpt", str(tmp_path / "v.ckpt"), "--n", "20", "--out", str(tmp_path / "s.npy")]) == 0
    assert np.allclose(np.load(tmp_path / "s.npy"), model.sample(20, seed=0).numpy(), atol=1e-6)


@pytest.fixture(scope="module")
def digits_ckpt(tmp_path_factory):
    from ganmods import SGAN
    from ganmods.nets import DCGANCritic, DCGANGenerator

    tmp = tmp_path_factory.mktemp("digits")
    torch.manual_seed(0)
    model = SGAN(DCGANGenerator(latent_dim=8, image_size=16, channels=1, width=4),
                 DCGANCritic(image_size=16, channels=1, width=4), max_generator_steps=2)
    trainer = fast_trainer(tmp)
    trainer.fit(model, datamodule=GANDataModule("digits", image_size=16, batch_size=8, batches_per_epoch=4))
    path = tmp / "digits.ckpt"
    trainer.save_checkpoint(path)
    return str(path), model.eval()


def test_generate_from_a_digits_checkpoint(digits_ckpt, tmp_path):
    from torchvision.io import read_image

    ckpt, model = digits_ckpt
    expected = model.sample(10, seed=5)
    assert expected.shape == (10, 1, 16, 16)
    args = ["generate", "--ckpt", ckpt, "--n", "10", "--seed", "5", "--out"]
    assert main([*args, str(tmp_path / "grid.png"), "--grid"]) == 0
    grid = read_image(str(tmp_path / "grid.png"))
    assert grid.shape == (3, 4 * 18 + 2, 3 * 18 + 2)  # 3 per row (floor sqrt 10), 4 rows, 2 px padding, RGB
    assert main([*args, str(tmp_path / "pngs")]) == 0
    files = sorted((tmp_path / "pngs").iterdir())
    assert [f.name for f in files] == [f"{i:04d}.png" for i in range(10)]
    first = read_image(str(files[0]))
    assert first.shape == (1, 16, 16)
    assert torch.equal(first[0], ((expected[0, 0].clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8))
    assert main([*args, str(tmp_path / "s.pt")]) == 0
    assert torch.allclose(torch.load(tmp_path / "s.pt"), expected, atol=1e-6)
    assert main([*args, str(tmp_path / "s.csv")]) == 2  # images cannot be a table
