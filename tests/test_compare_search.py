"""`ganmods compare` with a search: equal tuning budgets (trial 0 = the variant's config, seeded draws), one run
per (variant, trial, seed), selection on the validation reference only, report on the test reference with
intervals, paired differences, tied ranks and the expected best of k trials, and resumption."""

from __future__ import annotations

import copy
import csv
import io
import json
import math
import shutil

import pytest
import yaml

import ganmods.compare.schedule as schedule
from ganmods.cli import main
from ganmods.compare import (Checked, Interrupted, RunSpec, load_comparison, plan_runs, run_comparison,
                             variant_trials)
from ganmods.compare.report import SELECTED_FILE, short_path, write_results
from ganmods.compare.search import DEFAULT_SPACE, explicit_defaults, path_value, trial_changes
from ganmods.compare.selection import TrialScore, select_trials, validation_scores
from ganmods.compare.stats import expected_best_band
from ganmods.errors import ConfigurationError
from tests.test_compare import _config

#: No clip path (no WGAN here); the rest of the default space: lr, beta1, n_critic, gp_weight.
SPACE = {"model.init_args.clip": None}


def _search_config(tmp, search=None, **changes) -> str:
    """test_compare's tiny comparison (SGAN from a file without optimizers, WGAN-GP from overrides), with a
    search, 20 critic steps per run, and wider Gaussians (sigma 0.3), so that untrained generators already
    place samples near the modes and the scores differ between trials, references and generators."""
    path = _config(tmp, budget={"images": 640}, **changes)
    raw = yaml.safe_load(open(path))
    raw["shared"]["data"]["dataset_options"] = {"std": 0.3}
    raw["search"] = {"trials": 3, "seed": 0, "space": dict(SPACE)} if search is None else search
    with open(path, "w") as fh:
        yaml.safe_dump(raw, fh)
    return path


def _run(config: str, out, **kwargs):
    return run_comparison(config, out_dir=str(out), stream=io.StringIO(), bars=False, **kwargs)


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """A search of 2 variants x 3 trials x 2 seeds, interrupted (Ctrl-C) as its 6th run starts, then resumed."""
    tmp = tmp_path_factory.mktemp("search")
    config = _search_config(tmp)
    real, started = schedule.execute_run, []

    def interrupted_at_the_sixth(run, *args, **kwargs):
        started.append(run.key)
        if len(started) == 6:
            raise KeyboardInterrupt
        return real(run, *args, **kwargs)

    schedule.execute_run = interrupted_at_the_sixth
    try:
        with pytest.raises(Interrupted):
            _run(config, tmp / "out")
    finally:
        schedule.execute_run = real
    resumed = _run(config, tmp / "out")
    return config, tmp / "out", started, resumed


def _leaves(config, prefix: str = "") -> dict:
    """Every leaf of a nested config, by dotted path (list items by index)."""
    items = config.items() if isinstance(config, dict) else enumerate(config) if isinstance(config, list) else None
    if items is None:
        return {prefix: config}
    out = {}
    for key, value in items:
        out.update(_leaves(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def _csv(path) -> list[dict[str, str]]:
    with open(path) as fh:
        return list(csv.DictReader(fh))


# ---------------------------------------------------------------- config and plan (nothing runs)
def test_search_settings_are_read_with_defaults_and_the_command_line_override(tmp_path):
    plain = load_comparison(_config(tmp_path))
    assert plain.search.trials == 1 and not plain.search.active and plain.search.space == DEFAULT_SPACE
    assert [r.key for r in plan_runs(plain, str(tmp_path / "o"))][:2] == ["sgan/s0", "wgan_gp/s0"]
    comparison = load_comparison(_search_config(tmp_path))
    assert (comparison.search.trials, comparison.search.seed, comparison.search.source) == (3, 0, "config")
    assert "model.init_args.clip" not in comparison.search.space
    assert load_comparison(_search_config(tmp_path), trials=5).search.trials == 5
    (tmp_path / "space.yaml").write_text("model.init_args.n_critic: {choice: [1, 2, 3]}\n")
    from_file = load_comparison(_search_config(tmp_path, search={"trials": 2, "space": "space.yaml"}))
    assert from_file.search.space["model.init_args.n_critic"] == {"choice": [1, 2, 3]}
    assert from_file.search.source == str(tmp_path / "space.yaml")  # found beside the comparison file


@pytest.mark.parametrize("search, message", [
    ({"trials": 0}, "search.trials must be an integer >= 1; got 0"),
    ({"trials": 2, "seed": -1}, "search.seed must be an integer >= 0; got -1"),
    ({"trials": 2, "bogus": 1}, "search.bogus must be one of the keys"),
    ({"space": {"data.batch_size": {"choice": [16, 64]}}}, r"search.space\['data.batch_size'\] must be a path "
                                                          "under model.init_args"),
    ({"space": {"model.init_args.ema_decay": {"uniform": [0.5, 0.9]}}}, r"must be a path that shared does not "
                                                                       "fix .strict fairness"),
    ({"space": {"model.init_args.generator.init_args.hidden": {"choice": [8]}}}, "outside the shared generator"),
    ({"space": {"model.init_args.max_generator_steps": {"choice": [8]}}}, "does not set itself"),
    ({"space": {"model.init_args.n_critic": {"normal": [0, 1]}}}, r"search space\['model.init_args.n_critic'\] "
                                                                  "must be exactly one of"),
    ({"space": "no_such_space.yaml"}, "search.space must be a mapping, or an existing YAML file"),
    ({"space": 3}, "search.space must be a mapping of dotted paths"),
    ({"trials": 2, "space": {"model.init_args.n_critic": {"choice": [0]}}}, r"variants.sgan \(trial 1\): .*n_critic"),
])
def test_a_bad_search_fails_before_any_run(tmp_path, search, message):
    with pytest.raises(ConfigurationError, match=message):
        _run(_search_config(tmp_path, search=search), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_trials_option_on_the_command_line(tmp_path, capsys):
    config = _search_config(tmp_path)
    assert main(["compare", "-c", config, "--out", str(tmp_path / "o"), "--trials", "0"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "--trials must be an integer >= 1; got 0" in err[0]
    assert main(["compare", "-c", config, "--out", str(tmp_path / "o"), "--trials", "2", "--dry-run"]) == 0
    assert "2 variants × 2 trials × 2 seeds = 8 runs" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_trial_zero_is_the_variants_config_and_the_same_file_draws_the_same_trials(tmp_path):
    config = _search_config(tmp_path)
    first, again = load_comparison(config), load_comparison(config)
    runs, runs_again = plan_runs(first, str(tmp_path / "a")), plan_runs(again, str(tmp_path / "b"))
    assert [(r.key, r.fingerprint, r.changes) for r in runs] == [(r.key, r.fingerprint, r.changes) for r in runs_again]
    assert len(runs) == 2 * 3 * 2 and len({r.fingerprint for r in runs}) == len(runs)
    for variant in first.variants:
        trials = variant_trials(first, variant)
        assert trials[0].config == variant.config and trials[0].changes == {}
        assert all(t.config != variant.config for t in trials[1:])
    # trial 0 is the run a comparison without a search makes: same config, hence same fingerprint
    plain = load_comparison(config, trials=1)
    assert [r.fingerprint for r in plan_runs(plain, str(tmp_path / "c"))] == \
        [r.fingerprint for r in runs if r.trial == 0]
    # raising the number of trials keeps the trials drawn so far
    more = plan_runs(load_comparison(config, trials=5), str(tmp_path / "a"))
    assert {r.key: r.fingerprint for r in runs}.items() <= {r.key: r.fingerprint for r in more}.items()


def test_drawn_trials_change_only_the_space_paths_and_record_what_they_changed(tmp_path):
    comparison = load_comparison(_search_config(tmp_path))
    space = comparison.search.space
    for variant in comparison.variants:
        base = explicit_defaults(variant.config, space)
        before = _leaves(base)
        assert {k: v for k, v in before.items() if k in _leaves(variant.config)} == _leaves(variant.config)
        for trial in variant_trials(comparison, variant)[1:]:
            after = _leaves(trial.config)
            changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
            assert changed and changed <= set(space), (variant.name, changed)
            assert trial.changes == trial_changes(base, trial.config, space)
            assert trial.changes == {k: after[k] for k in changed}
    sgan = next(v for v in comparison.variants if v.name == "sgan")
    assert "optimizer_g" not in sgan.config["model"]["init_args"]  # its file names no optimizer ...
    lrs = [path_value(t.config, "model.init_args.optimizer_g.init_args.lr") for t in variant_trials(comparison, sgan)]
    assert lrs[0] is None and all(1e-5 <= lr <= 1e-2 for lr in lrs[1:])  # ... its paper optimizer's lr is searched
    runs = plan_runs(comparison, str(tmp_path / "o"))
    run = next(r for r in runs if r.key == "sgan/t1/s0")
    assert run.changes == variant_trials(comparison, sgan)[1].changes
    assert RunSpec.from_json(json.loads(json.dumps(run.to_json()))) == run  # what a worker process reads
    assert run.run_dir.endswith("runs/sgan/t1/s0") and run.config["trainer"]["logger"][0]["init_args"] == \
        {"save_dir": str(tmp_path / "o" / "runs" / "sgan"), "name": "t1", "version": "s0"}


# ---------------------------------------------------------------- a search that ran
def test_interrupted_search_resumes_with_only_the_missing_runs(searched):
    config, out, started, resumed = searched
    assert started[:3] == ["sgan/t0/s0", "wgan_gp/t0/s0", "sgan/t0/s1"]  # trial-major, then seed-major
    assert sorted(resumed.skipped) == sorted(started[:5])
    assert sorted(resumed.ran) == sorted(r.key for r in resumed.runs if r.key not in started[:5])
    assert len(resumed.ran) == 7 and not resumed.failed
    again = _run(config, out)
    assert again.ran == [] and len(again.skipped) == 12


def test_run_layout_and_table_with_trials(searched):
    _, out, _, resumed = searched
    for run in resumed.runs:
        assert (out / "runs" / run.key / "result.json").is_file(), run.key
        assert run.key == f"{run.variant}/t{run.trial}/s{run.seed}"
    for name in ("results.csv", "results.md", SELECTED_FILE, "plots/expected_best.png", "plots/trials_box.png",
                 "plots/metric_vs_images.png", "plots/samples.png"):
        assert (out / name).is_file(), name
    rows = _csv(out / "results.csv")
    assert len(rows) == 12 and {r["trial"] for r in rows} == {"0", "1", "2"}
    saved = json.loads((out / "comparison.json").read_text())
    assert saved["search"]["trials"] == 3 and "model.init_args.clip" not in saved["search"]["space"]
    for row in rows:
        run = next(r for r in resumed.runs if r.variant == row["variant"] and r.trial == int(row["trial"])
                   and r.seed == int(row["seed"]))
        lr = "model.init_args.optimizer_g.init_args.lr"
        effective = path_value(explicit_defaults(run.config, DEFAULT_SPACE), lr)
        assert float(row[lr]) == pytest.approx(effective)
        assert row["changed"] == " ".join(short_path(p) for p in run.changes)
        assert row["run_dir"] == f"runs/{run.key}"
    md = (out / "results.md").read_text()
    assert "2 variants × 3 trials × 2 seeds" in md and "## Expected best validation score after k trials" in md


def test_final_scores_are_those_of_the_validation_and_test_references_and_of_the_raw_generator(searched):
    from ganmods import load_checkpoint
    from ganmods.data import GANDataModule

    _, out, _, resumed = searched
    run = next(r for r in resumed.runs if r.key == "wgan_gp/t1/s1")
    result = json.loads((out / "runs" / run.key / "result.json").read_text())
    model = load_checkpoint(str(out / "runs" / run.key / "checkpoints" / "last.ckpt"))
    assert model.critic_steps == result["critic_steps"]  # the checkpoint holds the state that was scored
    dm = GANDataModule(**{**run.config["data"]})
    assert dm.evaluate(model, split="val") == pytest.approx(result["final"], nan_ok=True)
    assert dm.evaluate(model, split="test") == pytest.approx(result["test"], nan_ok=True)
    with model.raw_sampling():
        assert dm.evaluate(model, split="val") == pytest.approx(result["final_raw"], nan_ok=True)
        assert dm.evaluate(model, split="test") == pytest.approx(result["test_raw"], nan_ok=True)
    assert result["final"] != result["test"] and result["final"] != result["final_raw"]
    logged = [r for r in _csv(out / "runs" / run.key / "metrics.csv") if r.get("test/hq")]
    assert float(logged[-1]["test/hq"]) == pytest.approx(result["test"]["hq"])
    assert float(logged[-1]["test_raw/hq"]) == pytest.approx(result["test_raw"]["hq"])
    hp = result["hyperparameters"]
    assert hp["loss"] == "wasserstein" and hp["regularizers"][0]["class"] == "GradientPenalty"
    assert hp["optimizer_g"]["lr"] == pytest.approx(run.config["model"]["init_args"]["optimizer_g"]["init_args"]["lr"])
    assert hp["ema"] == {"decay": 0.9, "half_life_images": None}


def _hq(value: float) -> dict[str, float]:
    return {"modes": 8.0, "hq": value}


def test_selection_reads_only_validation_scores(searched, tmp_path):
    """Validation scores that make trial 2 the best of every variant, test scores that make it the worst (and
    trial 1 the best): trial 2 is selected, and results.md reports its (bad) test scores."""
    config, out, _, _ = searched
    copy_dir = tmp_path / "out"
    shutil.copytree(out, copy_dir)
    validation = {0: 0.2, 1: 0.5, 2: 0.9}
    adversarial = {0: 0.5, 1: 0.99, 2: 0.01}
    for path in copy_dir.glob("runs/*/t*/s*/result.json"):
        result = json.loads(path.read_text())
        trial, seed = int(path.parent.parent.name[1:]), int(path.parent.name[1:])
        result["final"] = {**result["final"], **_hq(validation[trial] + 0.01 * seed)}
        result["test"] = {**result["test"], **_hq(adversarial[trial] + 0.01 * seed)}
        result["test_raw"] = {**result["test_raw"], **_hq(adversarial[trial])}
        path.write_text(json.dumps(result))
    outcome = _run(config, copy_dir)
    assert outcome.ran == []  # nothing reruns: only the report is rewritten
    selected = json.loads((copy_dir / SELECTED_FILE).read_text())
    assert {v: s["trial"] for v, s in selected.items()} == {"sgan": 2, "wgan_gp": 2}
    assert selected["sgan"]["test"]["hq"] == pytest.approx(0.015)  # reported: the selected trial's test score
    assert selected["sgan"]["validation"]["hq"] == pytest.approx(0.905)
    md = (copy_dir / "results.md").read_text()
    assert "| sgan | 2 | 2 | 8 [8, 8] | 8 [8, 8] | 0.015 [0.01, 0.02] | 0.01 [0.01, 0.01] |" in md
    # the same selection from the validation scores alone, with every test score removed
    runs = plan_runs(load_comparison(config), str(copy_dir))
    results = {r.key: json.loads((copy_dir / "runs" / r.key / "result.json").read_text()) for r in runs}
    blind = {k: {**v, "test": None, "test_raw": None} for k, v in results.items()}
    metrics = json.loads((copy_dir / "comparison.json").read_text())
    rank_by, directions = metrics["rank_by"], {m: m != "reverse_kl" for m in metrics["rank_by"]}
    assert {v: s.trial for v, s in select_trials(validation_scores(runs, blind), rank_by, directions).items()} == \
        {"sgan": 2, "wgan_gp": 2}


def test_selection_rule_lexicographic_with_ties_to_the_lowest_trial():
    def trial(index, modes, hq, seeds=(0, 1)):
        return TrialScore("v", index, {s: {"modes": modes[i], "hq": hq[i]} for i, s in enumerate(seeds)}, (0, 1))

    directions = {"modes": True, "hq": True}
    tied = [trial(0, [8, 8], [0.5, 0.7]), trial(1, [8, 8], [0.7, 0.5]), trial(2, [7, 8], [0.9, 0.9])]
    assert select_trials({"v": tied}, ["modes", "hq"], directions)["v"].trial == 0  # equal means: lowest trial
    assert select_trials({"v": tied}, ["hq"], directions)["v"].trial == 2
    nan = [trial(0, [8, 8], [math.nan, 0.9]), trial(1, [8, 8], [0.1, 0.1])]
    assert select_trials({"v": nan}, ["modes", "hq"], directions)["v"].trial == 1  # a NaN mean ranks last
    partial = [trial(0, [8, 8], [0.1, 0.1]), trial(1, [8], [0.9], seeds=(0,))]
    chosen = select_trials({"v": partial}, ["hq"], directions)["v"]
    assert (chosen.trial, chosen.complete) == (0, True)  # a complete trial beats a better incomplete one
    with pytest.raises(ConfigurationError, match="directions must be a direction for every rank_by metric"):
        select_trials({"v": tied}, ["fid"], directions)


# ---------------------------------------------------------------- the report, hand-computed
def _synthetic(tmp_path):
    """3 variants x 2 trials x 3 seeds planned; results made by hand (no training)."""
    config = _search_config(tmp_path, search={"trials": 2, "seed": 0, "space": dict(SPACE)}, seeds=[0, 1, 2],
                            variants={"a": ["model.class_path=ganmods.SGAN"],
                                      "b": ["model.class_path=ganmods.WGANGP", "model.init_args.gp_weight=0.1"],
                                      "c": ["model.class_path=ganmods.RaGAN", "model.init_args.kind=rasgan"]})
    comparison = load_comparison(config)
    runs = plan_runs(comparison, str(tmp_path / "out"))
    # validation hq: trial 1 is better for every variant; test hq: trial 0 is (adversarial)
    val = {0: 0.1, 1: 0.6}
    test = {("a", 1): [0.9, 0.8, 0.7], ("b", 1): [0.6, 0.7, 0.7], ("c", 1): [0.1, 0.2, 0.3]}
    hyper = {"loss": "wasserstein", "n_critic": 5, "ema": {"decay": 0.99, "half_life_images": None},
             "regularizers": [{"class": "GradientPenalty", "weight": 0.1, "one_sided": False}],
             "optimizer_g": {"class": "Adam", "lr": 3e-4, "betas": [0.5, 0.9]},
             "optimizer_d": {"class": "RMSprop", "lr": 1e-4}}
    results = {}
    for run in runs:
        hq_test = test.get((run.variant, run.trial), [1.0, 1.0, 1.0])[run.seed]
        results[run.key] = {
            "status": "finished", "generator_steps": 10, "critic_steps": 50, "images_seen": 640, "train_s": 2.0,
            "wall_clock_s": 3.0, "history": [], "hyperparameters": hyper,
            "final": {"hq": val[run.trial] + 0.1 * run.seed}, "test": {"hq": hq_test},
            "final_raw": {"hq": 0.0}, "test_raw": {"hq": hq_test / 2}}
    return comparison, runs, results


def test_results_md_reports_intervals_inconclusive_differences_tied_ranks_and_the_expected_best(tmp_path):
    comparison, runs, results = _synthetic(tmp_path)
    (tmp_path / "out").mkdir()
    checked = Checked(("hq",), {"hq": True}, ("hq",))
    selections = write_results(str(tmp_path / "out"), "T", ["intro"], runs, results, checked, [],
                               comparison.search.space, comparison.search.trials)
    assert {v: s.trial for v, s in selections.items()} == {"a": 1, "b": 1, "c": 1}
    md = (tmp_path / "out" / "results.md").read_text()
    # with 3 seeds the exact 95 % bootstrap interval is [min, max]; a - b = (0.3, 0.1, 0.0): contains 0
    assert "| 1= | a | 1 | 3 | 0.8 [0.7, 0.9] | 0.4 [0.35, 0.45] | 10 | 640 | 2 | 5 |" in md
    assert "| 1= | b | 1 | 3 | 0.6667 [0.6, 0.7] | 0.3333 [0.3, 0.35] |" in md
    assert "| 3 | c | 1 | 3 | 0.2 [0.1, 0.3] | 0.1 [0.05, 0.15] |" in md
    assert "| a | b | 0.1333 [0, 0.3] inconclusive |" in md
    assert "| a | c | 0.6 [0.4, 0.8] a better |" in md and "| b | c | 0.4667 [0.4, 0.5] b better |" in md
    assert "hq test, raw G" in md
    # hyperparameters as built, and what the trial changed
    assert "| a | 1 | wasserstein | GradientPenalty(weight 0.1, one_sided False) | 5 | Adam lr 0.0003 betas " \
           "(0.5, 0.9) | RMSprop lr 0.0001 | decay 0.99 |" in md
    run = next(r for r in runs if r.key == "a/t1/s0")
    assert ", ".join(f"{short_path(p)} {v:.3g}" if isinstance(v, float) else f"{short_path(p)} {v}"
                     for p, v in run.changes.items()) in md
    # expected best validation hq after k trials: trial scores 0.2 and 0.7 (means over seeds 0.1 + 0.1 s)
    # k = 1: (0.2 + 0.7) / 2 = 0.45; k = 2: 0.2 * 1/4 + 0.7 * 3/4 = 0.575
    band = expected_best_band([0.2, 0.7], "max")
    assert band.expected == pytest.approx((0.45, 0.575))
    assert f"| 1 | 0.45 [{band.low[0]:.4g}, {band.high[0]:.4g}] |" in md
    assert f"| 2 | 0.575 [{band.low[1]:.4g}, {band.high[1]:.4g}] |" in md
    assert "| a | **1** (selected) | 3/3 | 0.7 |" in md and "| a | 0 | 3/3 | 0.2 |" in md
    rows = _csv(tmp_path / "out" / "results.csv")
    assert len(rows) == 18 and rows[0]["test_hq"] == "1.0" and rows[0]["val_hq"] == rows[0]["final_hq"] == "0.1"


def test_an_interrupted_trial_is_not_selected_and_a_lone_seed_has_no_interval(tmp_path):
    comparison, runs, results = _synthetic(tmp_path)
    (tmp_path / "out").mkdir()
    partial = {k: v for k, v in results.items() if not (k.startswith("a/t1/") and not k.endswith("s0"))}
    partial = {k: v for k, v in partial.items() if not k.startswith("c/")}  # c has not started
    checked = Checked(("hq",), {"hq": True}, ("hq",))
    selections = write_results(str(tmp_path / "out"), "T", [], runs, partial, checked, [],
                               comparison.search.space, comparison.search.trials)
    assert selections["a"].trial == 0 and selections["b"].trial == 1 and "c" not in selections
    md = (tmp_path / "out" / "results.md").read_text()
    assert "| a | **0** (selected) | 3/3 |" in md and "| a | 1 | 1/3 |" in md
    lone = write_results(str(tmp_path / "out"), "T", [], runs, {"a/t1/s0": results["a/t1/s0"]}, checked, [],
                         comparison.search.space, comparison.search.trials)
    assert lone["a"].trial == 1 and not lone["a"].complete
    md = (tmp_path / "out" / "results.md").read_text()
    assert "| 1 | a | 1 (incomplete) | 1 | 0.9 (1 seed: no interval) |" in md


def test_results_without_test_scores_are_reported_as_not_recorded(tmp_path):
    """Runs finished by a ganmods that scored no test reference (same config: kept on resuming)."""
    comparison, runs, results = _synthetic(tmp_path)
    (tmp_path / "out").mkdir()
    blind = {k: {**copy.deepcopy(v), "test": None, "test_raw": None} for k, v in results.items()}
    write_results(str(tmp_path / "out"), "T", [], runs, blind, Checked(("hq",), {"hq": True}, ("hq",)), [],
                  comparison.search.space, comparison.search.trials)
    md = (tmp_path / "out" / "results.md").read_text()
    assert "| 1= | a | 1 | 3 | – |" in md and "no seed with both scores" in md
    assert _csv(tmp_path / "out" / "results.csv")[0]["test_hq"] == ""


def test_evaluate_split_asks_the_datamodule_for_the_reference():
    import torch

    from ganmods.compare.recorder import evaluate_split
    from ganmods.data import GANDataModule
    from ganmods.variants import SGAN
    from tests.conftest import tiny_nets

    dm = GANDataModule("ring8", batch_size=8, eval_samples=100, dataset_options={"std": 0.3})
    torch.manual_seed(0)
    model = SGAN(**tiny_nets())
    for split in ("val", "test"):
        assert evaluate_split(dm, model, split) == pytest.approx(dm.evaluate(model, split=split), nan_ok=True)
    val, test = evaluate_split(dm, model, "val"), evaluate_split(dm, model, "test")
    assert set(val) == set(test) and val["density"] != test["density"]  # two disjoint references
    assert evaluate_split(object(), model, "test") == {}
    with pytest.raises(ConfigurationError, match="split must be one of \\['val', 'test'\\]; got 'train'"):
        evaluate_split(dm, model, "train")


@pytest.mark.slow  # two worker processes each import torch and Lightning, then 8 runs: ~40 s on a busy 2-core machine
def test_a_parallel_search_matches_the_in_process_one(tmp_path):
    config = _search_config(tmp_path, search={"trials": 2, "seed": 0, "space": dict(SPACE)}, seeds=[0])
    parallel = _run(config, tmp_path / "par", parallel=2)
    sequential = _run(config, tmp_path / "seq")
    assert sorted(parallel.ran) == sorted(sequential.ran) == ["sgan/t0/s0", "sgan/t1/s0", "wgan_gp/t0/s0",
                                                              "wgan_gp/t1/s0"]
    for key in parallel.ran:
        par, seq = (json.loads((tmp_path / out / "runs" / key / "result.json").read_text()) for out in ("par", "seq"))
        assert par["final"] == pytest.approx(seq["final"], nan_ok=True)
        assert par["test"] == pytest.approx(seq["test"], nan_ok=True) and par["batch_digest"] == seq["batch_digest"]
        assert json.loads((tmp_path / "par" / "runs" / key / "run.json").read_text())["trial"] == int(key[-4])


def test_images_option_replaces_the_budget_for_the_comparison_and_its_workers(tmp_path, capsys):
    from ganmods.compare.orchestrate import _worker_command
    from ganmods.compare.study import parse_storage

    config = _search_config(tmp_path)
    assert main(["compare", "-c", config, "--out", str(tmp_path / "o"), "--images", "-5"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "--images must be an integer >= 1; got -5" in err[0]
    assert main(["compare", "-c", config, "--out", str(tmp_path / "o"), "--images", "1280", "--dry-run"]) == 0
    assert "runs of 1280 images" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    shipped, smaller = load_comparison(config), load_comparison(config, images=1280)
    assert smaller.budget.unit == "images" and smaller.budget.value == 1280 != shipped.budget.value
    fingerprints = {r.fingerprint for r in plan_runs(shipped, str(tmp_path / "a"))}
    assert not fingerprints & {r.fingerprint for r in plan_runs(smaller, str(tmp_path / "a"))}  # other runs
    command = _worker_command(smaller, str(tmp_path / "a"), parse_storage(None, str(tmp_path / "a")), "s", 1,
                              None, None, None, False, 1280)
    assert command[command.index("--images") + 1] == "1280"  # local workers plan the same runs
