"""`ganmods compare`: the table equals what the runs logged, reruns skip finished runs, every run of a seed
trains on the same real batches, budgets stop where they should, and bad input fails before any run."""

from __future__ import annotations

import csv
import hashlib
from ganmods.compare.recorder import score_lines, stream_fingerprint
import io
import json
import math
import os
import shutil

import pytest
import yaml

from ganmods.cli import main
from ganmods.compare import (Budget, ComparisonOutcome, check_runs, direction, load_comparison, plan_runs,
                             run_comparison)
from ganmods.compare.merge import apply_override, deep_merge, parse_override
from ganmods.compare.progress import ProgressDisplay
from ganmods.compare.report import best_of, cell, fmt, interval_cell, mean_std
from ganmods.data import GANDataModule
from ganmods.data.stream import SampleBatches
from ganmods.errors import ConfigurationError

ROOT = os.path.join(os.path.dirname(__file__), "..")
NETS = {
    "generator": {"class_path": "ganmods.nets.MLPGenerator",
                  "init_args": {"latent_dim": 2, "out_dim": 2, "hidden": 16, "depth": 2}},
    "discriminator": {"class_path": "ganmods.nets.MLPCritic", "init_args": {"in_dim": 2, "hidden": 16, "depth": 2}},
}
DATA = {"dataset": "ring8", "batch_size": 32, "batches_per_epoch": 10, "val_size": 64, "eval_samples": 200}


def _config(tmp, **changes) -> str:
    """A tiny comparison: SGAN from a variant file and WGAN-GP from overrides, 2 seeds, 30 critic steps."""
    variant = tmp / "sgan_variant.yaml"
    variant.write_text(yaml.safe_dump({"model": {"class_path": "ganmods.SGAN",
                                                 "init_args": {"n_critic": 1, "max_generator_steps": 999}},
                                       "data": {"dataset": "grid25"}}))  # only `model` of a variant file is used
    config = {
        "name": "tiny", "seeds": [0, 1], "budget": {"images": 960}, "parallel": 1,
        "shared": {"model": {"init_args": {"ema_decay": 0.9, **NETS}}, "data": dict(DATA),
                   "trainer": {"accelerator": "cpu", "devices": 1, "enable_model_summary": False}},
        "variants": {"sgan": str(variant),
                     "wgan_gp": ["model.class_path=ganmods.WGANGP", "model.init_args.gp_weight=0.1",
                                 "model.init_args.n_critic=2"]},
    }
    for key, value in changes.items():
        config[key] = value
    path = tmp / "compare.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def _run(config: str, out, **kwargs) -> ComparisonOutcome:
    return run_comparison(config, out_dir=str(out), stream=io.StringIO(), bars=False, **kwargs)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("compare")
    config = _config(tmp)
    stream = io.StringIO()
    outcome = run_comparison(config, out_dir=str(tmp / "out"), stream=stream, bars=False)
    outcome.log = stream.getvalue()
    return config, tmp / "out", outcome


def _csv(path) -> list[dict[str, str]]:
    with open(path) as fh:
        return list(csv.DictReader(fh))


def _num(text: str) -> float:
    return math.nan if text in ("", "nan") else float(text)


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def test_every_run_finishes_with_its_own_logs_and_the_comparison_outputs(tiny):
    _, out, outcome = tiny
    assert sorted(outcome.ran) == ["sgan/s0", "sgan/s1", "wgan_gp/s0", "wgan_gp/s1"] and not outcome.failed
    for name in ("results.csv", "results.md", "comparison.json", "plots/metric_vs_images.png",
                 "plots/metric_vs_seconds.png", "plots/samples.png"):
        assert (out / name).is_file(), name
    for key in outcome.ran:
        run_dir = out / "runs" / key
        for name in ("metrics.csv", "config.yaml", "checkpoints/last.ckpt", "history.csv", "final.png", "result.json"):
            assert (run_dir / name).is_file(), f"{key}/{name}"
        saved = yaml.safe_load((run_dir / "config.yaml").read_text())
        assert saved["seed_everything"] == saved["data"]["seed"] == int(key[-1])
        assert saved["data"]["dataset"] == "ring8"  # the variant file's data section is not used


def test_progress_shows_runs_done_and_left(tiny):
    log = tiny[2].log
    assert "sgan/s0 started (0 of 4 done, 1 running)" in log and "wgan_gp/s1 started (3 of 4 done" in log
    assert "[4/4] wgan_gp/s1 finished in" in log
    display = ProgressDisplay(3, 1, Budget("images", 100), stream=io.StringIO(), bars=True)
    display.started("sgan/s0")
    display.update("sgan/s0", {"fraction": 0.5, "generator_steps": 7, "images_seen": 50, "train_s": 2.0})
    assert " 50%|" in display.stream.getvalue() and "sgan/s0: 7 G steps, 50 images, 2 s" in display.stream.getvalue()
    display.finished("sgan/s0", None, "boom")
    display.close()
    assert "sgan/s0 FAILED: boom" in display.stream.getvalue() and display.failed == 1


def test_table_equals_what_the_runs_logged(tiny):
    _, out, _ = tiny
    rows = _csv(out / "results.csv")
    assert len(rows) == 4
    for row in rows:
        logged = _csv(out / "runs" / row["variant"] / f"s{row['seed']}" / "metrics.csv")
        final = next(r for r in logged if r.get("final/modes"))
        assert int(row["images_seen"]) == int(float(final["counters/images_seen"])) == 960  # 30 batches of 32
        assert int(row["generator_steps"]) == int(float(final["counters/generator_steps"]))
        assert int(row["critic_steps"]) == 30
        vals = [r for r in logged if r.get("val/modes")]
        assert len(vals) == 3  # one validation every 10 critic steps
        for metric, higher in (("modes", True), ("hq", True), ("reverse_kl", False)):
            assert _same(_num(row[f"final_{metric}"]), _num(final[f"final/{metric}"]))
            points = [(_num(r[f"val/{metric}"]), int(float(r["counters/generator_steps"]))) for r in vals]
            points.append((_num(final[f"final/{metric}"]), int(float(final["counters/generator_steps"]))))
            finite = [p for p in points if not math.isnan(p[0])]
            if finite:
                best = (max if higher else min)(p[0] for p in finite)
                step = next(s for v, s in finite if v == best)  # first time it was reached
                assert _num(row[f"best_{metric}"]) == best and int(row[f"best_{metric}_step"]) == step
            else:
                assert math.isnan(_num(row[f"best_{metric}"])) and row[f"best_{metric}_step"] == ""
        assert float(row["steps_per_s"]) == pytest.approx(int(row["generator_steps"]) / float(row["train_s"]))
        for metric in ("modes", "hq", "reverse_kl"):  # the validation score under its old name too
            assert _same(_num(row[f"val_{metric}"]), _num(row[f"final_{metric}"]))
            assert _same(_num(row[f"test_{metric}"]), _num(final[f"test/{metric}"]))
            assert _same(_num(row[f"test_raw_{metric}"]), _num(final[f"test_raw/{metric}"]))
            assert _same(_num(row[f"val_raw_{metric}"]), _num(final[f"final_raw/{metric}"]))
        assert row["trial"] == "0"
    md = (out / "results.md").read_text()
    metrics = json.loads((out / "comparison.json").read_text())["metrics"]
    assert metrics[:3] == ["modes", "hq", "reverse_kl"]
    for variant in ("sgan", "wgan_gp"):
        rs = [r for r in rows if r["variant"] == variant]
        cells = [cell([_num(r[f"{kind}_{m}"]) for r in rs]) for m in metrics for kind in ("val", "best")]
        assert any(line == f"| {variant} | 2 | " + " | ".join(cells) + " |" for line in md.splitlines()), cells
        tests = [interval_cell([_num(r[f"{kind}_{m}"]) for r in rs]) for m in metrics for kind in ("test", "test_raw")]
        assert any(line.startswith("| ") and f"| {variant} | 2 | " + " | ".join(tests) + " |" in line
                   for line in md.splitlines()), (variant, tests)


def test_every_run_of_a_seed_trained_on_the_same_real_batches_from_the_same_networks(tiny):
    _, out, _ = tiny
    dm = GANDataModule(**DATA)
    for seed in (0, 1):
        dm = GANDataModule(**{**DATA, "seed": seed})
        expected = [stream_fingerprint(dm, 0, k) for k in range(30)]
        for variant in ("sgan", "wgan_gp"):
            assert (out / "runs" / variant / f"s{seed}" / "batches.txt").read_text().split() == expected
    md = (out / "results.md").read_text()
    assert "seed 0: 2 runs saw identical real batches over their first 30 critic steps and started from the same " \
           "initial networks" in md
    digests = {k: json.loads((out / "runs" / k / "result.json").read_text())["init_digest"]
               for k in ("sgan/s0", "wgan_gp/s0", "sgan/s1")}
    assert digests["sgan/s0"] == digests["wgan_gp/s0"] != digests["sgan/s1"]


def test_rerun_skips_finished_runs_and_reruns_a_crashed_one(tiny):
    config, out, _ = tiny
    mtimes = {p: p.stat().st_mtime_ns for p in out.glob("runs/*/*/result.json")}
    again = _run(config, out)
    assert again.ran == [] and sorted(again.skipped) == ["sgan/s0", "sgan/s1", "wgan_gp/s0", "wgan_gp/s1"]
    assert {p: p.stat().st_mtime_ns for p in out.glob("runs/*/*/result.json")} == mtimes
    crashed = out / "runs" / "wgan_gp" / "s1"
    before = json.loads((crashed / "result.json").read_text())
    (crashed / "result.json").unlink()  # as if the run died before writing its result
    third = _run(config, out)
    assert third.ran == ["wgan_gp/s1"] and len(third.skipped) == 3
    after = json.loads((crashed / "result.json").read_text())
    assert after["final"] == pytest.approx(before["final"], nan_ok=True)  # same seed, same run
    assert after["history"][-1]["hq"] == before["history"][-1]["hq"]


def test_rerun_with_another_budget_in_the_same_folder_is_refused(tiny, tmp_path):
    config, out, _ = tiny
    changed = yaml.safe_load(open(config))
    changed["budget"] = {"images": 640}
    path = tmp_path / "changed.yaml"
    path.write_text(yaml.safe_dump(changed))
    with pytest.raises(ConfigurationError, match="different config or budget"):
        _run(str(path), out)


def test_a_failing_run_does_not_stop_the_others_and_runs_again_next_time(tmp_path, monkeypatch):
    import ganmods.compare.schedule as schedule

    real = schedule.execute_run

    def flaky(run, *args, **kwargs):
        if run.variant == "wgan_gp":
            raise RuntimeError("simulated crash")
        return real(run, *args, **kwargs)

    config = _config(tmp_path, seeds=[0])
    monkeypatch.setattr(schedule, "execute_run", flaky)
    first = _run(config, tmp_path / "out")
    assert first.ran == ["sgan/s0"] and first.failed == ["wgan_gp/s0"]
    assert "simulated crash" in (tmp_path / "out" / "runs" / "wgan_gp" / "s0" / "error.txt").read_text()
    assert "1/2 runs finished" in (tmp_path / "out" / "results.md").read_text()
    monkeypatch.setattr(schedule, "execute_run", real)
    second = _run(config, tmp_path / "out")
    assert second.ran == ["wgan_gp/s0"] and second.skipped == ["sgan/s0"] and not second.failed


def test_merge_rules():
    shared = {"model": {"class_path": "A", "init_args": {"ema_decay": 0.9, "generator": {"class_path": "G",
                                                                                         "init_args": {"h": 1}}}}}
    variant = {"model": {"class_path": "B", "init_args": {"generator": {"class_path": "H", "init_args": {"w": 2}},
                                                          "n_critic": 5}}}
    merged = deep_merge(shared, variant)
    assert merged["model"]["class_path"] == "B" and merged["model"]["init_args"]["ema_decay"] == 0.9
    assert merged["model"]["init_args"]["generator"] == {"class_path": "H", "init_args": {"w": 2}}  # no leak of h
    assert shared["model"]["init_args"]["generator"]["init_args"] == {"h": 1}  # inputs untouched
    assert parse_override("--model.init_args.gp_weight=0.1", "x") == (["model", "init_args", "gp_weight"], 0.1)
    config: dict = {}
    apply_override(config, ["data", "dataset_options"], {"std": 0.02})
    assert config == {"data": {"dataset_options": {"std": 0.02}}}
    for bad in ("no_equals_sign", "=3", "a..b=1", 5):
        with pytest.raises(ConfigurationError, match="x must be an override"):
            parse_override(bad, "x")


def test_generator_step_budget_overrides_every_variants_own(tmp_path):
    config = _config(tmp_path, budget={"generator_steps": 4}, seeds=[0])
    outcome = _run(config, tmp_path / "out", variants=["wgan_gp"])
    result = json.loads((tmp_path / "out" / "runs" / "wgan_gp" / "s0" / "result.json").read_text())
    assert outcome.ran == ["wgan_gp/s0"]
    assert (result["generator_steps"], result["critic_steps"], result["status"]) == (4, 8, "finished")


def test_seconds_budget_stops_on_training_wall_clock_and_says_it_is_not_reproducible(tmp_path):
    config = _config(tmp_path, budget={"seconds": 0.3}, seeds=[0])
    _run(config, tmp_path / "out", variants=["sgan"])
    result = json.loads((tmp_path / "out" / "runs" / "sgan" / "s0" / "result.json").read_text())
    assert result["train_s"] >= 0.3 and result["status"] == "finished"
    assert "NOT reproducible" in (tmp_path / "out" / "results.md").read_text()


@pytest.mark.parametrize("change, message", [
    ({"budget": {"images": 0}}, "budget.images must be an integer >= 1"),
    ({"budget": {"images": 960, "seconds": 10}}, "budget must be a mapping with exactly one of"),
    ({"budget": {"epochs": 3}}, "budget must be a mapping with exactly one of"),
    ({"variants": {"nope": ["model.class_path=ganmods.NoSuchGAN"]}}, "unknown variant"),
    ({"variants": {"nope": "configs/toy/no_such_variant.yaml"}}, "variants.nope .variant config. must be an existing"),
    ({"variants": {"big": ["model.class_path=ganmods.SGAN", "model.init_args.discriminator.init_args.hidden=32"]}},
     "strict fairness.*model.init_args.discriminator"),
    ({"variants": {"b": ["model.class_path=ganmods.SGAN", "data.batch_size=64"]}}, "strict fairness.*data.batch_size"),
    ({"variants": {"s": ["model.class_path=ganmods.SGAN", "data.seed=3"]}}, "does not set itself"),
    ({"variants": {"s": ["model.class_path=ganmods.SGAN", "model.init_args.n_critic=0"]}}, "n_critic must be"),
    ({"variants": {"s": ["model.class_path=ganmods.SGAN", "model.init_args.no_such_arg=1"]}}, "variants.s"),
    ({"seeds": [0, 0]}, "seeds must be a non-empty list of distinct"),
    ({"evaluation": {"rank_by": "fid"}}, "rank_by must name metrics"),
    ({"bogus": 1}, "bogus must be one of the keys"),
])
def test_bad_input_fails_before_any_run(tmp_path, change, message):
    config = _config(tmp_path, **change)
    with pytest.raises(ConfigurationError, match=message):
        _run(config, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_shared_trainer_may_not_set_stopping_rules(tmp_path):
    config = yaml.safe_load(open(_config(tmp_path)))
    config["shared"]["trainer"]["max_steps"] = 100
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(ConfigurationError, match="shared.trainer.max_steps must be unset"):
        load_comparison(str(tmp_path / "c.yaml"))


def test_unknown_variant_name_on_the_command_line_is_one_line_and_status_2(tmp_path, capsys):
    assert main(["compare", "-c", _config(tmp_path), "--out", str(tmp_path / "o"), "--variants", "nope"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ganmods: error: variants must be names of variants")


def test_non_strict_comparison_records_what_a_variant_changes(tmp_path):
    config = _config(tmp_path, strict=False, variants={
        "sgan": ["model.class_path=ganmods.SGAN"],
        "sgan_wide": ["model.class_path=ganmods.SGAN", "model.init_args.discriminator.init_args.hidden=32"]})
    comparison = load_comparison(config)
    checked = check_runs(comparison, plan_runs(comparison, str(tmp_path / "out")))
    assert list(checked.deviations) == ["sgan_wide"]
    assert "model.init_args.discriminator" in checked.deviations["sgan_wide"][0]
    assert checked.metrics[:3] == ("modes", "hq", "reverse_kl") and checked.rank_by == checked.metrics


def test_comparison_wide_overrides_apply_to_shared_and_win_over_variant_files(tmp_path):
    raw = yaml.safe_load(open(_config(tmp_path)))
    (tmp_path / "sgan_variant.yaml").write_text(yaml.safe_dump({"model": {"class_path": "ganmods.SGAN",
                                                                          "init_args": {"ema_decay": 0.7}}}))
    (tmp_path / "plain.yaml").write_text(yaml.safe_dump(raw))
    (tmp_path / "common.yaml").write_text(yaml.safe_dump({**raw, "overrides": ["model.init_args.ema_decay=0.5"]}))
    comparison = load_comparison(str(tmp_path / "common.yaml"))
    assert comparison.shared["model"]["init_args"]["ema_decay"] == 0.5
    assert [v.config["model"]["init_args"]["ema_decay"] for v in comparison.variants] == [0.5, 0.5]
    check_runs(comparison, plan_runs(comparison, str(tmp_path / "out")))  # strictly fair
    plain = load_comparison(str(tmp_path / "plain.yaml"))  # without the override the file's 0.7 is a deviation
    with pytest.raises(ConfigurationError, match=r"variants.sgan must use the shared .*ema_decay \(shared 0.9, "
                                                 r"variant 0.7\)"):
        check_runs(plain, plan_runs(plain, str(tmp_path / "out")))
    with pytest.raises(ConfigurationError, match="overrides.0. must be an override of anything but model.class_path"):
        load_comparison(_config(tmp_path, overrides=["model.class_path=ganmods.WGAN"]))


def test_wandb_runs_are_grouped_by_comparison_and_named_by_variant_and_seed(tmp_path):
    wandb = {"class_path": "lightning.pytorch.loggers.WandbLogger", "init_args": {"project": "p", "offline": True}}
    config = yaml.safe_load(open(_config(tmp_path)))
    config["shared"]["trainer"]["logger"] = [{"class_path": "lightning.pytorch.loggers.CSVLogger"}, wandb]
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    runs = plan_runs(load_comparison(str(tmp_path / "c.yaml")), str(tmp_path / "out"))
    loggers = runs[1].config["trainer"]["logger"]  # runs are seed-major: sgan/s0, wgan_gp/s0, ...
    assert [lg["class_path"].rsplit(".", 1)[-1] for lg in loggers] == ["CSVLogger", "WandbLogger"]
    assert loggers[0]["init_args"]["version"] == "s0" and loggers[0]["init_args"]["name"] == "wgan_gp"
    assert loggers[1]["init_args"] == {"project": "p", "offline": True, "name": "wgan_gp-s0", "group": "tiny",
                                       "save_dir": runs[1].run_dir}
    # --wandb adds the offline logger; a run logs through it (wandb disabled in tests) and finishes
    outcome = _run(_config(tmp_path), tmp_path / "out", variants=["sgan"], seeds=[1], wandb=True)
    run = outcome.runs[0]
    assert [lg["init_args"].get("group") for lg in run.config["trainer"]["logger"]] == [None, "tiny"]
    assert outcome.ran == ["sgan/s1"]


def test_budget_and_ranking_helpers():
    with pytest.raises(ConfigurationError, match="budget.seconds must be a finite number"):
        Budget("seconds", 0)
    assert Budget("images", 100).fraction(1, 50, 0.0) == 0.5 and not Budget("seconds", 1.5).reproducible
    assert [direction(m) for m in ("modes", "hq", "reverse_kl", "fid_1500", "kid_1500", "kid_1500_std")] == \
        [True, True, False, False, False, None]
    assert direction("sharpness", {"sharpness": True}) is True
    history = [{"generator_steps": 10, "images_seen": 1, "hq": 0.5},
               {"generator_steps": 20, "images_seen": 2, "hq": 0.7}]
    assert best_of(history, {"generator_steps": 30, "images_seen": 3, "hq": 0.7}, "hq", True) == (0.7, 20, 2)
    assert mean_std([1.0]) == (1.0, None) and fmt(*mean_std([1.0, 3.0])) == "2 ± 1.4"
    assert math.isnan(mean_std([1.0, math.nan])[0]) and cell([1.0, math.nan, 3.0]) == "2 ± 1.4 (1 nan)"
    assert cell([math.nan, math.nan]) == "nan" and cell([0.5]) == "0.5"
    assert interval_cell([1.0, 3.0, math.nan]) == "2 [1, 3] (1 nan)"  # two seeds: the resample means 1, 2, 2, 3
    assert interval_cell([0.5]) == "0.5 (1 seed: no interval)" and interval_cell([None, None]) == "–"
    assert interval_cell([math.nan, None]) == "nan"


def test_shipped_comparison_configs_check(monkeypatch, tmp_path):
    monkeypatch.chdir(ROOT)
    ring8 = load_comparison("configs/compare/ring8.yaml")
    assert [v.name for v in ring8.variants] == ["sgan", "sgan_saturating", "wgan", "wgan_gp", "rsgan", "rasgan",
                                                 "ralsgan", "rahinge", "rasgan_gp"]
    assert ring8.seeds == (0, 1, 2) and ring8.strict and ring8.search.trials == 1  # the demo: the configs only
    ring8 = load_comparison("configs/compare/ring8.yaml", trials=8, seeds=[0])  # the recorded study's trials
    runs = plan_runs(ring8, "runs/compare/ring8")
    assert len(runs) == 9 * 8
    checked = check_runs(ring8, runs)  # every variant and every trial builds, strictly fair
    assert checked.rank_by == ("modes", "hq")
    grid25 = load_comparison("configs/compare/grid25.yaml", trials=1)  # every trial: test_shipped_searches_check
    assert grid25.shared["data"]["dataset"] == "grid25" and len(grid25.variants) == 9
    check_runs(grid25, plan_runs(grid25, "runs/compare/grid25"))
    digits = load_comparison("configs/compare/digits.yaml", trials=1)
    assert len(digits.variants) == 9 and digits.shared["data"]["dataset"] == "digits"
    # the shared networks are those of configs/digits/*.yaml: strict fairness accepts every variant file,
    # WGAN's through its override back to the shared layer-normalised critic
    runs = plan_runs(digits, "runs/compare/digits")
    checked = check_runs(digits, runs)
    assert checked.rank_by == ("fid_1500",)
    wgan = [run for run in runs if run.variant == "wgan"]
    assert wgan and all(run.config["model"]["init_args"]["discriminator"]["init_args"]["norm"] == "layer"
                        for run in wgan)
    with open("configs/digits/wgan.yaml") as own_file, open("configs/compare/digits.yaml") as compare_file:
        own, raw = yaml.safe_load(own_file), yaml.safe_load(compare_file)
    assert own["model"]["init_args"]["discriminator"]["init_args"]["norm"] == "instance"
    raw["variants"]["wgan"] = "configs/digits/wgan.yaml"  # without the override the file's critic differs
    (tmp_path / "digits.yaml").write_text(yaml.safe_dump(raw))
    plain = load_comparison(str(tmp_path / "digits.yaml"), trials=1)
    with pytest.raises(ConfigurationError, match='variants.wgan .*"norm": "instance"'):
        check_runs(plain, plan_runs(plain, "runs/compare/digits"))


@pytest.mark.slow  # builds 9 variants x 8 (grid25) and x 4 (digits) trials and scores the digits protocol: ~40 s
def test_shipped_searches_check(monkeypatch):
    monkeypatch.chdir(ROOT)
    for name, trials in (("grid25", 8), ("digits", 4)):  # the recorded studies' trial counts
        comparison = load_comparison(f"configs/compare/{name}.yaml", trials=trials, seeds=[0])
        assert comparison.search.trials == trials and comparison.search.source == "default"
        check_runs(comparison, plan_runs(comparison, f"runs/compare/{name}"))  # every trial builds, strictly fair


@pytest.mark.slow  # two worker processes each import torch and Lightning: 8 s on an idle 2-core machine, ~30 s busy
def test_parallel_runs_match_the_in_process_runs(tiny, tmp_path):
    config, out, _ = tiny
    outcome = _run(config, tmp_path / "par", parallel=2, seeds=[0])
    assert sorted(outcome.ran) == ["sgan/s0", "wgan_gp/s0"]
    for key in outcome.ran:
        par = json.loads((tmp_path / "par" / "runs" / key / "result.json").read_text())
        seq = json.loads((out / "runs" / key / "result.json").read_text())
        assert par["final"] == pytest.approx(seq["final"], nan_ok=True) and par["batch_digest"] == seq["batch_digest"]
        assert par["threads"] == max(1, (os.cpu_count() or 1) // 2)
    shutil.rmtree(tmp_path / "par")


def test_budget_units_live_in_one_place():
    from ganmods.compare.budget import Budget

    assert Budget("generator_steps", 5).max_generator_steps == 5 and Budget("generator_steps", 5).checked_per_step
    for unit, value in (("images", 640), ("seconds", 2.5)):
        assert Budget(unit, value).max_generator_steps is None and not Budget(unit, value).checked_per_step


def test_shipped_comparisons_resolve_their_variants_from_any_folder(tmp_path, monkeypatch):
    from ganmods.compare.config import load_comparison
    from ganmods.config_files import config_path

    monkeypatch.chdir(tmp_path)  # no configs/ here: the variant files are found among the shipped configs
    comparison = load_comparison("compare/ring8")
    assert {"sgan", "wgan_gp", "rasgan"} <= {v.name for v in comparison.variants}
    own = tmp_path / "mine"
    own.mkdir()
    (own / "variant.yaml").write_text("model:\n  class_path: ganmods.SGAN\n  init_args: {n_critic: 2}\n")
    with open(config_path("compare/ring8")) as fh:
        config = yaml.safe_load(fh)
    config["variants"] = {"mine": "variant.yaml"}  # beside the comparison file, not in the working folder
    (own / "cmp.yaml").write_text(yaml.safe_dump(config))
    (mine,) = load_comparison(str(own / "cmp.yaml")).variants
    assert mine.config["model"]["init_args"]["n_critic"] == 2


def test_score_lines_packs_whole_items_within_the_width_and_drops_nan():
    scores = {"fid_1500": 3.0321, "kid_1500": 0.01222, "precision": 0.7327, "recall": float("nan"),
              "density": 0.6663, "coverage": 1.0}
    text = score_lines(scores, width=30)
    assert text.split("\n") == ["fid_1500 3.03, kid_1500 0.0122", "precision 0.733, density 0.666",
                                "coverage 1"]
    assert all(len(line) <= 30 for line in text.split("\n"))
    assert score_lines({"a_very_long_metric_name": 1.0}, width=5) == "a_very_long_metric_name 1"
    assert score_lines({"fid": float("nan")}) == ""
    default = score_lines(scores).split("\n")
    assert len(default) == 2 and all(len(line) <= 60 for line in default)
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ConfigurationError, match="width must be a positive integer"):
            score_lines(scores, width=bad)
