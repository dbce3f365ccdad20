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
