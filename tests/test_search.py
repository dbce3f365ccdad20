"""Seeded hyperparameter search spaces (ganmods.compare.search)."""

from __future__ import annotations

import copy
import math

import pytest

from ganmods.compare.search import (DEFAULT_SPACE, check_space, draw_trials, explicit_defaults, load_space, path_value,
                                    resolve_space, trial_changes)
from ganmods.errors import ConfigurationError

_OPT = {"class_path": "torch.optim.Adam", "init_args": {"lr": 3e-4, "betas": [0.5, 0.9]}}
WGANGP = {"model": {"class_path": "ganmods.WGANGP",
                    "init_args": {"gp_weight": 0.1, "n_critic": 2, "optimizer_g": copy.deepcopy(_OPT),
                                  "optimizer_d": copy.deepcopy(_OPT)}},
          "data": {"dataset": "ring8"}}
WGAN = {"model": {"class_path": "ganmods.WGAN", "init_args": {"n_critic": 5}}}
SGAN = {"model": {"class_path": "ganmods.SGAN", "init_args": {}}}


def _args(trial: dict) -> dict:
    return trial["model"]["init_args"]


def test_trial_zero_is_the_variant_config_unchanged() -> None:
    before = copy.deepcopy(WGANGP)
    trials = draw_trials(WGANGP, DEFAULT_SPACE, 5, seed=0)
    assert len(trials) == 5 and trials[0] == before and WGANGP == before
    assert all(t != before for t in trials[1:])
    assert all(t["data"] == before["data"] for t in trials)


def test_same_space_and_seed_draw_the_same_trials(tmp_path) -> None:
    path = tmp_path / "space.yaml"
    path.write_text("model.init_args.n_critic: {choice: [1, 2, 3]}\nmodel.init_args.clip: null\n")
    space = load_space(str(path))
    assert space["model.init_args.n_critic"] == {"choice": [1, 2, 3]} and "model.init_args.clip" not in space
    assert draw_trials(WGANGP, load_space(str(path)), 6, seed=4) == draw_trials(WGANGP, space, 6, seed=4)
    assert draw_trials(WGANGP, space, 6, seed=4) != draw_trials(WGANGP, space, 6, seed=5)
    assert draw_trials(WGANGP, space, 6, seed=4)[:3] == draw_trials(WGANGP, space, 3, seed=4)  # prefix stable


def test_values_lie_in_their_ranges_and_apply_where_they_belong() -> None:
    trials = draw_trials(WGANGP, DEFAULT_SPACE, 40, seed=1)[1:]
    lrs = [_args(t)["optimizer_g"]["init_args"]["lr"] for t in trials]
    assert all(1e-5 <= lr <= 1e-2 for lr in lrs) and min(lrs) < 1e-4 and max(lrs) > 1e-3  # log scale spread
    assert all(_args(t)["optimizer_d"]["init_args"]["lr"] == _args(t)["optimizer_g"]["init_args"]["lr"]
               for t in trials)  # same_as
    beta1 = [_args(t)["optimizer_g"]["init_args"]["betas"][0] for t in trials]
    assert all(0.0 <= b <= 1.0 for b in beta1)
    assert all(_args(t)["optimizer_g"]["init_args"]["betas"][1] == 0.9 for t in trials)  # only beta1 searched
    assert {_args(t)["n_critic"] for t in trials} == {1, 5}
    assert all(0.1 <= _args(t)["gp_weight"] <= 100.0 for t in trials)
    assert all("clip" not in _args(t) for t in trials)  # clip is for WGAN only
    for trial in draw_trials(WGAN, DEFAULT_SPACE, 10, seed=1)[1:]:
        assert 1e-3 <= _args(trial)["clip"] <= 1.0 and "gp_weight" not in _args(trial)
        assert "optimizer_g" not in _args(trial)  # no optimizer in the config: its lr is not a path of it
    for trial in draw_trials(SGAN, DEFAULT_SPACE, 10, seed=1)[1:]:
        assert set(_args(trial)) == {"n_critic"}  # n_critic is set even where the class default applies


def test_a_log_uniform_draw_matches_the_hand_transformed_generator() -> None:
    import numpy as np

    space = {"model.init_args.gp_weight": {"log_uniform": [0.1, 100.0]}}
    got = [_args(t)["gp_weight"] for t in draw_trials(WGANGP, space, 4, seed=7)[1:]]
    rng = np.random.default_rng(7)
    want = [10 ** rng.uniform(-1.0, 2.0) for _ in range(3)]
    assert got == pytest.approx(want, rel=1e-12)
    assert all(math.isfinite(v) for v in got)


def test_bad_spaces_are_named() -> None:
    with pytest.raises(ConfigurationError, match=r"search space\['model.init_args.lr'\].log_uniform must be"):
        check_space({"model.init_args.lr": {"log_uniform": [0.0, 1.0]}})
    with pytest.raises(ConfigurationError, match=r"search space\['a.b'\] must be exactly one of"):
        check_space({"a.b": {"normal": [0, 1]}})
    with pytest.raises(ConfigurationError, match=r"uniform must be \[low, high\] with low < high"):
        check_space({"a.b": {"uniform": [1.0, 0.0]}})
    with pytest.raises(ConfigurationError, match="choice must be a non-empty list"):
        check_space({"a.b": {"choice": []}})
    with pytest.raises(ConfigurationError, match="same_as must be another path"):
        check_space({"a.b": {"same_as": "a.c"}})
    with pytest.raises(ConfigurationError, match="if_absent must be 'skip' or 'set'"):
        check_space({"a.b": {"choice": [1], "if_absent": "create"}})
    with pytest.raises(ConfigurationError, match="search space path must be a dotted config path"):
        check_space({"a..b": {"choice": [1]}})
    with pytest.raises(ConfigurationError, match="search space must be a mapping"):
        resolve_space(["a.b"])
    with pytest.raises(ConfigurationError, match="k must be an integer >= 1"):
        draw_trials(WGANGP, DEFAULT_SPACE, 0, seed=0)
    with pytest.raises(ConfigurationError, match="seed must be an integer >= 0"):
        draw_trials(WGANGP, DEFAULT_SPACE, 2, seed=-1)


def test_explicit_defaults_write_in_the_class_defaults_the_space_needs() -> None:
    from ganmods.module import ADAM_DCGAN
    from ganmods.variants import ADAM_WGANGP, RMSPROP_WGAN

    sgan = explicit_defaults(SGAN, DEFAULT_SPACE)
    assert _args(sgan)["optimizer_g"] == ADAM_DCGAN == _args(sgan)["optimizer_d"]  # GANModule's, through **kwargs
    assert _args(sgan)["n_critic"] == 1 and "gp_weight" not in _args(sgan)  # SGAN adds no penalty (default None)
    assert SGAN == {"model": {"class_path": "ganmods.SGAN", "init_args": {}}}  # input untouched
    wgan = explicit_defaults(WGAN, DEFAULT_SPACE)
    assert _args(wgan)["optimizer_g"] == RMSPROP_WGAN and _args(wgan)["clip"] == 0.01 and _args(wgan)["n_critic"] == 5
    gp = explicit_defaults({"model": {"class_path": "ganmods.WGANGP"}}, DEFAULT_SPACE)
    assert _args(gp)["gp_weight"] == 10.0 and _args(gp)["optimizer_d"] == ADAM_WGANGP
    assert explicit_defaults(WGANGP, DEFAULT_SPACE) == WGANGP  # every searched argument is set already
    assert _args(explicit_defaults(SGAN, {"data.batch_size": {"choice": [1]}})) == {}  # only model.init_args paths
    unknown = {"model": {"class_path": "no.such.Class", "init_args": {}}}
    assert explicit_defaults(unknown, DEFAULT_SPACE) == unknown
    # with the defaults written in, the lr and beta1 draws reach a variant whose file names no optimizer
    trial = draw_trials(explicit_defaults(SGAN, DEFAULT_SPACE), DEFAULT_SPACE, 2, seed=3)[1]
    assert _args(trial)["optimizer_g"]["init_args"]["lr"] != ADAM_DCGAN["init_args"]["lr"]
    with pytest.raises(ConfigurationError, match="variant_config must be a config mapping"):
        explicit_defaults([], DEFAULT_SPACE)


def test_path_value_and_trial_changes() -> None:
    assert path_value(WGANGP, "model.init_args.optimizer_g.init_args.betas.1") == 0.9
    assert path_value(WGANGP, "model.init_args.optimizer_g.init_args.betas.5", "none") == "none"
    assert path_value(WGANGP, "model.init_args.clip") is None and path_value(WGANGP, "data.dataset") == "ring8"
    base = explicit_defaults(WGANGP, DEFAULT_SPACE)
    trials = draw_trials(base, DEFAULT_SPACE, 3, seed=0)
    assert trial_changes(base, trials[0], DEFAULT_SPACE) == {}
    changes = trial_changes(base, trials[1], DEFAULT_SPACE)
    assert set(changes) <= set(DEFAULT_SPACE) and "model.init_args.clip" not in changes
    assert all(path_value(trials[1], p) == v != path_value(base, p) for p, v in changes.items())
    assert changes["model.init_args.optimizer_d.init_args.lr"] == changes["model.init_args.optimizer_g.init_args.lr"]
