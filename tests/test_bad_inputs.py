"""The bad-input catalogue: every case stops before training with one line, `ganmods: error: ...`
(argument, allowed, given), exit status 2, no traceback, and nothing written before is lost."""

from __future__ import annotations

import os

import pytest

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
    (SGAN, ["--model.init_args.log_interval=0"], "log_interval must be an integer >= 1; got 0"),
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


def test_the_catalogue_has_at_least_25_cases():
    assert len(CASES) >= 25
