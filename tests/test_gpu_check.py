"""benchmarks/gpu_check.py: the smoke run writes every field (so the GPU check cannot rot), and its plain PyTorch
loop computes exactly what ganmods computes (so the ratio compares the same math)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import warnings

import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "benchmarks", "gpu_check.py")


def _load():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def gpu_check():
    return _load()


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu_check")
    env = dict(os.environ, OMP_NUM_THREADS="1", WANDB_MODE="disabled", PYTHONPATH=ROOT)
    done = subprocess.run([sys.executable, SCRIPT, "--smoke", "--out", str(out)], capture_output=True, text=True,
                          timeout=280, env=env, cwd=str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    with open(out / "gpu_check.json") as fh:
        results = json.load(fh)
    return results, (out / "gpu_check.md").read_text()


def test_smoke_run_writes_every_section(smoke):
    results, _ = smoke
    cuda = torch.cuda.is_available()
    env = results["environment"]
    assert env["torch"] == torch.__version__ and env["lightning"] and env["device"]
    assert env["command"].endswith("--smoke --out " + env["command"].split("--out ")[1])
    assert results["smoke"] is True and results["sizes"]["batch"] == 8

    syncs = results["syncs"]
    assert syncs["critic_steps"] == [5, 10] and syncs["scalar_reads_per_critic_step"] >= 0
    assert syncs["scalar_reads_per_critic_step"] == (syncs["scalar_reads"][1] - syncs["scalar_reads"][0]) / 5
    assert (syncs["cuda_syncs"] == "skipped: no CUDA") != cuda

    penalty = results["penalty"]
    assert penalty["fp32"] > 0 and penalty["bf16_mixed_rel"] < 0.05
    # autocast fp16 runs on the CPU too: the scale is halved from 2**16 until the scaled gradient is finite
    assert penalty["16_mixed_rel"] == pytest.approx(abs(penalty["16_mixed"] - penalty["fp32"]) / penalty["fp32"])
    assert penalty["16_mixed_rel"] < 0.05 and 1 <= penalty["16_mixed_scale"] <= 2**16
    assert (results["long_16_mixed"].get("status") == "skipped: no CUDA") != cuda
    fid = results["fid"]
    assert fid["feature_dim"] == 2048 and fid["features_s"] > 0 and fid["samples"] == 2


def test_smoke_run_times_every_setting_against_the_raw_loop(smoke):
    results, _ = smoke
    rows = {(r["net"], r["case"], r["setting"]): r for r in results["throughput"]}
    settings = ["fp32", "bf16-mixed", "16-mixed", "channels_last"]
    expected = {(n, c, s) for n in ("dcgan32", "cnn32") for c in ("wgan_gp", "rasgan") for s in settings}
    expected |= {("dcgan32", c, "compile") for c in ("wgan_gp", "rasgan")}
    assert set(rows) == expected
    for key, row in rows.items():
        if key[2] == "16-mixed" and not torch.cuda.is_available():
            assert row["status"] == "skipped: no CUDA" and "ratio" not in row
            continue
        assert row["status"] == "ok", (key, row["status"])
        assert row["rounds"] == 1 and row["ratio"] > 0
        assert row["ganmods_images_per_s"] == pytest.approx(8 * row["ganmods_critic_steps_per_s"])
        assert row["ratio"] == pytest.approx(row["raw_s"][0] / row["ganmods_s"][0])
    # the penalty's double backward does not compile: the WGAN-GP critic stays uncompiled, on both sides
    assert rows[("dcgan32", "wgan_gp", "compile")]["ganmods_compiled"] == ["generator"]
    assert rows[("dcgan32", "wgan_gp", "compile")]["raw_compiled"] == ["generator"]
    assert rows[("dcgan32", "rasgan", "compile")]["ganmods_compiled"] == ["generator", "discriminator"]


def test_smoke_markdown_names_device_versions_and_command(smoke):
    results, text = smoke
    env = results["environment"]
    assert env["device"] in text and f"torch {env['torch']}" in text and env["command"] in text
    assert "| dcgan32 | wgan_gp | fp32 |" in text and "| dcgan32 | rasgan | compile |" in text
    assert ("skipped: no CUDA" in text) != torch.cuda.is_available()
    assert "## Host synchronisations per critic step" in text and "## FID/KID time" in text


@pytest.mark.parametrize("net, case, setting", [
    ("dcgan32", "wgan_gp", "fp32"), ("cnn32", "rasgan", "bf16-mixed"), ("dcgan32", "rasgan", "channels_last"),
])
def test_raw_loop_does_exactly_what_ganmods_does(gpu_check, net, case, setting):
    sizes, device = gpu_check.SMOKE, torch.device("cpu")
    data = gpu_check.datamodule(sizes, sizes.warmup + sizes.steps)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = gpu_check.run_ganmods(net, case, setting, sizes, device, data)
        raw = gpu_check.run_raw(net, case, setting, sizes, device, data)
    start = gpu_check.build_nets(net, sizes)
    moved = False
    for trained, plain, initial in ((ours.generator, raw.generator, start[0]), (ours.critic, raw.critic, start[1])):
        for (key, a), b, c in zip(trained.state_dict().items(), plain.state_dict().values(),
                                  initial.state_dict().values()):
            assert torch.equal(a, b), key  # same random numbers, batches, formulas and optimizer: same weights
            moved |= not torch.equal(a, c)
    assert moved


def test_summary_of_rounds(gpu_check):
    row = {"ganmods_s": [0.02, 0.04, 0.05], "raw_s": [0.01, 0.05, 0.04]}
    gpu_check._summarise(row, gpu_check.SMOKE)
    # medians 0.04 and 0.04; per-round raw/ganmods 0.5, 1.25, 0.8 -> median 0.8
    assert row["rounds"] == 3 and row["ratio"] == pytest.approx(0.8)
    assert row["ganmods_critic_steps_per_s"] == pytest.approx(25.0) and row["raw_images_per_s"] == pytest.approx(200.0)


def test_bad_rounds_is_refused(gpu_check, tmp_path, capsys):
    with pytest.raises(SystemExit):
        gpu_check.main(["--out", str(tmp_path), "--rounds", "0"])
    assert "--rounds must be >= 1; got 0" in capsys.readouterr().err
