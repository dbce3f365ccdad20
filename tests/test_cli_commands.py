"""Every `ganmods` command through the real command line: help, version, list, test, predict, validate,
a GAN-sized fast_dev_run, the progress bar, loggers and shipped configs by short name."""

from __future__ import annotations

import glob
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import ganmods
from ganmods.cli import CONFIG_DIR, COMMANDS, GANCLI, config_path, explicit_model_args, main, registries
from ganmods.progress import GANProgressBar, human_count, progress_values
from tests.test_cli import _tiny

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tiny(tmp_path, name: str = "run", steps: int = 3, bar: bool = False) -> list[str]:
    """test_cli's tiny run, with a budget of ``steps`` and the progress bar on or off."""
    args = [a for a in _tiny(tmp_path, name) if not a.startswith(("--model.init_args.max_generator_steps=",
                                                                   "--trainer.enable_progress_bar="))]
    return [f"--model.init_args.max_generator_steps={steps}", *args,
            f"--trainer.enable_progress_bar={'true' if bar else 'false'}"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny SGAN fit (4 generator steps) shared by the scoring and sampling tests."""
    root = tmp_path_factory.mktemp("trained")
    assert main(["fit", "-c", "toy/sgan", *tiny(root, "sgan", steps=4)]) == 0
    return root, str(root / "sgan" / "version_0" / "checkpoints" / "last.ckpt")


def test_help_lists_every_command_and_version_works(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("fit", "validate", "test", "predict", "generate", "compare", "list"):
        assert f"\n  {command} " in out
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"ganmods {ganmods.__version__}"
    assert set(COMMANDS) == {"fit", "validate", "test", "predict", "generate", "compare", "list"}


def test_console_help_and_version_in_a_fresh_process():
    env = dict(os.environ, WANDB_MODE="disabled", PYTHONPATH=ROOT)
    out = subprocess.run([sys.executable, "-m", "ganmods", "--help"], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0 and "  list " in out.stdout and "  generate " in out.stdout
    out = subprocess.run([sys.executable, "-m", "ganmods", "--version"], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0 and out.stdout.strip() == "ganmods 0.1.0"


def test_list_prints_the_registries(capsys):
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [ln.split(" ")[0] for ln in lines] == ["losses", "variants", "datasets", "nets", "regularizers", "configs"]
    by_name = {ln.split(" ")[0]: ln for ln in lines}
    assert "rahinge" in by_name["losses"] and "wasserstein" in by_name["losses"]
    assert "WGANGP" in by_name["variants"] and "ring8" in by_name["datasets"] and "folder" in by_name["datasets"]
    assert "MLPCritic" in by_name["nets"] and "R1" in by_name["regularizers"] and "toy/sgan" in by_name["configs"]
    assert "Regularizer," not in by_name["regularizers"]  # the base class is not a choice
    assert main(["list", "datasets"]) == 0
    assert capsys.readouterr().out.startswith("datasets (data.dataset): celeba, cifar10, digits")
    assert {"FGAN", "GANModule", "RaGAN", "SGAN", "WGAN", "WGANGP", "CycleGAN"} <= set(registries()["variants"])


def test_list_unknown_registry_is_one_line(capsys):
    assert main(["list", "optimizers"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["ganmods: error: registry must be one of ['losses', 'variants', 'datasets', 'nets', 'regularizers', "
                   "'configs']; got 'optimizers'."]


def test_test_scores_a_checkpoint_and_prints_the_table(trained, capsys):
    root, ckpt = trained
    capsys.readouterr()
    assert main(["test", "-c", "toy/sgan", *tiny(root, "scored"), "--ckpt_path", ckpt]) == 0
    out = capsys.readouterr().out
    assert "Test metric" in out
    for name in ("test/modes", "test/hq", "test/reverse_kl", "test/d_adv", "test/js_estimate"):
        assert name in out
    module = ganmods.load_checkpoint(ckpt)
    expected = GANCLI(args=["-c", "toy/sgan", *tiny(root, "ref")], run=False).datamodule.evaluate(module)
    row = next(ln for ln in out.splitlines() if "test/modes" in ln)
    assert float(row.split()[-1]) == pytest.approx(expected["modes"])


def test_validate_prints_the_validation_table(trained, capsys):
    root, ckpt = trained
    capsys.readouterr()
    assert main(["validate", "-c", "toy/sgan", *tiny(root, "validated"), "--ckpt_path", ckpt]) == 0
    out = capsys.readouterr().out
    assert "Validate metric" in out and "val/modes" in out and "val/critic_gap" in out


def test_predict_writes_the_samples_of_sample_n_seed(trained, tmp_path, capsys):
    root, ckpt = trained
    out = tmp_path / "pred"
    args = ["predict", "-c", "toy/sgan", *tiny(root, "pred"), "--ckpt_path", ckpt, "--n", "10", "--seed", "3",
            "--out", str(out)]
    assert main(args) == 0
    samples = np.load(out / "samples.npy")
    expected = ganmods.load_checkpoint(ckpt).sample(10, seed=3).numpy()
    assert samples.shape == (10, 2)
    np.testing.assert_allclose(samples, expected, rtol=0, atol=1e-6)
    capsys.readouterr()
    assert main(args) == 2  # an existing samples.npy is not replaced without --overwrite
    assert "out must not already hold samples.npy" in capsys.readouterr().err
    assert main([*args, "--overwrite", "true", "--seed", "4"]) == 0
    assert not np.allclose(np.load(out / "samples.npy"), expected)


def test_predict_default_folder_is_beside_the_checkpoints(trained):
    root, ckpt = trained
    assert main(["predict", "-c", "toy/sgan", *tiny(root, "pred2"), "--ckpt_path", ckpt, "--n", "5"]) == 0
    assert np.load(root / "sgan" / "version_0" / "predictions" / "samples.npy").shape == (5, 2)


def test_generate_samples_the_same_checkpoint(trained, tmp_path):
    _, ckpt = trained
    out = tmp_path / "g.npy"
    assert main(["generate", "--ckpt", ckpt, "--n", "6", "--out", str(out)]) == 0
    assert np.load(out).shape == (6, 2)


def test_fast_dev_run_takes_a_generator_step_and_validates(tmp_path, capsys):
    """n_critic 5: one Lightning batch is one critic step, so fast_dev_run must run five of them."""
    cli = GANCLI(args=["fit", "-c", "toy/wgan", *tiny(tmp_path, "dev", steps=100), "--trainer.fast_dev_run=true",
                       f"--trainer.default_root_dir={tmp_path}"])
    assert (cli.model.generator_steps, cli.model.critic_steps) == (1, 5)
    assert "val/modes" in cli.trainer.callback_metrics  # validation ran
    out = capsys.readouterr().out
    assert "no checkpoints or logs written" in out and "checkpoints in" not in out
    assert not glob.glob(str(tmp_path / "**" / "*.ckpt"), recursive=True)


def test_fast_dev_run_k_counts_generator_steps(tmp_path):
    cli = GANCLI(args=["fit", "-c", "toy/wgan_gp", *tiny(tmp_path, "dev"), "--trainer.fast_dev_run=3",
                       "--data.steps_per_batch=2", f"--trainer.default_root_dir={tmp_path}"])
    assert (cli.model.generator_steps, cli.model.critic_steps) == (3, 6)


def test_progress_bar_counts_generator_steps_of_the_budget(tmp_path, capsys):
    cli = GANCLI(args=["fit", "-c", "toy/wgan_gp", *tiny(tmp_path, "bar", steps=4, bar=True)])
    bar = cli.trainer.progress_bar_callback
    assert isinstance(bar, GANProgressBar)
    assert bar.train_progress_bar.total == 4 and bar.train_progress_bar.n == 4
    text = capsys.readouterr().out
    assert "generator steps" in text and "images=128" in text and "g_loss=" in text and "d_loss=" in text


def test_progress_values_read_the_logged_losses():
    class Trainer:
        callback_metrics = {"train/g_loss": torch.tensor(0.5), "train/d_loss": torch.tensor(-1.25), "other": 3}

    class Module:
        images_seen = 1_540_000

    assert progress_values(Trainer(), Module()) == {"images": "1.54M", "g_loss": "0.5", "d_loss": "-1.25"}
    assert [human_count(n) for n in (0, 999, 12_345, 2_000_000_000)] == ["0", "999", "12.3k", "2G"]


def test_tensorboard_logger_without_the_package_is_one_line(tmp_path, capsys, monkeypatch):
    import ganmods.cli as cli_module

    monkeypatch.setattr(cli_module, "_tensorboard_installed", lambda: False)
    args = ["fit", "-c", "toy/sgan", *tiny(tmp_path)[:-3], "--trainer.logger=TensorBoardLogger",
            f"--trainer.logger.init_args.save_dir={tmp_path}"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == ("ganmods: error: trainer.logger TensorBoardLogger needs the tensorboard package (pip install "
                       "tensorboard); got it not installed (the default CSVLogger and WandbLogger need nothing more).")


def test_shipped_configs_by_short_name(tmp_path, monkeypatch):
    assert os.path.isdir(CONFIG_DIR) and CONFIG_DIR.endswith(os.path.join("ganmods", "configs"))
    full = os.path.join(CONFIG_DIR, "toy", "sgan.yaml")
    assert config_path("toy/sgan") == config_path("toy/sgan.yaml") == full
    assert config_path("compare/ring8") == os.path.join(CONFIG_DIR, "compare", "ring8.yaml")
    assert config_path("no/such") == "no/such"
    # from a folder without a configs/ of its own, the README's paths still find the shipped file
    monkeypatch.chdir(tmp_path)
    assert config_path("configs/toy/sgan.yaml") == full
    cli = GANCLI(args=["-c", "toy/wgan_gp", *tiny(tmp_path)], run=False)
    assert type(cli.model).__name__ == "WGANGP"


def test_clone_configs_folder_is_the_package_folder():
    assert os.path.samefile(os.path.join(ROOT, "configs"), CONFIG_DIR)


def test_explicit_model_args_are_nested_and_typed():
    argv = ["fit", "-c", "x.yaml", "--model.init_args.max_generator_steps", "12",
            "--model.init_args.optimizer_d.init_args.lr=1e-4", "--data.batch_size=3", "--model.class_path=ganmods.SGAN"]
    assert explicit_model_args(argv) == {"max_generator_steps": 12, "optimizer_d": {"init_args": {"lr": 1e-4}}}
