"""The command line: shipped configs train, write last.ckpt and load; bad input prints one line."""

from __future__ import annotations

import glob
import os
import subprocess
import sys

import pytest
import torch

import ganmods
from ganmods.cli import GANCLI, main

TOY_CONFIGS = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "configs", "toy", "*.yaml")))
EXPECTED = {
    "sgan": ("SGAN", "non_saturating", []),
    "sgan_saturating": ("SGAN", "saturating", []),
    "wgan": ("WGAN", "wasserstein", ["clip"]),
    "wgan_gp": ("WGANGP", "wasserstein", ["gp"]),
    "rsgan": ("RaGAN", "rsgan", ["gp"]),
    "rasgan": ("RaGAN", "rasgan", []),
    "ralsgan": ("RaGAN", "ralsgan", []),
    "rahinge": ("RaGAN", "rahinge", ["gp"]),
    "rasgan_gp": ("RaGAN", "rasgan", ["gp"]),
    "fgan_js": ("FGAN", "fgan_js", []),
    "sgan_saturating_noise": ("SGAN", "saturating", ["noise"]),
}


def _tiny(tmp_path, name: str = "run") -> list[str]:
    return [
        "--model.init_args.max_generator_steps=3",
        "--model.init_args.generator.init_args.hidden=8",
        "--model.init_args.discriminator.init_args.hidden=8",
        "--data.batch_size=16",
        "--data.batches_per_epoch=10",
        "--data.eval_samples=200",
        "--data.val_size=64",
        f"--trainer.logger.init_args.save_dir={tmp_path}",
        f"--trainer.logger.init_args.name={name}",
        "--trainer.enable_progress_bar=false",
    ]


def test_every_variant_has_a_toy_config():
    assert sorted(os.path.splitext(os.path.basename(p))[0] for p in TOY_CONFIGS) == sorted(EXPECTED)


@pytest.mark.parametrize("config", TOY_CONFIGS, ids=lambda p: os.path.basename(p))
def test_toy_config_trains_writes_last_ckpt_and_loads(config, tmp_path):
    name = os.path.splitext(os.path.basename(config))[0]
    cls, loss, regs = EXPECTED[name]
    assert main(["fit", "-c", config, *_tiny(tmp_path, name)]) == 0
    (ckpt,) = glob.glob(str(tmp_path / name / "version_0" / "checkpoints" / "last.ckpt"))
    module = ganmods.load_checkpoint(ckpt)
    assert type(module).__name__ == cls
    assert module.loss.name == loss
    assert sorted(r.name for r in module.regularizers) == sorted(regs)
    assert module.generator_steps == 3 and not module.training
    samples = module.sample(7, seed=0)
    assert samples.shape == (7, 2) and torch.isfinite(samples).all()
    assert glob.glob(str(tmp_path / name / "version_0" / "plots" / "*.png"))


def test_grid25_is_one_data_override(tmp_path):
    cli = GANCLI(args=["-c", TOY_CONFIGS[0], "--data.dataset=grid25", *_tiny(tmp_path)], run=False)
    assert cli.datamodule.distribution.num_modes == 25


def test_steps_per_batch_is_one_data_flag_with_the_same_result(tmp_path):
    """`--data.steps_per_batch` groups critic steps per Lightning batch; the trained weights do not change."""
    loaded = []
    for k in (1, 5):
        name = f"k{k}"
        assert main(["fit", "-c", TOY_CONFIGS[0], *_tiny(tmp_path, name), f"--data.steps_per_batch={k}"]) == 0
        (ckpt,) = glob.glob(str(tmp_path / name / "version_0" / "checkpoints" / "last.ckpt"))
        loaded.append(ganmods.load_checkpoint(ckpt))
    assert loaded[1].generator_steps == 3
    for (key, a), b in zip(loaded[0].state_dict().items(), loaded[1].state_dict().values()):
        assert torch.equal(a, b), key


def test_rerun_in_same_folder_does_not_fail_on_existing_config(tmp_path):
    args = ["fit", "-c", TOY_CONFIGS[0], *_tiny(tmp_path), "--trainer.logger.init_args.version=fixed"]
    assert main(args) == 0
    assert main(args) == 0  # pitfall 25: config.yaml exists -> overwritten, not an error


@pytest.mark.parametrize(
    "override, fragment",
    [
        ("--model.init_args.n_critic=0", "n_critic must be an integer >= 1; got 0."),
        ("--model.init_args.gp_weight=-1", "gp_weight must be a finite number >= 0; got -1.0."),
        ("--data.dataset=moons", "dataset must be one of ['grid25', 'ring8', 'swissroll', 'celeba', 'cifar10', 'digits', 'digits_inverted', 'fashion_mnist', 'folder', 'mnist', 'mnist5k', 'two_folders']; got 'moons'."),
        ("--model.init_args.generator.init_args.out_dim=3", "generator output shape must equal the data shape (2,)"),
        ("--model.init_args.discriminator.init_args.norm=batch", "must not contain BatchNorm"),
    ],
)
def test_bad_input_prints_one_line_and_exits_2(override, fragment, tmp_path, capsys):
    config = os.path.join(os.path.dirname(TOY_CONFIGS[0]), "wgan_gp.yaml")
    assert main(["fit", "-c", config, *_tiny(tmp_path), override]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("ganmods: error: ") and fragment in err[-1]
    assert not any("Traceback" in line for line in err)
    assert not glob.glob(str(tmp_path / "run" / "*" / "checkpoints" / "*.ckpt"))


def test_unknown_loss_from_cli_lists_valid_names(tmp_path, capsys):
    config = os.path.join(os.path.dirname(TOY_CONFIGS[0]), "sgan.yaml")
    args = ["fit", "-c", config, *_tiny(tmp_path), "--model=ganmods.GANModule", "--model.init_args.loss=bogus"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "loss must be one of [" in err and "'rahinge'" in err and "got 'bogus'" in err


def test_python_dash_m_is_the_console_script():
    out = subprocess.run([sys.executable, "-m", "ganmods", "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "fit" in out.stdout


@pytest.mark.parametrize(
    "override, fragment",
    [
        ("--model.init_args.foo=3", "Option 'foo' is not accepted"),
        ("--model.init_args.n_critic=abc", "Expected a <class 'int'>. Got value: abc"),
        ("--trainer.max_epochs=x", 'Parser key "trainer.max_epochs"'),
        ("--config=/nonexistent/run.yaml", "File does not exist"),
    ],
)
def test_parser_errors_are_one_line(override, fragment, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "-c", TOY_CONFIGS[0], *_tiny(tmp_path), override])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ganmods: error: ") and fragment in err[0]


def test_wandb_is_one_flag_away(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "disabled")  # pitfall 24: offline would still start the service
    wandb_cfg = os.path.join(os.path.dirname(TOY_CONFIGS[0]), "..", "loggers", "wandb.yaml")
    args = ["-c", TOY_CONFIGS[0], "-c", wandb_cfg, *_tiny(tmp_path)[:-3], f"--trainer.logger.init_args.save_dir={tmp_path}"]
    cli = GANCLI(args=args, run=False)
    from lightning.pytorch.loggers import WandbLogger

    assert isinstance(cli.trainer.logger, WandbLogger)
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    assert cli.model.generator_steps == 3
    cli.finish_loggers()  # the next wandb test must get its own run
