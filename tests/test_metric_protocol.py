"""The metric protocol: every shipped metric declares its names, directions, main value and reduction."""

from __future__ import annotations

import pytest
import torch

from ganmods import GANDataModule
from ganmods.compare import direction as compare_direction
from ganmods.errors import ConfigurationError
from ganmods.metrics import ImageMetrics, MetricSpec, ModeMetrics, direction, shipped_higher_is_better, spec_of


@pytest.fixture(scope="module")
def digits_metric(tmp_path_factory):
    return ImageMetrics("digits", kid_subset_size=10, device="cpu", cache_dir=str(tmp_path_factory.mktemp("cache")))


def test_mode_metrics_declare_every_name():
    spec = ModeMetrics().spec(2500)
    assert spec.names == ("modes", "hq", "reverse_kl") and spec.main == "reverse_kl"
    assert [direction(spec, k) for k in ("modes", "hq", "reverse_kl")] == ["max", "max", "min"]
    assert spec.reduce == {"modes": "none", "hq": "none", "reverse_kl": "none"}
    centers = torch.tensor([[0.0, 0.0], [5.0, 0.0]])
    assert set(ModeMetrics().score(centers, centers, 0.1)) == set(spec.names)


def test_image_metrics_declare_every_name(digits_metric):
    spec = digits_metric.spec(2500)
    assert spec.names == ("fid_2500", "kid_2500", "kid_2500_std") and spec.main == "fid_2500"
    assert direction(spec, "fid_2500") == "min" and direction(spec, "val/kid_2500") == "min"
    assert spec.reduce == dict.fromkeys(spec.names, "none")
    with pytest.raises(ConfigurationError, match="not a score"):
        direction(spec, "kid_2500_std")
    assert digits_metric.spec(10_000).main == "fid_10k"
    no_kid = ImageMetrics("digits", kid=False, device="cpu").spec(1500)
    assert no_kid.names == ("fid_1500",)


def test_declared_names_match_what_score_returns(digits_metric):
    from ganmods.data.digits import load_digits

    real, fake = load_digits("held_out", 8)[:40], load_digits("train", 8)[:30]
    with pytest.warns(UserWarning):
        scores = digits_metric.score(fake, real, "protocol-test")
    assert tuple(scores) == digits_metric.spec(30).names


def test_direction_through_the_datamodule(digits_metric):
    assert direction(GANDataModule("ring8"), "val/reverse_kl") == "min"
    assert direction(GANDataModule("grid25"), "final/modes") == "max"
    dm = GANDataModule("digits", image_size=8, eval_samples=1000, metric=digits_metric)
    assert dm.metric_spec.main == "fid_1k" and direction(dm, "val/fid_1k") == "min"
    assert direction((ModeMetrics(), 100), "hq") == "max"


def test_unknown_metric_name_raises_naming_the_known_ones():
    with pytest.raises(ConfigurationError) as info:
        direction(GANDataModule("ring8"), "val/fid_2500")
    msg = str(info.value)
    assert "val/fid_2500" in msg and "reverse_kl" in msg and "modes" in msg
    with pytest.raises(ConfigurationError, match="metric must be one of"):
        direction(GANDataModule("swissroll"), "modes")  # the swiss roll is not scored
    with pytest.raises(ConfigurationError, match="source must be"):
        spec_of("ring8")


def test_spec_validation():
    with pytest.raises(ConfigurationError, match="higher_is_better"):
        MetricSpec(("a", "b"), {"a": True})
    with pytest.raises(ConfigurationError, match="main"):
        MetricSpec(("a", "s"), {"a": True, "s": None}, main="s")
    with pytest.raises(ConfigurationError, match="reduce"):
        MetricSpec(("a",), {"a": True}, reduce={"a": "max"})
    with pytest.raises(ConfigurationError, match="true, false or null"):
        MetricSpec(("a",), {"a": "yes"})
    spec = MetricSpec(("a", "b"), {"a": True, "b": False}, main="b", reduce={"a": "sum"})
    assert spec.reduce == {"a": "sum", "b": "none"} and spec.scored() == ["a", "b"]


def test_comparison_reads_directions_from_the_metric():
    spec = MetricSpec(("sharpness", "fid_10k"), {"sharpness": True, "fid_10k": None})
    assert compare_direction("sharpness", spec=spec) is True
    assert compare_direction("fid_10k", spec=spec) is None  # the metric's word beats the shipped name
    assert compare_direction("fid_10k", {"fid_10k": True}, spec) is True  # the comparison's declaration wins
    assert compare_direction("unknown", spec=spec) is None
    assert [shipped_higher_is_better(m) for m in ("modes", "reverse_kl", "fid_10k", "kid_1500", "kid_10k_std",
                                                  "fid", "fidelity_10k")] == [True, False, False, False, None,
                                                                              None, None]


def test_spec_normalises_its_fields_and_stays_frozen():
    directions = {"a": True, "s": None}
    spec = MetricSpec(["a", "s"], directions, main="a")
    assert spec.names == ("a", "s") and spec.reduce == {"a": "none", "s": "none"}
    directions["a"] = False  # the spec holds its own copy
    assert spec.higher_is_better == {"a": True, "s": None}
    with pytest.raises(AttributeError):
        spec.names = ("b",)
