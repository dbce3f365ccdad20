"""The shipped digit classifier: accuracy, deterministic features, a meaningful FID space, packaging."""

from __future__ import annotations

import fnmatch
import hashlib
import importlib.util
import tomllib
from pathlib import Path

import pytest
import torch

from ganmods.data.digits import load_digits
from ganmods.errors import ConfigurationError
from ganmods.metrics import DigitClassifier, ImageMetrics, load_digit_classifier
from ganmods.metrics.digits import DIGIT_CLASSIFIER_WEIGHTS, DIGIT_FEATURE_DIM

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("train_digit_classifier", ROOT / "scripts" / "train_digit_classifier.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("size", [8, 32])
def test_held_out_accuracy(size):
    net = load_digit_classifier()
    x, y = load_digits("held_out", image_size=size, with_labels=True)
    with torch.no_grad():
        acc = (net(x).argmax(dim=1) == y).double().mean().item()
    assert acc >= 0.95


def test_features_are_deterministic_and_batch_independent():
    x = load_digits("held_out", image_size=16)[:40]
    a, b = load_digit_classifier(), load_digit_classifier()
    with torch.no_grad():
        f = a.features(x)
        assert f.shape == (40, DIGIT_FEATURE_DIM)
        assert torch.equal(f, a.features(x)) and torch.equal(f, b.features(x))
        assert torch.allclose(a.features(x[:7]), f[:7], atol=1e-5)
        assert not a.training


def test_features_are_standardised_on_the_train_split():
    with torch.no_grad():
        f = load_digit_classifier().features(load_digits("train", image_size=32))
    assert f.mean(dim=0).abs().max() < 1e-3 and (f.std(dim=0) - 1).abs().max() < 1e-3


def test_fid_in_digit_space_small_for_digits_large_for_noise(tmp_path):
    metrics = ImageMetrics("digits", kid=False, cache_dir=str(tmp_path), device="cpu")
    train, held = load_digits("train", image_size=32), load_digits("held_out", image_size=32)
    noise = torch.rand(held.shape, generator=torch.Generator().manual_seed(0)) * 2 - 1
    blank = torch.full_like(held, -1.0) + 0.01 * torch.randn(held.shape, generator=torch.Generator().manual_seed(1))
    floor = metrics.score(held, train, "digits-train-32")["fid_297"]
    assert floor < 3.0
    assert metrics.score(noise, train, "digits-train-32")["fid_297"] > 30 * floor
    assert metrics.score(blank, train, "digits-train-32")["fid_297"] > 30 * floor


def test_shipped_file_is_small_and_in_provenance():
    assert DIGIT_CLASSIFIER_WEIGHTS.is_file() and DIGIT_CLASSIFIER_WEIGHTS.stat().st_size <= 1_000_000
    sha = hashlib.sha256(DIGIT_CLASSIFIER_WEIGHTS.read_bytes()).hexdigest()
    assert ImageMetrics("digits", device="cpu").provenance["weights_sha256"] == sha


def test_weights_ship_as_package_data():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = config["package-data"]["ganmods.metrics"]
    relative = DIGIT_CLASSIFIER_WEIGHTS.relative_to(ROOT / "ganmods" / "metrics").as_posix()
    assert any(fnmatch.fnmatch(relative, p) for p in patterns)


@pytest.mark.parametrize(
    "x", [torch.zeros(2, 3, 16, 16), torch.zeros(2, 1, 16, 8), torch.zeros(2, 1, 4, 4), torch.zeros(2, 1, 16, 16).long()]
)
def test_bad_images(x):
    with pytest.raises(ConfigurationError, match="^images must be"):
        DigitClassifier()(x)


def test_bad_construction_and_weights(tmp_path):
    with pytest.raises(ConfigurationError, match="^feature_dim must be"):
        DigitClassifier(feature_dim=0)
    with pytest.raises(ConfigurationError, match="^weights_path must be"):
        load_digit_classifier(tmp_path / "missing.pt")
    torch.save({"w": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(ConfigurationError, match="^weights_path must be a DigitClassifier state dict"):
        load_digit_classifier(tmp_path / "other.pt")


def test_random_shift_fills_with_background():
    from ganmods.metrics import classifier_training as script

    x = torch.ones(6, 1, 32, 32)
    shifted = script.random_shift(x, 4, torch.Generator().manual_seed(0))
    assert shifted.shape == x.shape and set(shifted.unique().tolist()) <= {-1.0, 1.0}
    assert (shifted == -1).any() and torch.equal(script.random_shift(x, 0, torch.Generator()), x)
    net = load_digit_classifier()
    xs, ys = load_digits("held_out", image_size=32, with_labels=True)
    assert script.accuracy(net, xs[:50], ys[:50]) == pytest.approx(
        (net(xs[:50]).argmax(1) == ys[:50]).double().mean().item())


def test_training_script_writes_loadable_weights(tmp_path, capsys):
    """~3 s: one epoch."""
    acc = _script().main(["--out", str(tmp_path / "w.pt"), "--epochs", "1"])
    net = load_digit_classifier(tmp_path / "w.pt")
    assert 0.0 <= acc <= 1.0 and "held-out accuracy" in capsys.readouterr().out
    assert not torch.equal(net.feature_std, torch.ones(DIGIT_FEATURE_DIM))
