"""Resuming through the command line: an explicit budget extends the run, bitwise equal to an uninterrupted
run; a budget below the checkpoint's progress is refused with one line."""

from __future__ import annotations

from pathlib import Path

import torch
import yaml

from ganmods.cli import main


def _config(tmp_path: Path, name: str, steps: int) -> Path:
    config = {
        "seed_everything": 5,
        "model": {
            "class_path": "ganmods.WGANGP",
            "init_args": {
                "max_generator_steps": steps, "n_critic": 2, "gp_weight": 0.5, "ema_decay": 0.9,
                "generator": {"class_path": "ganmods.nets.MLPGenerator", "init_args": {"latent_dim": 2, "hidden": 16, "depth": 2}},
                "discriminator": {"class_path": "ganmods.nets.MLPCritic", "init_args": {"hidden": 16, "depth": 2}},
            },
        },
        "data": {"batch_size": 16, "batches_per_epoch": 4, "val_size": 32, "eval_samples": 64},
        "trainer": {"accelerator": "cpu", "max_epochs": -1, "enable_progress_bar": False, "enable_model_summary": False,
                    "default_root_dir": str(tmp_path / name), "logger": False},
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _last(tmp_path: Path, name: str) -> dict:
    return torch.load(tmp_path / name / "checkpoints" / "last.ckpt", weights_only=True)


def test_resume_with_a_larger_budget_equals_an_uninterrupted_run(tmp_path):
    assert main(["fit", "-c", str(_config(tmp_path, "straight", 7))]) == 0
    assert main(["fit", "-c", str(_config(tmp_path, "first", 3))]) == 0
    first = tmp_path / "first" / "checkpoints" / "last.ckpt"
    assert _last(tmp_path, "first")["ganmods"]["counters"]["generator_steps"] == 3
    # the same config (budget 3) as the interrupted run: only the command line raises the budget
    args = ["fit", "-c", str(_config(tmp_path, "extended", 3)), "--ckpt_path", str(first),
            "--model.init_args.max_generator_steps", "7"]
    assert main(args) == 0
    a, b = _last(tmp_path, "straight"), _last(tmp_path, "extended")
    assert a["ganmods"]["counters"] == b["ganmods"]["counters"]
    assert b["ganmods"]["counters"]["generator_steps"] == 7 and b["ganmods"]["counters"]["critic_steps"] == 14
    assert b["hyper_parameters"]["max_generator_steps"] == 7
    for key, value in a["state_dict"].items():
        assert torch.equal(value, b["state_dict"][key]), key
    for sa, sb in zip(a["optimizer_states"], b["optimizer_states"]):
        for pa, pb in zip(sa["state"].values(), sb["state"].values()):
            for key in pa:
                assert torch.equal(torch.as_tensor(pa[key]), torch.as_tensor(pb[key])), key


def test_resume_without_a_new_budget_keeps_the_checkpoints(tmp_path):
    """Without an explicit value the checkpoint's hyperparameters win over the config file's."""
    assert main(["fit", "-c", str(_config(tmp_path, "first", 2))]) == 0
    first = tmp_path / "first" / "checkpoints" / "last.ckpt"
    assert main(["fit", "-c", str(_config(tmp_path, "again", 9)), "--ckpt_path", str(first)]) == 0
    assert _last(tmp_path, "again")["ganmods"]["counters"]["generator_steps"] == 2


def test_resume_with_a_smaller_budget_is_refused(tmp_path, capsys):
    assert main(["fit", "-c", str(_config(tmp_path, "first", 3))]) == 0
    first = tmp_path / "first" / "checkpoints" / "last.ckpt"
    args = ["fit", "-c", str(_config(tmp_path, "less", 3)), "--ckpt_path", str(first),
            "--model.init_args.max_generator_steps=2"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (f"ganmods: error: max_generator_steps must be at least the 3 generator steps of the checkpoint "
                       f"{str(first)!r} when resuming (raise it to train further); got 2.")
    assert not (tmp_path / "less").exists()


def test_resume_with_another_network_width_is_refused_and_the_same_width_accepted(tmp_path, capsys):
    assert main(["fit", "-c", str(_config(tmp_path, "first", 2))]) == 0
    first = tmp_path / "first" / "checkpoints" / "last.ckpt"
    wider = ["fit", "-c", str(_config(tmp_path, "wider", 2)), "--ckpt_path", str(first),
             "--model.init_args.generator.init_args.hidden=32"]
    assert main(wider) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "ganmods: error: model.init_args.generator.init_args.hidden must equal the checkpoint's when resuming (its "
        f"weights are restored; start a new run to change it); got 32, the checkpoint {str(first)!r} has 16.")
    assert not (tmp_path / "wider").exists()
    same = ["fit", "-c", str(_config(tmp_path, "same", 2)), "--ckpt_path", str(first),
            "--model.init_args.generator.init_args.hidden=16", "--model.init_args.max_generator_steps=3"]
    assert main(same) == 0
    assert _last(tmp_path, "same")["ganmods"]["counters"]["generator_steps"] == 3
