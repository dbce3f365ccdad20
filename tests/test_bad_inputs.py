"""The bad-input catalogue: every case stops before training with one line, `ganmods: error: ...`
(argument, allowed, given), exit status 2, no traceback, and nothing written before is lost."""

from __future__ import annotations

import os

import pytest
import torch

from ganmods.cli import main

CONFIGS = os.path.join(os.path.dirname(__file__), "..", "configs", "toy")
SGAN, WGAN, WGANGP = (os.path.join(CONFIGS, f"{n}.yaml") for n in ("sgan", "wgan", "wgan_gp"))

CASES = [
    # (config, overrides, fragment of the one-line message)
    (WGANGP, ["--model.init_args.n_critic=0"], "n_critic must be an integer >= 1; got 0"),
    (WGANGP, ["--model.init_args.gp_weight=-1"], "gp_weight must be a finite number >= 0; got -1.0"),
    (WGAN, ["--model.init_args.clip=-0.01"], "clip must be a finite number >= 0; got -0.01"),
    (SGAN, ["--model=ganmods.GANModule", "--model.init_args.loss=bogus"], "loss must be one of ["),
    (SGAN, ["--data.dataset=moons"], "dataset must be one of ['grid25', 'ring8', 'swissroll', 'celeba', 'cifar10', 'digits', 'fashion_mnist', 'folder', 'mnist']; got 'moons'"),
    (SGAN, ["--model.init_args.generator.init_args.out_dim=3"], "generator output shape must equal the data shape (2,)"),
    (WGANGP, ["--model.init_args.discriminator.init_args.norm=batch"], "must not contain BatchNorm"),
    (SGAN, ["--model.init_args.discriminator.init_args.norm=group"], "norm must be one of ['none', 'layer', 'batch', 'spectral']"),
    (SGAN, ["--model.init_args.generator.init_args.hidden=0"], "hidden must be an integer >= 1; got 0"),
    (SGAN, ["--model.init_args.latent_distribution=cauchy"], "latent_distribution must be one of ['normal', 'uniform']"),
    (SGAN, ["--model.init_args.ema_decay=1.5"], "ema_decay must be a number in [0, 1) or null; got 1.5"),
    (SGAN, ["--model.init_args.max_generator_steps=0"], "max_generator_steps must be an integer >= 1; got 0"),
    (SGAN, ["--model.init_args.warmup_n_critic=0"], "warmup_n_critic must be an integer >= 1; got 0"),
    (SGAN, ["--model.init_args.grad_norm_interval=-1"], "grad_norm_interval must be an integer >= 0; got -1"),
    (SGAN, ["--model=ganmods.RaGAN", "--model.init_args.kind=rabogus"], "kind must be one of ['rsgan', 'rasgan', 'ralsgan', 'rahinge']"),
    (SGAN, ["--model=ganmods.FGAN", "--model.init_args.divergence=chi"], "divergence must be one of ["),
    (SGAN, ["--data.batch_size=0"], "batch_size must be an integer >= 1; got 0"),
    (SGAN, ["--data.batches_per_epoch=-1"], "batches_per_epoch must be an integer >= 1; got -1"),
    (SGAN, ["--data.val_size=0"], "val_size must be an integer >= 1; got 0"),
    (SGAN, ["--data.eval_samples=0"], "eval_samples must be an integer >= 1; got 0"),
    (SGAN, ["--data.dataset_options={std: -1}"], "std must be a finite number > 0; got -1"),
    (SGAN, ["--data.dataset_options={radius_typo: 2}"], "dataset_options for 'ring8'"),
    (SGAN, ["--model.init_args.foo=3"], "Option 'foo' is not accepted"),
    (SGAN, ["--model.init_args.n_critic=abc"], "Expected a <class 'int'>. Got value: abc"),
    (SGAN, ["--model.init_args.saturating=maybe"], 'Parser key "saturating"'),
    (SGAN, ["--trainer.max_epochs=x"], 'Parser key "trainer.max_epochs"'),
    (None, ["--config=/nonexistent/run.yaml"], "File does not exist"),
    (SGAN, ["--model.init_args.regularizers=[{class_path: ganmods.regularizers.InstanceNoise, init_args: {schedule: cosine}}]"],
     "schedule must be one of ['constant', 'linear', 'exponential']; got 'cosine'"),
]


def _tiny(tmp_path) -> list[str]:
    return ["--model.init_args.max_generator_steps=2", "--data.batches_per_epoch=4", "--data.batch_size=8",
            "--model.init_args.generator.init_args.hidden=8", "--model.init_args.discriminator.init_args.hidden=8",
            f"--trainer.logger.init_args.save_dir={tmp_path}", "--trainer.enable_progress_bar=false"]


@pytest.mark.parametrize("config, overrides, fragment", CASES, ids=[c[2][:40] for c in CASES])
def test_bad_input_gives_one_clear_line(config, overrides, fragment, tmp_path, capsys):
    keep = tmp_path / "earlier_result.txt"
    keep.write_text("written before")
    args = ["fit", *(["-c", config] if config else []), *(_tiny(tmp_path) if config else []), *overrides]
    try:
        code = main(args)
    except SystemExit as exit_info:  # parser errors exit directly
        code = exit_info.code
    assert code == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert err, "no message"
    assert err[-1].startswith("ganmods: error: ") and fragment in err[-1], err[-1]
    assert not any("Traceback" in line for line in err)
    assert keep.read_text() == "written before"
    assert not list(tmp_path.rglob("*.ckpt"))


# ---------------------------------------------------------------- image data (a 1-channel 16 px DCGAN on digits)
DCGAN = ["fit", "--model=ganmods.SGAN", "--model.init_args.max_generator_steps=2",
         "--model.init_args.generator=ganmods.nets.DCGANGenerator", "--model.init_args.generator.init_args.latent_dim=8",
         "--model.init_args.generator.init_args.image_size=16", "--model.init_args.generator.init_args.channels=1",
         "--model.init_args.generator.init_args.width=4", "--model.init_args.discriminator=ganmods.nets.DCGANCritic",
         "--model.init_args.discriminator.init_args.image_size=16", "--model.init_args.discriminator.init_args.channels=1",
         "--model.init_args.discriminator.init_args.width=4", "--data.dataset=digits", "--data.image_size=16",
         "--data.batch_size=2", "--data.batches_per_epoch=2", "--data.val_size=8", "--trainer.accelerator=cpu",
         "--trainer.max_epochs=-1", "--trainer.enable_progress_bar=false"]
FOLDER = ["--data.dataset=folder", "--data.channels=1", "--data.dataset_options={{held_out_fraction: 0.5}}"]  # formatted below

IMAGE_CASES = [
    # (overrides, with {tmp} for this test's folder and {files} for the shared files, fragment)
    (["--data.channels=3"], "generator output shape must equal the data shape (3, 16, 16) (per sample); got (1, 16, 16)"),
    (["--model.init_args.discriminator.init_args.channels=3"], "discriminator input must have shape [B, 3, 16, 16]; got [2, 1, 16, 16]"),
    (["--data.image_size=24"], "generator output shape must equal the data shape (1, 24, 24) (per sample); got (1, 16, 16)"),
    (["--model.init_args.generator.init_args.image_size=24"], "image_size must be one of [16, 32, 64, 128]; got 24"),
    (["--data.channels=2"], "channels must be 1 (grey) or 3 (RGB); got 2"),
    (["--data.image_size=4"], "image_size must be an integer >= 8 for dataset 'digits'; got 4"),
    (["--data.root={tmp}"], "root must be unset for dataset 'digits'"),
    (["--data.download=true"], "download must be false for dataset 'digits' (nothing to download); got True"),
    ([*FOLDER, "--data.root={files}/empty"], "root must be a folder holding image files"),
    ([*FOLDER, "--data.root={files}/unreadable"], "image file '{files}/unreadable/bad.png' could not be read"),
    ([*FOLDER, "--data.root={files}/missing"], "root must be an existing folder of images for dataset 'folder'; got '{files}/missing'"),
    ([*FOLDER, "--data.root={files}/two", "--data.batch_size=8"], "batch_size must be at most the number of training images"),
    (["--data.dataset=cifar10", "--data.root={files}/empty"], "root must hold the cifar10 files; got '{files}/empty', where data_batch_1"),
    # checkpoints passed to --ckpt_path
    (["--ckpt_path={files}/none.ckpt"], "ckpt_path must be an existing checkpoint file; got '{files}/none.ckpt' (no such file)."),
    (["--ckpt_path={files}/truncated.ckpt"], "ckpt_path must be a readable ganmods checkpoint; got '{files}/truncated.ckpt', which could not be read (truncated or corrupt?)"),
    (["--ckpt_path={files}/foreign.ckpt"], "ckpt_path must be a checkpoint written by ganmods; got '{files}/foreign.ckpt'"),
    (["--ckpt_path={files}/wgan.ckpt"], "ckpt_path must be a checkpoint of the configured model ganmods.SGAN; got '{files}/wgan.ckpt', written by ganmods.variants.WGAN"),
]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Shared inputs: image folders (empty, with an unreadable file, too small) and checkpoints (one of WGAN,
    a truncated copy, a foreign file)."""
    import numpy as np
    from PIL import Image

    from ganmods import WGAN, GANDataModule
    from tests.conftest import fast_trainer, tiny_nets

    root = tmp_path_factory.mktemp("inputs")
    (root / "empty").mkdir()
    for name, count in (("unreadable", 4), ("two", 2)):
        (root / name).mkdir()
        for i in range(count):
            Image.fromarray((np.random.default_rng(i).random((20, 20)) * 255).astype("uint8")).save(root / name / f"{i}.png")
    (root / "unreadable" / "bad.png").write_bytes(b"not an image")
    model = WGAN(**tiny_nets(), clip=0.01, max_generator_steps=1)
    trainer = fast_trainer(root)
    trainer.fit(model, datamodule=GANDataModule(batch_size=8, batches_per_epoch=2))
    trainer.save_checkpoint(root / "wgan.ckpt")
    (root / "truncated.ckpt").write_bytes((root / "wgan.ckpt").read_bytes()[:3000])
    torch.save({"weights": torch.zeros(2)}, root / "foreign.ckpt")
    return root


def _run(args, capsys) -> str:
    try:
        code = main(args)
    except SystemExit as exit_info:
        code = exit_info.code
    assert code == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert err, "no message"
    assert not any("Traceback" in line for line in err)
    return err[-1]


@pytest.mark.parametrize("overrides, fragment", IMAGE_CASES, ids=[c[1][:40] for c in IMAGE_CASES])
def test_bad_image_or_checkpoint_input_gives_one_clear_line(overrides, fragment, files, tmp_path, capsys):
    keep = tmp_path / "earlier_result.txt"
    keep.write_text("written before")
    fill = {"tmp": str(tmp_path), "files": str(files)}
    args = [*DCGAN, f"--trainer.default_root_dir={tmp_path}", *(a.format(**fill) for a in overrides)]
    line = _run(args, capsys)
    assert line.startswith("ganmods: error: ") and fragment.format(**fill) in line, line
    assert keep.read_text() == "written before"
    assert not list(tmp_path.rglob("*.ckpt"))


# ---------------------------------------------------------------- ganmods generate
GENERATE_CASES = [
    (["--ckpt", "{files}/truncated.ckpt", "--out", "{tmp}/s.npy"], "path must be a readable ganmods checkpoint"),
    (["--ckpt", "{files}/foreign.ckpt", "--out", "{tmp}/s.npy"], "path must be a checkpoint written by ganmods"),
    (["--ckpt", "{files}/wgan.ckpt", "--out", "{tmp}/earlier_result.txt/s.npy"], "out must be in a writable directory"),
    (["--ckpt", "{files}/wgan.ckpt", "--out", "{tmp}/s.jpg"], "out must be a directory or end in one of"),
]


@pytest.mark.parametrize("overrides, fragment", GENERATE_CASES, ids=[c[1][:40] for c in GENERATE_CASES])
def test_bad_generate_input_gives_one_clear_line(overrides, fragment, files, tmp_path, capsys):
    keep = tmp_path / "earlier_result.txt"
    keep.write_text("written before")
    fill = {"tmp": str(tmp_path), "files": str(files)}
    line = _run(["generate", "--n", "4", *(a.format(**fill) for a in overrides)], capsys)
    assert line.startswith("ganmods: error: ") and fragment in line, line
    assert keep.read_text() == "written before"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["earlier_result.txt"]


def test_the_catalogue_has_at_least_25_cases():
    assert len(CASES) + len(IMAGE_CASES) + len(GENERATE_CASES) >= 25
    assert len(IMAGE_CASES) >= 10
