"""`ganmods compare` beyond the core variants: BiGAN variants on ring8 (the encoder's scores in the table, the
encoder held to the shared one) and CycleGAN variants on the two-domain digits (its translation scores, ranked by
one of them), each a tiny comparison through the same orchestration as tests/test_compare.py."""

from __future__ import annotations

import csv
import io
import json
import math

import pytest
import yaml

from ganmods.compare import check_runs, load_comparison, plan_runs, run_comparison
from ganmods.errors import ConfigurationError

BIGAN_NETS = {
    "generator": {"class_path": "ganmods.nets.MLPGenerator",
                  "init_args": {"latent_dim": 2, "out_dim": 2, "hidden": 16, "depth": 2}},
    "encoder": {"class_path": "ganmods.nets.encoders.MLPEncoder",
                "init_args": {"in_dim": 2, "latent_dim": 2, "hidden": 16, "depth": 2}},
    "discriminator": {"class_path": "ganmods.nets.joint.JointMLPCritic",
                      "init_args": {"x_dim": 2, "latent_dim": 2, "hidden": 16, "depth": 2}},
}
BIGAN = "model.class_path=ganmods.BiGAN"
TRAINER = {"accelerator": "cpu", "devices": 1, "enable_model_summary": False}


def _bigan_config(tmp, **changes) -> str:
    """Two BiGAN variants (the paper's non-saturating loss; Wasserstein with a gradient penalty on the joint
    critic), 1 seed, 10 critic steps of 32 ring8 points, validation every 5."""
    config = {
        "name": "bigan_tiny", "seeds": [0], "budget": {"images": 320}, "parallel": 1,
        "shared": {"model": {"init_args": {"ema_decay": 0.9, "latent_eval_samples": 200, **BIGAN_NETS}},
                   "data": {"dataset": "ring8", "batch_size": 32, "batches_per_epoch": 5, "val_size": 64,
                            "eval_samples": 200},
                   "trainer": dict(TRAINER)},
        "variants": {"bigan": [BIGAN],
                     "bigan_wgan_gp": [BIGAN, "model.init_args.loss=wasserstein", "model.init_args.gp_weight=0.1"]},
    }
    config.update(changes)
    path = tmp / "bigan.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def _translator(kind: str) -> dict:
    if kind == "generator":
        return {"class_path": "ganmods.nets.translation.ResNetTranslator",
                "init_args": {"channels": 1, "image_size": 16, "width": 4, "blocks": 1}}
    return {"class_path": "ganmods.nets.translation.PatchCritic",
            "init_args": {"channels": 1, "image_size": 16, "width": 4, "layers": 1}}


def _cyclegan_config(tmp) -> str:
    """Two CycleGAN variants (the paper's least-squares loss; non-saturating) on digits against inverted digits
    at 16 px, the smallest shipped translators and patch critics, 1 seed, 4 critic steps of 8 pairs, ranked by
    how often the digit survives the A -> B translation."""
    config = {
        "name": "cyclegan_tiny", "seeds": [0], "budget": {"images": 32}, "parallel": 1,
        "evaluation": {"rank_by": ["ab_label_preserved"]},
        "shared": {
            "model": {"init_args": {
                "cycle_weight": 10.0, "history_size": 8,
                "generator": {"class_path": "ganmods.nets.translation.TranslatorPair",
                              "init_args": {"ab": _translator("generator"), "ba": _translator("generator")}},
                "discriminator": {"class_path": "ganmods.nets.translation.CriticPair",
                                  "init_args": {"a": _translator("critic"), "b": _translator("critic")}}}},
            "data": {"dataset": "digits_inverted", "image_size": 16, "batch_size": 8, "batches_per_epoch": 2,
                     "val_size": 16, "eval_samples": 64,
                     "metric": {"class_path": "ganmods.metrics.ImageMetrics",
                                "init_args": {"extractor": "digits", "kid": False, "cache_dir": str(tmp / "cache")}}},
            "trainer": dict(TRAINER)},
        "variants": {"cyclegan": ["model.class_path=ganmods.CycleGAN"],
                     "cyclegan_sgan": ["model.class_path=ganmods.CycleGAN", "model.init_args.loss=non_saturating"]},
    }
    path = tmp / "cyclegan.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def _compare(config: str, out):
    return run_comparison(config, out_dir=str(out), stream=io.StringIO(), bars=False)


def _rows(out) -> list[dict[str, str]]:
    with open(out / "results.csv") as fh:
        return list(csv.DictReader(fh))


def _assert_finished_and_fair(out, outcome, variants: list[str], critic_steps: int) -> list[dict[str, str]]:
    """Every run finished with the comparison's outputs; each seed's runs saw the same batches and networks."""
    assert sorted(outcome.ran) == sorted(f"{v}/s0" for v in variants) and not outcome.failed
    for name in ("results.csv", "results.md", "comparison.json", "plots/samples.png"):
        assert (out / name).is_file(), name
    rows = _rows(out)
    assert sorted(r["variant"] for r in rows) == sorted(variants)
    assert all(r["status"] == "finished" and int(r["critic_steps"]) == critic_steps for r in rows)
    assert len({r["batch_digest"] for r in rows}) == 1 and len({r["init_digest"] for r in rows}) == 1
    md = (out / "results.md").read_text()
    assert "Fairness: strict." in md and f"{len(variants)}/{len(variants)} runs finished" in md
    assert (f"seed 0: {len(variants)} runs saw identical real batches over their first {critic_steps} critic steps "
            "and started from the same initial networks") in md
    assert json.loads((out / "comparison.json").read_text())["deviations"] == {}
    return rows


# ---------------------------------------------------------------- BiGAN on ring8
@pytest.fixture(scope="module")
def bigan(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("compare_bigan")
    config = _bigan_config(tmp)
    return config, tmp / "out", _compare(config, tmp / "out")


def test_bigan_comparison_reports_the_mode_and_encoder_scores(bigan):
    _, out, outcome = bigan
    rows = _assert_finished_and_fair(out, outcome, ["bigan", "bigan_wgan_gp"], critic_steps=10)
    metrics = json.loads((out / "comparison.json").read_text())["metrics"]
    assert metrics[:3] == ["modes", "hq", "reverse_kl"] and metrics[-2:] == ["reconstruction_mse", "latent_mse"]
    for row in rows:
        for metric in ("modes", "hq", "reconstruction_mse", "latent_mse"):
            for column in ("val", "test", "val_raw", "test_raw", "best"):  # EMA on: the raw networks are scored too
                assert math.isfinite(float(row[f"{column}_{metric}"])), (row["variant"], column, metric)
        result = json.loads((out / "runs" / row["variant"] / "s0" / "result.json").read_text())
        last = result["history"][-1]  # the BiGAN's own validation at the final step, on the same held-out points
        assert last["critic_steps"] == 10
        assert float(row["val_reconstruction_mse"]) == pytest.approx(last["reconstruction_mse"], rel=1e-5)
        assert float(row["val_latent_mse"]) == pytest.approx(last["latent_mse"], rel=1e-5)
        assert row["val_reconstruction_mse"] != row["test_reconstruction_mse"]  # a disjoint reference
    md = (out / "results.md").read_text()
    assert "reconstruction_mse ↓ test" in md and "latent_mse ↓ test" in md and "modes ↑ test" in md
    for variant in ("bigan", "bigan_wgan_gp"):  # the scatter, drawn without a contour of the joint critic
        assert (out / "runs" / variant / "s0" / "final.png").is_file()


def test_bigan_encoder_scores_rank_without_a_declared_direction(tmp_path):
    config = _bigan_config(tmp_path, evaluation={"rank_by": ["reconstruction_mse", "modes"]})
    comparison = load_comparison(config)
    checked = check_runs(comparison, plan_runs(comparison, str(tmp_path / "out")))
    assert checked.rank_by == ("reconstruction_mse", "modes") and not checked.deviations
    assert checked.directions["reconstruction_mse"] is False and checked.directions["latent_mse"] is False
    assert checked.directions["modes"] is True


def _check_bigan(tmp_path, shared_nets: dict, variants: dict, strict: bool = True):
    """check_runs (every variant built, nothing trained) of a BiGAN comparison with these networks and variants."""
    config = _bigan_config(tmp_path, strict=strict, variants=variants, shared={
        "model": {"init_args": shared_nets}, "data": {"dataset": "ring8", "batch_size": 32, "eval_samples": 100},
        "trainer": dict(TRAINER)})
    comparison = load_comparison(config)
    return check_runs(comparison, plan_runs(comparison, str(tmp_path / "out")))


def test_strict_fairness_holds_the_encoder_with_its_defaults_filled_in(tmp_path):
    encoder = {"class_path": "ganmods.nets.encoders.MLPEncoder",
               "init_args": {"in_dim": 2, "latent_dim": 2, "hidden": 16}}  # depth: the class default, 3
    nets = {**BIGAN_NETS, "encoder": encoder}
    same = [BIGAN, "model.init_args.encoder.init_args.depth=3"]  # the default spelled out: no difference
    deeper = [BIGAN, "model.init_args.encoder.init_args.depth=4"]  # an argument shared leaves to its default
    assert not _check_bigan(tmp_path, nets, {"plain": [BIGAN], "same": same}).deviations
    with pytest.raises(ConfigurationError, match=r"variants\.deeper must use the shared networks.*"
                                                 r"model\.init_args\.encoder \(shared .*\"depth\": 3"):
        _check_bigan(tmp_path, nets, {"plain": [BIGAN], "deeper": deeper})
    loose = _check_bigan(tmp_path, nets, {"plain": [BIGAN], "deeper": deeper}, strict=False)
    assert list(loose.deviations) == ["deeper"] and loose.deviations["deeper"][0].startswith("model.init_args.encoder")


def test_strict_fairness_refuses_an_encoder_that_shared_does_not_give(tmp_path):
    nets = {k: v for k, v in BIGAN_NETS.items() if k != "encoder"}
    own = f"model.init_args.encoder={json.dumps(BIGAN_NETS['encoder'])}"
    with pytest.raises(ConfigurationError, match=r"variants\.a must use the shared networks.*"
                                                 r"model\.init_args\.encoder \(shared \"<unset>\", variant"):
        _check_bigan(tmp_path, nets, {"a": [BIGAN, own], "b": [BIGAN, own]})


def test_bigan_and_core_variants_in_one_comparison_are_refused_for_their_different_scores(tmp_path):
    core = {"generator": BIGAN_NETS["generator"], "discriminator": {"class_path": "ganmods.nets.MLPCritic",
                                                                    "init_args": {"in_dim": 2, "hidden": 16}}}
    bigan = [BIGAN, f"model.init_args.encoder={json.dumps(BIGAN_NETS['encoder'])}",
             f"model.init_args.discriminator={json.dumps(BIGAN_NETS['discriminator'])}"]
    with pytest.raises(ConfigurationError, match="variants must be scored by the same metrics"):
        _check_bigan(tmp_path, core, {"sgan": ["model.class_path=ganmods.SGAN"], "bigan": bigan}, strict=False)


# ---------------------------------------------------------------- CycleGAN on digits against inverted digits
def test_cyclegan_comparison_ranks_by_a_translation_score(tmp_path):
    config = _cyclegan_config(tmp_path)
    outcome = _compare(config, tmp_path / "out")
    rows = _assert_finished_and_fair(tmp_path / "out", outcome, ["cyclegan", "cyclegan_sgan"], critic_steps=4)
    summary = json.loads((tmp_path / "out" / "comparison.json").read_text())
    assert summary["metrics"] == ["ab_mse", "ab_label_preserved", "ab_fid_64", "ba_mse", "ba_label_preserved",
                                  "ba_fid_64"]
    assert summary["rank_by"] == ["ab_label_preserved"]
    for row in rows:
        saved = yaml.safe_load((tmp_path / "out" / "runs" / row["variant"] / "s0" / "config.yaml").read_text())
        assert saved["data"]["dataset"] == "digits_inverted" and saved["data"]["seed"] == 0
        for metric in summary["metrics"]:
            for column in ("val", "test", "best"):
                assert math.isfinite(float(row[f"{column}_{metric}"])), (row["variant"], column, metric)
        assert 0.0 <= float(row["test_ab_label_preserved"]) <= 1.0
    md = (tmp_path / "out" / "results.md").read_text()
    assert "Ranks: by the test `ab_label_preserved`" in md and "ab_label_preserved ↑ test" in md
    assert "ab_mse ↓ test" in md
