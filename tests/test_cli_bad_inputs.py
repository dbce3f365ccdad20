"""The bad-input catalogue of the command-line arguments added with test/predict/list and resuming: each stops
before any work with one line, `ganmods: error: ...`, and exit status 2."""

from __future__ import annotations

import pytest

from ganmods.cli import main
from tests.test_cli_commands import tiny


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    assert main(["fit", "-c", "toy/sgan", *tiny(root, "ok", steps=2)]) == 0
    return str(root / "ok" / "version_0" / "checkpoints" / "last.ckpt")


def _cases(tmp, ckpt):
    corrupt = tmp / "corrupt.ckpt"
    corrupt.write_bytes(b"not a checkpoint")
    base = ["-c", "toy/sgan", *tiny(tmp, "bad")]
    return {
        "list_unknown": (["list", "losses", "optimisers"], "registry must be one of ['losses', 'variants', 'datasets', "
                         "'nets', 'regularizers', 'configs']; got 'optimisers'."),
        "test_no_ckpt": (["test", *base], "ckpt_path must be given for `ganmods test` (the checkpoint to score); got none."),
        "predict_no_ckpt": (["predict", *base], "ckpt_path must be given for `ganmods predict`"),
        "test_missing": (["test", *base, "--ckpt_path", str(tmp / "x.ckpt")],
                         f"ckpt_path must be an existing checkpoint file; got {str(tmp / 'x.ckpt')!r} (no such file)."),
        "predict_corrupt": (["predict", *base, "--ckpt_path", str(corrupt)],
                            f"ckpt_path must be a readable ganmods checkpoint; got {str(corrupt)!r}"),
        "test_other_model": (["test", *base, "--model=ganmods.WGAN", "--ckpt_path", ckpt],
                             "ckpt_path must be a checkpoint of the configured model ganmods.WGAN"),
        "predict_n": (["predict", *base, "--ckpt_path", ckpt, "--n", "0", "--out", str(tmp / "p")],
                      "n must be an integer >= 1; got 0."),
        "budget_below_checkpoint": (["fit", *base, "--ckpt_path", ckpt, "--model.init_args.max_generator_steps=1"],
                                    "max_generator_steps must be at least the 2 generator steps of the checkpoint"),
    }


CASE_NAMES = ["list_unknown", "test_no_ckpt", "predict_no_ckpt", "test_missing", "predict_corrupt", "test_other_model",
              "predict_n", "budget_below_checkpoint"]


@pytest.mark.parametrize("case", CASE_NAMES)
def test_new_bad_inputs_are_one_line(case, ckpt, tmp_path, capsys):
    args, fragment = _cases(tmp_path, ckpt)[case]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("ganmods: error: ") and fragment in err[-1], err[-1]
    assert not any("Traceback" in line for line in err)
    assert not list(tmp_path.glob("bad/*/checkpoints/*.ckpt")) and not (tmp_path / "p").exists()
