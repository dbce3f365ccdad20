"""ganmods generate: samples from a checkpoint to files, without the training data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganmods import SGAN, WGANGP, GANDataModule
from ganmods.cli import main
from ganmods.errors import ConfigurationError
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


# ---------------------------------------------------------------- streaming and atomic outputs
@pytest.mark.parametrize("n, latent, starts", [(10_000, "normal", [0, 4096, 8192]), (4097, "normal", [0]),
                                               (8200, "uniform", [0, 4096, 8192])])
def test_sample_chunks_equal_one_sample_call(n, latent, starts):
    from ganmods import SGAN
    from ganmods.generate import sample_chunks

    torch.manual_seed(0)
    model = SGAN(**tiny_nets(), ema_decay=0.9, latent_distribution=latent).eval()
    with torch.no_grad():
        for p in model.ema_generator.parameters():
            p.add_(0.25)  # the EMA copy differs: chunks must come from it, as sample() does
    chunks = list(sample_chunks(model, n, seed=3, chunk=4096))
    # 4097 rows: a one-row tail (2 values) would not continue the same random numbers, so it joins the chunk
    assert [start for start, _ in chunks] == starts
    assert torch.equal(torch.cat([c for _, c in chunks]), model.sample(n, seed=3))


def test_chunked_npy_and_csv_are_byte_identical_to_whole_writes(toy_ckpt, tmp_path):
    from ganmods.generate import generate

    ckpt, model = toy_ckpt
    n = 9000
    expected = model.sample(n, seed=2).numpy()
    written = generate(ckpt, n, str(tmp_path / "s.npy"), seed=2, chunk=4096)
    assert written == [str(tmp_path / "s.npy"), str(tmp_path / "s.png")]
    np.save(tmp_path / "whole.npy", expected)
    assert (tmp_path / "s.npy").read_bytes() == (tmp_path / "whole.npy").read_bytes()
    generate(ckpt, n, str(tmp_path / "t.csv"), seed=2, chunk=4096)
    np.savetxt(tmp_path / "whole.csv", expected, delimiter=",", header="x0,x1", comments="")
    assert (tmp_path / "t.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_existing_out_is_refused_before_any_work_unless_overwrite(toy_ckpt, tmp_path, capsys):
    ckpt, model = toy_ckpt
    out = tmp_path / "s.npy"
    out.write_bytes(b"precious")
    missing = str(tmp_path / "none.ckpt")  # refused before the checkpoint is even read
    assert main(["generate", "--ckpt", missing, "--n", "5", "--out", str(out)]) == 2
    assert capsys.readouterr().err == (f"ganmods: error: --out must be a path that does not exist (or pass "
                                       f"--overwrite); got {out}.\n")
    assert out.read_bytes() == b"precious"
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "notes.txt").write_text("x")
    assert main(["generate", "--ckpt", ckpt, "--n", "5", "--out", str(tmp_path / "d")]) == 2
    assert "got " + str(tmp_path / "d") + " (a folder that is not empty)." in capsys.readouterr().err
    (tmp_path / "t.png").write_bytes(b"old plot")  # the scatter beside t.npy would be replaced
    assert main(["generate", "--ckpt", ckpt, "--n", "5", "--out", str(tmp_path / "t.npy")]) == 2
    assert "t.png would be overwritten" in capsys.readouterr().err
    assert not (tmp_path / "t.npy").exists()

    assert main(["generate", "--ckpt", ckpt, "--n", "5", "--out", str(out), "--overwrite"]) == 0
    assert np.allclose(np.load(out), model.sample(5, seed=0).numpy(), atol=1e-6)
    (tmp_path / "empty").mkdir()  # an empty folder is not "existing output"
    assert main(["generate", "--ckpt", ckpt, "--n", "5", "--out", str(tmp_path / "empty")]) == 0
    assert np.load(tmp_path / "empty" / "samples.npy").shape == (5, 2)


def test_full_disk_while_generating_keeps_the_previous_file(toy_ckpt, tmp_path, monkeypatch, capsys):
    from tests.test_atomic_checkpoints import _full_disk_after

    ckpt, _ = toy_ckpt
    out = tmp_path / "s.npy"
    assert main(["generate", "--ckpt", ckpt, "--n", "20", "--out", str(out)]) == 0
    before = out.read_bytes()
    _full_disk_after(monkeypatch, room=1000)
    assert main(["generate", "--ckpt", ckpt, "--n", "5000", "--out", str(out), "--overwrite"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"ganmods: error: could not write file {out}: ")
    assert "No space left on device (errno 28)" in err
    assert err.count("\n") == 1
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.npy", "s.png"]


def test_output_larger_than_free_space_or_memory_limit_is_refused(toy_ckpt, tmp_path, monkeypatch, capsys):
    import collections

    import ganmods.generate as gen

    ckpt, _ = toy_ckpt
    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(gen.shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 50_000, 50_000))
    assert main(["generate", "--ckpt", ckpt, "--n", "10000", "--out", str(tmp_path / "s.npy")]) == 2
    err = capsys.readouterr().err  # 10000 x 2 float32 = 80000 bytes + 128 header
    assert err == (f"ganmods: error: n must fit the free disk space: 10000 samples of shape [2] as .npy need at "
                   f"least 80.1 KB, 50.0 KB free in {tmp_path}; got 10000.\n")
    assert main(["generate", "--ckpt", ckpt, "--n", "1100", "--out", str(tmp_path / "s.csv")]) == 2
    assert "as .csv need at least 55.0 KB" in capsys.readouterr().err  # 2200 values x 25 characters
    assert main(["generate", "--ckpt", ckpt, "--n", "6000", "--out", str(tmp_path / "s.npy")]) == 0  # 48 KB fits
    monkeypatch.setattr(gen, "IN_MEMORY_LIMIT", 4000)
    assert main(["generate", "--ckpt", ckpt, "--n", "1000", "--out", str(tmp_path / "s.pt")]) == 2
    assert "out must be .npy (written in chunks) for 1000 samples: a .pt file holds all of them in memory " \
           "(8.0 KB, more than the 4.0 KB limit)" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.npy", "s.png"]


def test_png_folder_is_written_whole_in_chunks_and_replaced_only_if_generated(digits_ckpt, tmp_path, monkeypatch):
    from torchvision.io import read_image

    import ganmods.generate as gen

    ckpt, model = digits_ckpt
    expected = ((model.sample(10, seed=5).clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    monkeypatch.setattr(gen, "_batch_size", lambda module: 4)  # chunks of 4 images: 3 chunks
    out = tmp_path / "pngs"
    assert len(gen.generate(ckpt, 12, str(out), seed=5, chunk=4)) == 12
    assert gen.generate(ckpt, 10, str(out), seed=5, chunk=4, overwrite=True)[-1] == str(out / "0009.png")
    assert sorted(f.name for f in out.iterdir()) == [f"{i:04d}.png" for i in range(10)]  # the old set is gone
    for i in (0, 4, 9):
        assert torch.equal(read_image(str(out / f"{i:04d}.png")), expected[i])
    (out / "keep.txt").write_text("mine")
    with pytest.raises(ConfigurationError, match="also holds 'keep.txt'"):
        gen.generate(ckpt, 10, str(out), seed=5, overwrite=True)
    assert (out / "keep.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pngs"]  # no temporary folder left


# ---------------------------------------------------------------- folders: --encode (and the modes' options)
class _Encoding(SGAN):
    """A stand-in for an encoding model (BiGAN): ``generate --encode`` only needs ``encode(x) -> [N, d]``."""

    def encode(self, x):
        return x.flatten(1)[:, :3] * 2


def _digit_folder(folder, count: int = 5, size: int = 16):
    from PIL import Image

    from ganmods.data.digits import load_digits
    from ganmods.images import to_uint8

    (folder / "sub").mkdir(parents=True)
    for i, img in enumerate(to_uint8(load_digits("held_out", image_size=size)[:count])):
        Image.fromarray(img[0].numpy(), "L").save(folder / ("sub" if i == count - 1 else "") / f"d{i}.png")
    return folder


@pytest.fixture(scope="module")
def encoding_ckpt(tmp_path_factory):
    from ganmods.nets import DCGANCritic, DCGANGenerator

    tmp = tmp_path_factory.mktemp("encoding")
    torch.manual_seed(0)
    model = _Encoding(DCGANGenerator(latent_dim=8, image_size=16, channels=1, width=4),
                      DCGANCritic(image_size=16, channels=1, width=4), max_generator_steps=1)
    trainer = fast_trainer(tmp)
    trainer.fit(model, datamodule=GANDataModule("digits", image_size=16, batch_size=8, batches_per_epoch=2))
    trainer.save_checkpoint(tmp / "enc.ckpt")
    return str(tmp / "enc.ckpt")


def test_encode_writes_the_codes_of_a_folder(encoding_ckpt, tmp_path, capsys):
    from ganmods.data.folder import find_images, read_images
    from ganmods.images import from_uint8

    folder = _digit_folder(tmp_path / "in")
    expected = from_uint8(read_images(find_images(folder), 16, 1)).flatten(1)[:, :3] * 2
    assert main(["generate", "--ckpt", encoding_ckpt, "--encode", str(folder), "--out", str(tmp_path / "z.npy")]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "z.npy")
    assert np.allclose(np.load(tmp_path / "z.npy"), expected.numpy(), atol=1e-6)
    assert main(["generate", "--ckpt", encoding_ckpt, "--encode", str(folder), "--out", str(tmp_path / "z.pt")]) == 0
    assert torch.allclose(torch.load(tmp_path / "z.pt"), expected, atol=1e-6)
    assert main(["generate", "--ckpt", encoding_ckpt, "--encode", str(folder), "--out", str(tmp_path / "z.csv")]) == 0
    lines = (tmp_path / "z.csv").read_text().splitlines()
    assert lines[0] == "file,z0,z1,z2" and [ln.split(",")[0] for ln in lines[1:]] == [
        "d0.png", "d1.png", "d2.png", "d3.png", "sub/d4.png"]  # the folder's (sorted) file order
    assert np.allclose(np.loadtxt(tmp_path / "z.csv", delimiter=",", skiprows=1, usecols=(1, 2, 3)), expected.numpy(),
                       atol=1e-6)
    assert main(["generate", "--ckpt", encoding_ckpt, "--encode", str(folder), "--out", str(tmp_path / "z.npy")]) == 2
    assert "--out must be a path that does not exist" in capsys.readouterr().err


FOLDER_MODE_CASES = [
    (["--direction", "AB", "--out", "o"], "--input must be given with --direction"),
    (["--input", "{folder}", "--out", "o"], "--direction must be given with --input"),
    (["--direction", "AB", "--input", "{folder}", "--n", "5", "--out", "o"], "--n must be left out with --direction"),
    (["--encode", "{folder}", "--grid", "--out", "o.npy"], "--grid must be left out with --encode"),
    (["--encode", "{folder}", "--direction", "AB", "--out", "o"], "--encode must not be given with --direction"),
    (["--encode", "{folder}", "--input", "{folder}", "--out", "o.npy"], "--input must be left out with --encode"),
    (["--out", "o.npy"], "--n must be given (the number of samples), unless --direction or --encode is"),
    (["--encode", "{folder}", "--out", "o.png"], "--out must end in .npy, .pt or .csv for the codes of a folder"),
    (["--encode", "{tmp}/none", "--out", "o.npy"], "--encode must be an existing folder of images"),
    (["--encode", "{folder}", "--out", "o.npy"], "--ckpt must be a checkpoint of an encoding model (with encode(x)"),
    (["--direction", "AB", "--input", "{folder}", "--out", "o"], "--ckpt must be a checkpoint of a translation model"),
    (["--direction", "AB", "--input", "{folder}", "--out", "o.npy"], "--out must be a folder for the translations"),
]


@pytest.mark.parametrize("args, fragment", FOLDER_MODE_CASES, ids=[c[1][:40] for c in FOLDER_MODE_CASES])
def test_folder_modes_refuse_options_of_other_modes(digits_ckpt, args, fragment, tmp_path, capsys):
    folder = _digit_folder(tmp_path / "in")
    fill = {"folder": str(folder), "tmp": str(tmp_path)}
    args = [str(tmp_path / a) if a.startswith("o") else a.format(**fill) for a in args]
    assert main(["generate", "--ckpt", digits_ckpt[0], *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ganmods: error: ") and fragment in err and "\n" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]  # nothing written
