"""Precision, recall, density and coverage in the evaluation protocols: the plane for toy data, the metric's feature
space for images; declared in the MetricSpec; an option of the data module."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ganmods.data import DATA_SOURCES, GANDataModule, ImageSource, register_source
from ganmods.data.sources import DistributionSource
from ganmods.data.splits import held_out_halves, latent_seed
from ganmods.errors import ConfigurationError
from ganmods.metrics import ImageMetrics, ModeMetrics, direction, prdc
from ganmods.metrics.prdc import PRDC_NAMES, check_prdc_counts, with_prdc
from ganmods.metrics.protocol import MetricSpec

pytestmark = pytest.mark.filterwarnings("ignore:FID/KID from.*rank-deficient")

# Two clusters of identical points: every k-th-neighbour radius is 0, so each ball holds exactly its cluster.
CLUSTER_A, CLUSTER_B = (0.0, 0.0), (10.0, 0.0)
HAND_REAL = torch.tensor([CLUSTER_A] * 6 + [CLUSTER_B] * 6)  # 12 real points, 6 per cluster
# 12 fakes, all on cluster A. Precision: every fake lies in A's balls -> 1. Recall: only A's reals lie in a fake
# ball -> 6/12. Density: each fake lies in the 6 balls of A -> 12 * 6 / (k_dc = 5 * 12) = 1.2. Coverage: A's 6
# balls hold a fake, B's do not -> 6/12.
HAND_FAKE = torch.tensor([CLUSTER_A] * 12)
HAND_EXPECTED = {"precision": 1.0, "recall": 0.5, "density": 1.2, "coverage": 0.5}


class _FixedPoints:
    """A 'distribution' that returns the hand-made real points, whatever the generator (all 12 for n = 12)."""

    def sample(self, n, generator=None):
        return HAND_REAL.repeat(-(-n // len(HAND_REAL)), 1)[:n]


class _FixedSource(DistributionSource):
    def make_distribution(self):
        return _FixedPoints()


class _Fakes:
    """A stand-in generator returning given points, recording the seeds."""

    def __init__(self, points) -> None:
        self.points, self.seeds = points, []

    def sample(self, n, seed=None, rows=None):
        self.seeds.append(seed)
        return self.points[:n].clone()


@pytest.fixture
def fixed_points():
    register_source("test_fixed_points")(_FixedSource)
    yield "test_fixed_points"
    DATA_SOURCES.pop("test_fixed_points", None)


def test_hand_made_points_through_the_toy_protocol(fixed_points):
    dm = GANDataModule(fixed_points, eval_samples=12)
    assert dm.prdc and dm.metric_spec.names == PRDC_NAMES and dm.metric_spec.main is None
    for split in ("val", "test"):
        model = _Fakes(HAND_FAKE)
        assert dm.evaluate(model, split=split) == pytest.approx(HAND_EXPECTED, abs=1e-12)
        assert model.seeds == [latent_seed(dm.eval_seed, split)]
    assert dm.evaluate(_Fakes(HAND_REAL)) == {"precision": 1.0, "recall": 1.0, "density": 6 / 5, "coverage": 1.0}
    assert dm.evaluate(_Fakes(HAND_REAL + 100.0)) == dict.fromkeys(PRDC_NAMES, 0.0)


def test_the_mixtures_score_prdc_against_the_split_reference():
    dm = GANDataModule("ring8", eval_samples=200, seed=1)
    spec = dm.metric_spec
    assert spec.names == ("modes", "hq", "reverse_kl", *PRDC_NAMES) and spec.main == "reverse_kl"
    for split in ("val", "test"):
        reference = dm.eval_reference(split)
        on_it = dm.evaluate(_Fakes(reference), split=split)  # generated = the split's own real points
        assert (on_it["precision"], on_it["recall"], on_it["coverage"]) == (1.0, 1.0, 1.0)
        assert on_it == {**dm.distribution.evaluate(reference), **prdc(reference.double(), reference.double())}
    far = dm.evaluate(_Fakes(torch.full((200, 2), 50.0)))
    assert far["modes"] == 0 and all(far[name] == 0.0 for name in PRDC_NAMES)
    off = GANDataModule("ring8", eval_samples=200, seed=1, prdc=False)
    assert off.metric_spec.names == ("modes", "hq", "reverse_kl") and not off.prdc
    assert set(off.evaluate(_Fakes(torch.zeros(200, 2)))) == {"modes", "hq", "reverse_kl"}


class _MeanFeature(nn.Module):
    """Maps an image to the point (mean pixel, 0): hand-made images give hand-made feature points."""

    def forward(self, x):
        return torch.stack([x.mean(dim=(1, 2, 3)), torch.zeros(x.shape[0], device=x.device)], dim=1)


class _ValueImages(ImageSource):
    """8x8 grey images of constant value. The validation half of the 24 held-out images holds 6 images of
    value -1 and 6 of value +1 (feature points -1 and +1, as ``HAND_REAL`` up to scale); the test half 12 of 0."""

    native_channels, default_image_size = 1, 8

    def load_split(self, split):
        if split == "train":
            return torch.zeros(16, 1, 8, 8, dtype=torch.uint8)
        held = torch.full((24, 1, 8, 8), 128, dtype=torch.uint8)  # 128 -> +0.0039
        val = held_out_halves(24)[0]
        held[val[:6]], held[val[6:]] = 0, 255  # -> -1 and +1
        return held


@pytest.fixture
def value_images():
    register_source("test_value_images")(_ValueImages)
    yield "test_value_images"
    DATA_SOURCES.pop("test_value_images", None)


def test_hand_made_images_through_the_image_protocol(value_images, tmp_path):
    metric = ImageMetrics(_MeanFeature(), kid=False, device="cpu", cache_dir=str(tmp_path))
    assert not metric.classifier_features
    assert not GANDataModule(value_images, batch_size=4, metric=metric).prdc  # off by default: not a classifier
    dm = GANDataModule(value_images, batch_size=4, eval_samples=12, metric=metric, prdc=True)
    assert dm.metric_spec.names == ("fid_12", *PRDC_NAMES) and dm.metric_spec.main == "fid_12"
    fakes = _Fakes(torch.full((12, 1, 8, 8), -1.0))  # all on the validation half's first cluster
    scores = dm.evaluate(fakes)
    assert {name: scores[name] for name in PRDC_NAMES} == pytest.approx(HAND_EXPECTED, abs=1e-12)
    assert tuple(scores) == dm.metric_spec.names
    assert metric.provenance["prdc"] == {"k_pr": 3, "k_dc": 5, "dtype": "float64"}
    test = dm.evaluate(fakes, split="test")  # the test half (all 0.0039) is far from -1 in this feature space
    assert {name: test[name] for name in PRDC_NAMES} == dict.fromkeys(PRDC_NAMES, 0.0)
    assert set(GANDataModule(value_images, batch_size=4, eval_samples=12, metric=metric,
                             prdc=False).evaluate(fakes)) == {"fid_12"}


def test_digit_classifier_features_score_prdc_by_default(tmp_path):
    metric = ImageMetrics("digits", kid=False, device="cpu", cache_dir=str(tmp_path))
    assert metric.classifier_features
    dm = GANDataModule("digits", image_size=8, eval_samples=40, metric=metric)
    assert dm.prdc and dm.metric_spec.names == ("fid_40", *PRDC_NAMES)
    reference = dm.eval_reference()
    scores = dm.evaluate(_Fakes(reference))  # the validation reference itself: perfect PRDC
    assert (scores["precision"], scores["recall"], scores["coverage"]) == (1.0, 1.0, 1.0)
    assert metric.spec(40).names == ("fid_40",)  # the metric object alone: off unless asked


def test_declared_directions_reach_rank_by_and_the_comparison():
    from ganmods.compare.fairness import direction as comparison_direction

    dm = GANDataModule("grid25")
    for name in PRDC_NAMES:
        assert direction(dm, f"val/{name}") == "max" and direction(dm, f"test/{name}") == "max"
        assert comparison_direction(name, None, dm.metric_spec) is True
    assert dm.metric_spec.reduce["density"] == "none"


def test_prdc_option_and_counts_are_checked_before_any_work():
    with pytest.raises(ConfigurationError, match=r"prdc must be true, false or null .*'yes'"):
        GANDataModule("ring8", prdc="yes")
    with pytest.raises(ConfigurationError, match="eval_samples must give at least 6 real and 4 generated.*prdc: false"):
        GANDataModule("ring8", eval_samples=5)
    assert not GANDataModule("ring8", eval_samples=5, prdc=False).prdc
    with pytest.raises(ConfigurationError, match="metric must be an ImageMetrics with prdc: true"):
        GANDataModule("digits", image_size=8, prdc=True)
    dm = GANDataModule("digits", image_size=8, prdc=True, metric=ImageMetrics("digits", kid=False, device="cpu"))

    class Other:
        def score(self, fake, real, real_key):
            return {}

    with pytest.raises(ConfigurationError, match="metric must be an ImageMetrics with prdc: true"):
        dm.metric = Other()
    check_prdc_counts(6, 4)
    with pytest.raises(ConfigurationError, match="the counts must give at least 6 real"):
        check_prdc_counts(5, 100, name="the counts")
    with pytest.raises(ConfigurationError, match="4 generated"):
        check_prdc_counts(100, 3)


def test_image_metrics_refuse_counts_too_small_for_prdc_before_extracting(tmp_path):
    class Counting(nn.Module):
        calls = 0

        def forward(self, x):
            Counting.calls += 1
            return x.flatten(1)

    metric = ImageMetrics(Counting(), kid=False, device="cpu", cache_dir=str(tmp_path))
    with pytest.raises(ConfigurationError, match="at least 6 real"):
        metric.score(torch.zeros(10, 1, 8, 8), torch.zeros(5, 1, 8, 8), "small", prdc=True)
    with pytest.raises(ConfigurationError, match="prdc must be true or false"):
        metric.score(torch.zeros(10, 1, 8, 8), torch.zeros(10, 1, 8, 8), "small", prdc=1)
    with pytest.raises(ConfigurationError, match="prdc must be true or false"):
        metric.spec(10, prdc="no")
    assert Counting.calls == 0


def test_with_prdc_and_mode_metrics_reference():
    spec = MetricSpec(("fid",), {"fid": False}, main="fid")
    extended = with_prdc(spec)
    assert extended.names == ("fid", *PRDC_NAMES) and extended.main == "fid"
    assert with_prdc(extended) is extended
    centers, std = torch.tensor([[0.0, 0.0], [4.0, 0.0]]), 0.1
    metric = ModeMetrics(prdc=True)
    got = metric.score(HAND_FAKE * 0.0, centers, std, reference=HAND_REAL * 0.0 + torch.tensor([0.0, 0.0]))
    assert (got["precision"], got["recall"], got["coverage"]) == (1.0, 1.0, 1.0) and got["modes"] == 1
    half = metric.score(HAND_FAKE, centers, std, reference=HAND_REAL)
    assert {name: half[name] for name in PRDC_NAMES} == pytest.approx(HAND_EXPECTED, abs=1e-12)
    with pytest.raises(ConfigurationError, match="reference must be None when prdc is off"):
        ModeMetrics().score(HAND_FAKE, centers, std, reference=HAND_REAL)


def test_a_diverged_generator_is_unmeasurable_not_an_error():
    nan_points = torch.full((50, 2), math.nan)
    for dataset in ("ring8", "swissroll"):
        scores = GANDataModule(dataset, eval_samples=50).evaluate(_Fakes(nan_points))
        assert all(math.isnan(scores[name]) for name in PRDC_NAMES)
    assert GANDataModule("ring8", eval_samples=50).evaluate(_Fakes(nan_points))["hq"] == 0.0
    one_bad = HAND_FAKE.clone()
    one_bad[3, 1] = math.inf
    assert all(math.isnan(v) for v in prdc(HAND_REAL, one_bad, nonfinite_fake="nan").values())
    with pytest.raises(ConfigurationError, match="fake must be finite features"):
        prdc(HAND_REAL, one_bad)
    with pytest.raises(ConfigurationError, match="real must be finite features"):
        prdc(one_bad, HAND_REAL, nonfinite_fake="nan")  # only generated points may be non-finite
    with pytest.raises(ConfigurationError, match="nonfinite_fake must be 'raise' or 'nan'"):
        prdc(HAND_REAL, HAND_FAKE, nonfinite_fake="skip")
