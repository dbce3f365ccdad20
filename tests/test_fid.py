"""ImageMetrics: equal to torch-fidelity's FID, cached real statistics, names, warnings, provenance, errors."""

from __future__ import annotations

import hashlib
import json
import urllib.error
import warnings

import pytest
import torch
from torch import nn

from ganmods.errors import ConfigurationError
from ganmods.metrics import ImageMetrics, count_label
from ganmods.metrics.digits import DIGIT_CLASSIFIER_WEIGHTS


class Counting(nn.Module):
    """A cheap custom extractor: a fixed random projection of the flattened image; counts its calls."""

    def __init__(self, in_dim: int = 3 * 8 * 8, dim: int = 4, seed: int = 0) -> None:
        super().__init__()
        self.proj = nn.Linear(in_dim, dim)
        with torch.no_grad():
            self.proj.weight.copy_(torch.randn(dim, in_dim, generator=torch.Generator().manual_seed(seed)) / 8)
        self.calls = 0
        self.inputs: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        self.inputs.append(x.clone())
        return self.proj(x.flatten(1))


def _images(n: int, seed: int, shift: float = 0.0, c: int = 3, size: int = 8) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, c, size, size, generator=g) * 1.6 - 0.8 + shift).clamp(-1, 1)


def _random_inception_file(path) -> str:
    """A randomly initialised state dict of torch-fidelity's own InceptionV3 architecture, saved to ``path``."""
    import torch_fidelity.feature_extractor_inceptionv3 as tfi

    mp = pytest.MonkeyPatch()
    mp.setattr(tfi, "load_state_dict_from_url", lambda *a, **k: {})
    mp.setattr(tfi.FeatureExtractorInceptionV3, "load_state_dict", lambda self, *a, **k: None)
    try:
        torch.manual_seed(0)
        net = tfi.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    finally:
        mp.undo()
    for module in net.modules():  # He init keeps activations O(1) through the 94 conv layers
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    torch.save(net.state_dict(), path)
    return str(path)


class _Uint8Set(torch.utils.data.Dataset):
    def __init__(self, images: torch.Tensor) -> None:
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.images[i]


def test_fid_equals_torch_fidelity_with_the_same_weights_file(tmp_path):
    """~25 s: 2 × 20 images through InceptionV3 at 299 px, once here and once in torch-fidelity."""
    import torch_fidelity

    weights = _random_inception_file(tmp_path / "inception.pt")
    g = torch.Generator().manual_seed(1)
    fake_u8 = torch.randint(0, 256, (20, 1, 32, 32), dtype=torch.uint8, generator=g)
    real_u8 = (torch.rand(20, 1, 32, 32, generator=g) * 180 + 40).round().to(torch.uint8)
    # Grey floats on the uint8 grid: rounding (not truncating) must recover these bytes, and ImageMetrics
    # must repeat the grey channel to RGB as torch-fidelity's inputs are repeated here.
    fake, real = fake_u8.float() / 127.5 - 1.0, real_u8.float() / 127.5 - 1.0
    metrics = ImageMetrics(weights_path=weights, kid=False, cache_dir=str(tmp_path / "cache"), device="cpu")
    with pytest.warns(UserWarning, match="below 2048 samples"):
        ours = metrics.score(fake, real, "grey-20")
    theirs = torch_fidelity.calculate_metrics(
        input1=_Uint8Set(fake_u8.repeat(1, 3, 1, 1)), input2=_Uint8Set(real_u8.repeat(1, 3, 1, 1)), fid=True,
        feature_extractor_weights_path=weights, cuda=False, cache=False, verbose=False, save_cpu_ram=True,
    )["frechet_inception_distance"]
    assert set(ours) == {"fid_20"}
    # Required: within 1e-3. Same bytes and same network give ~1e-7; 1e-5 also catches a resampling change
    # (torchmetrics' antialiased resize moves this FID by 5e-4, truncating instead of rounding by 6e-3).
    assert theirs > 0 and ours["fid_20"] == pytest.approx(theirs, rel=1e-5)
    prov = metrics.provenance
    assert prov["weights_sha256"] == hashlib.sha256(open(weights, "rb").read()).hexdigest()
    assert prov["feature_dim"] == 2048 and prov["grey_to_rgb"] and "no antialias" in prov["resize"]


def test_failed_download_asks_for_weights_path(monkeypatch):
    import torch_fidelity.feature_extractor_inceptionv3 as tfi

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(tfi, "load_state_dict_from_url", offline)
    with pytest.raises(ConfigurationError, match="weights_path=.*pt_inception-2015-12-05"):
        ImageMetrics("inception", device="cpu")


def test_weights_file_of_another_network_is_refused():
    with pytest.raises(ConfigurationError, match="weights_path must be a state dict of torch-fidelity"):
        ImageMetrics("inception", weights_path=str(DIGIT_CLASSIFIER_WEIGHTS), device="cpu")


def test_cache_hit_skips_real_extraction(tmp_path):
    net = Counting()
    real, fake = _images(50, 0), _images(30, 1)
    first = ImageMetrics(net, kid=False, batch_size=10, cache_dir=str(tmp_path), device="cpu")
    a = first.score(fake, real, "toy-real")
    assert net.calls == 5 + 3 and not first.provenance["real_cache"]["hit"]
    second = ImageMetrics(net, kid=False, batch_size=10, cache_dir=str(tmp_path), device="cpu")  # fresh object
    net.calls = 0
    b = second.score(fake, real, "toy-real")
    assert net.calls == 3 and second.provenance["real_cache"]["hit"]  # only the fakes went through
    assert a == b
    net.calls = 0
    second.score(fake, real[:40], "toy-real")  # another n_real is another entry
    assert net.calls == 4 + 3 and len(list(tmp_path.glob("*.pt"))) == 2


def test_cache_key_scheme_and_stale_key(tmp_path):
    metrics = ImageMetrics(Counting(), kid=False, cache_dir=str(tmp_path), device="cpu")
    fields = {
        "format": 1, "real_key": "k", "n_real": 50, "extractor": metrics.extractor_name,
        "feature_layer": "output", "weights_sha256": metrics.weights_sha256, "input": metrics.provenance["input"],
        "resize": metrics.resize,
    }
    assert metrics.cache_key("k", 50) == hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()
    assert metrics.cache_key("k", 50) != ImageMetrics(Counting(seed=1), cache_dir=str(tmp_path)).cache_key("k", 50)
    metrics.score(_images(30, 1), _images(50, 0), "k")
    with pytest.raises(ConfigurationError, match="real_key"):
        metrics.score(_images(30, 1), _images(50, 2), "k")  # same key and count, other images


def test_different_weights_file_is_a_different_cache_entry(tmp_path):
    state = torch.load(DIGIT_CLASSIFIER_WEIGHTS, weights_only=True)
    state["feature_std"] = state["feature_std"] * 2
    torch.save(state, tmp_path / "other.pt")
    real, fake = _images(80, 0, c=1, size=16), _images(70, 1, c=1, size=16)
    shipped = ImageMetrics("digits", kid=False, cache_dir=str(tmp_path / "c"), device="cpu")
    other = ImageMetrics("digits", weights_path=str(tmp_path / "other.pt"), kid=False, cache_dir=str(tmp_path / "c"),
                         device="cpu")
    assert shipped.weights_sha256 != other.weights_sha256
    assert shipped.cache_key("d", 80) != other.cache_key("d", 80)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fid_a = shipped.score(fake, real, "d")["fid_70"]
        fid_b = other.score(fake, real, "d")["fid_70"]
    assert not other.provenance["real_cache"]["hit"] and len(list((tmp_path / "c").glob("*.pt"))) == 2
    assert fid_b == pytest.approx(fid_a / 4, rel=1e-6)  # features halved → squared distance quartered


def test_names_carry_counts_and_kid_is_there(tmp_path):
    assert [count_label(n) for n in (10000, 2000, 1500, 50000, 1)] == ["10k", "2k", "1500", "50k", "1"]
    metrics = ImageMetrics(Counting(), kid_subset_size=20, cache_dir=str(tmp_path), device="cpu")
    state = torch.get_rng_state()
    same = metrics.score(_images(30, 1), _images(40, 0), "r")
    assert torch.equal(torch.get_rng_state(), state)  # KID subsets do not consume the global RNG
    assert set(same) == {"fid_30", "kid_30", "kid_30_std"}
    shifted = metrics.score(_images(30, 1, shift=0.5), _images(40, 0), "r")
    assert shifted["kid_30"] > same["kid_30"] + 3 * same["kid_30_std"] and shifted["fid_30"] > same["fid_30"]
    assert metrics.score(_images(30, 1), _images(40, 0), "r") == same  # fixed KID seed: reproducible


def test_small_sample_warning_once_per_call(tmp_path):
    metrics = ImageMetrics(Counting(dim=40), kid=False, cache_dir=str(tmp_path), device="cpu")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        metrics.score(_images(30, 1), _images(35, 0), "r")  # both below the 40-d feature dimension
    assert sum("rank-deficient" in str(w.message) for w in caught) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        metrics.score(_images(45, 1), _images(50, 0), "r2")  # enough samples: silent


def test_inputs_are_rounded_and_clamped_not_truncated(tmp_path):
    net = Counting()
    u = torch.arange(0, 256, dtype=torch.uint8).repeat(3 * 64 * 2)[: 4 * 3 * 64].reshape(4, 3, 8, 8)
    x = u.float() / 127.5 - 1.0
    x[0, 0, 0, 0], x[0, 0, 0, 1] = 1.5, -3.0  # out of range: clamped like an image writer
    ImageMetrics(net, kid=False, cache_dir=str(tmp_path), device="cpu").score(x, x.flip(0), "q")
    seen = torch.cat(net.inputs[1:])  # the fakes (real first)
    expected = u.clone()
    expected[0, 0, 0, 0], expected[0, 0, 0, 1] = 255, 0
    assert torch.equal(((seen + 1) * 127.5).round().to(torch.uint8), expected)
    assert torch.allclose(seen, expected.float() / 127.5 - 1.0, atol=1e-6)


def test_extractor_is_not_a_child_of_a_holder(tmp_path):
    holder = nn.Module()
    holder.metrics = ImageMetrics("digits", cache_dir=str(tmp_path), device="cpu")
    assert holder.state_dict() == {} and list(holder.children()) == []


def test_provenance_record(tmp_path, monkeypatch):
    monkeypatch.setenv("GANMODS_CACHE", str(tmp_path / "root"))
    metrics = ImageMetrics(Counting(), kid_subset_size=10, device="cpu")
    assert metrics.cache_dir == tmp_path / "root" / "metrics"
    assert metrics.provenance["n_fake"] is None
    result = metrics.score(_images(30, 1), _images(40, 0), "prov-real")
    saved = json.loads(metrics.save_provenance(tmp_path / "p" / "prov.json").read_text())
    assert saved["results"] == result and saved["real_key"] == "prov-real"
    assert (saved["n_real"], saved["n_fake"], saved["feature_dim"]) == (40, 30, 4)
    assert saved["statistics_dtype"] == "float64" and saved["kid"]["subset_size"] == 10
    assert saved["weights_sha256"] == metrics.weights_sha256 and len(saved["weights_sha256"]) == 64
    assert set(saved["versions"]) == {"ganmods", "torch", "torchmetrics", "torch-fidelity"}
    assert saved["versions"]["torchmetrics"] and saved["resize"] and saved["extractor"].startswith("custom ")
    assert (tmp_path / "root" / "metrics").is_dir()


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"extractor": "vgg16"}, "extractor"),
        ({"extractor": "digits", "weights_path": "/no/such/file.pt"}, "weights_path"),
        ({"extractor": Counting(), "weights_path": str(DIGIT_CLASSIFIER_WEIGHTS)}, "weights_path"),
        ({"extractor": "digits", "kid": "yes"}, "kid"),
        ({"extractor": "digits", "kid_subset_size": 1}, "kid_subset_size"),
        ({"extractor": "digits", "batch_size": 0}, "batch_size"),
        ({"extractor": "digits", "cache_dir": 5}, "cache_dir"),
        ({"extractor": "digits", "device": "toaster"}, "device"),
    ],
)
def test_bad_arguments(kwargs, name):
    with pytest.raises(ConfigurationError, match=f"^{name} must be"):
        ImageMetrics(**kwargs)


@pytest.mark.parametrize(
    "fake, real, key, name",
    [
        (torch.zeros(5, 8, 8), torch.zeros(5, 1, 8, 8), "k", "fake"),
        (torch.zeros(5, 1, 8, 8, dtype=torch.uint8), torch.zeros(5, 1, 8, 8), "k", "fake"),
        (torch.zeros(5, 3, 8, 8), torch.zeros(5, 3, 8, 8), "k", "fake channels"),
        (torch.zeros(5, 1, 8, 8), torch.zeros(5, 1, 16, 16), "k", "fake"),
        (torch.full((5, 1, 8, 8), float("nan")), torch.zeros(5, 1, 8, 8), "k", "fake"),
        (torch.zeros(1, 1, 8, 8), torch.zeros(5, 1, 8, 8), "k", "fake"),
        (torch.zeros(5, 1, 8, 8), torch.zeros(5, 1, 8, 8), " ", "real_key"),
        (torch.zeros(5, 1, 8, 8), torch.zeros(3, 1, 8, 8), "k", "kid_subset_size"),
    ],
)
def test_bad_score_inputs(tmp_path, fake, real, key, name):
    metrics = ImageMetrics("digits", kid_subset_size=4, cache_dir=str(tmp_path), device="cpu")
    with pytest.raises(ConfigurationError, match=f"^{name} must be"):
        metrics.score(fake, real, key)
    assert not any(tmp_path.iterdir())  # refused before any work


def test_build_extractor_names_each_kind_and_hashes_its_weights():
    from ganmods.metrics.digits import DIGIT_CLASSIFIER_WEIGHTS
    from ganmods.metrics.extractors import build_extractor

    net, features, sha, name, layer, _, floor = build_extractor("digits", None)
    assert name == "ganmods DigitClassifier" and floor == net.feature_dim == 64 and layer.startswith("64")
    assert sha == hashlib.sha256(open(DIGIT_CLASSIFIER_WEIGHTS, "rb").read()).hexdigest()
    assert features(torch.zeros(2, 1, 32, 32)).shape == (2, 64)
    custom = torch.nn.Flatten()
    net, features, sha, name, _, _, floor = build_extractor(custom, None)
    assert net is custom and floor is None and name == "custom torch.nn.modules.flatten.Flatten" and len(sha) == 64


# ---------------------------------------------------------------- the cache is only a cache
def _cached_run(cache):
    torch.manual_seed(0)  # the same extractor (bias included) every time: the same cache key
    net = Counting()
    metrics = ImageMetrics(net, kid=False, batch_size=10, cache_dir=str(cache), device="cpu")
    return net, metrics, metrics.score(_images(30, 1), _images(50, 0), "toy-real")


def _entry_file(cache):
    (path,) = [p for p in cache.iterdir() if p.suffix == ".pt"]
    return path


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _garbage(path):
    path.write_bytes(bytes(range(256)) * 8)


def _edit(**changes):
    def apply(path):
        entry = torch.load(path, weights_only=True)
        for name, change in changes.items():
            entry[name] = change(entry[name])
        torch.save(entry, path)
    return apply


def _set(value):
    def change(feats):
        feats = feats.clone()
        feats[3, 1] = value
        return feats
    return change


@pytest.mark.parametrize("damage, reason", [
    (_truncate, "unreadable"),
    (_garbage, "unreadable"),
    (_edit(features=_set(float("nan"))), "non-finite (NaN or inf) features"),
    (_edit(features=_set(123.0)), "failing its checksum"),  # finite but not what was written
    (_edit(features=lambda f: f[:40]), "wrong shape or type ([40, 4], expected [50, D] floats)"),
    (_edit(key=lambda k: "0" * 64), "an entry for another key"),
])
def test_damaged_cache_entry_is_named_recomputed_and_replaced(tmp_path, damage, reason):
    _, _, expected = _cached_run(tmp_path / "c")
    path = _entry_file(tmp_path / "c")
    damage(path)
    with pytest.warns(UserWarning, match="metric cache file") as caught:
        net, metrics, again = _cached_run(tmp_path / "c")
    message = str(caught[0].message)
    assert str(path) in message and reason in message and "recomputing" in message
    assert net.calls == 5 + 3 and not metrics.provenance["real_cache"]["hit"]  # the real features again
    assert again == expected
    net, metrics, third = _cached_run(tmp_path / "c")  # the replaced entry is valid: a hit
    assert net.calls == 3 and metrics.provenance["real_cache"]["hit"] and third == expected
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == [path.name]  # no temporary file left


def test_cache_entry_without_checksum_still_hits(tmp_path):
    _, _, expected = _cached_run(tmp_path / "c")
    path = _entry_file(tmp_path / "c")
    entry = torch.load(path, weights_only=True)
    assert entry["features_sha256"] == hashlib.sha256(entry["features"].numpy().tobytes()).hexdigest()
    del entry["features_sha256"]  # an entry written before checksums were stored
    torch.save(entry, path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        net, metrics, again = _cached_run(tmp_path / "c")
    assert net.calls == 3 and again == expected


def test_unwritable_cache_folder_means_no_cache_warned_once(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    cache = blocker / "cache"  # cannot be created, whoever runs the test
    _, _, expected = _cached_run(tmp_path / "ok")
    with pytest.warns(UserWarning, match="metric cache folder") as caught:
        net, metrics, score = _cached_run(cache)
    assert len([w for w in caught if "metric cache" in str(w.message)]) == 1
    assert str(cache) in str(caught[0].message) and "not cached" in str(caught[0].message)
    assert score == expected and net.calls == 5 + 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the second run in the same folder: no second warning
        net, _, score = _cached_run(cache)
    assert score == expected and net.calls == 5 + 3  # nothing was cached
    assert blocker.read_text() == "not a folder"


def test_read_only_filesystem_cache_folder(tmp_path):
    import os
    import subprocess

    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("mounting a read-only tmpfs needs root")
    cache = tmp_path / "ro"
    cache.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(cache)], capture_output=True,
                          text=True, timeout=20)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        _, _, expected = _cached_run(tmp_path / "ok")
        with pytest.warns(UserWarning, match=r"metric cache folder .*ro is not writable \(Read-only file system\)"):
            net, _, score = _cached_run(cache)
        assert score == expected and net.calls == 5 + 3 and os.listdir(cache) == []
    finally:
        subprocess.run(["umount", str(cache)], capture_output=True, timeout=20)
