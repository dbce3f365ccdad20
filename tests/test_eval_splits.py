"""Two evaluation references per dataset: "val" selects, "test" is only reported. They are disjoint (no shared real
point or image, no shared generated point), fixed, and scoring one never reads the other."""

from __future__ import annotations

import math

import pytest
import torch

from ganmods.data import DATA_SOURCES, GANDataModule, ImageSource, register_source
from ganmods.data.digits import load_digits
from ganmods.data.sources import DistributionSource
from ganmods.data.splits import (EVAL_SPLITS, TOY_VAL_OFFSET, check_split, held_out_halves, latent_seed,
                                 toy_reference_seed)
from ganmods.data.toy import make_toy
from ganmods.errors import ConfigurationError
from ganmods.images import to_uint8
from ganmods.metrics import ImageMetrics
from ganmods.randomness import mix_seed

pytestmark = pytest.mark.filterwarnings("ignore:FID/KID from.*rank-deficient")


def _rows(x: torch.Tensor) -> set[bytes]:
    """Each point / image as bytes (for set comparisons)."""
    return {row.numpy().tobytes() for row in x.reshape(x.shape[0], -1)}


class _SeedModel:
    """Generates points of a distribution from the seed it is given, and records the seeds; a seed in
    ``poison`` gives NaN points."""

    def __init__(self, distribution, poison=()) -> None:
        self.distribution, self.poison, self.seeds = distribution, set(poison), []

    def sample(self, n, seed=None, rows=None):
        self.seeds.append(seed)
        x = self.distribution.sample(n, generator=torch.Generator().manual_seed(seed))
        return torch.full_like(x, math.nan) if seed in self.poison else x


# ---------------------------------------------------------------------------------------------------------
# the seeds and the halving
# ---------------------------------------------------------------------------------------------------------


def test_split_names_and_the_documented_seeds():
    assert EVAL_SPLITS == ("val", "test") and check_split("test") == "test"
    for bad in ("train", "VAL", None, 0):
        with pytest.raises(ConfigurationError, match=r"split must be 'val' .* or 'test'"):
            check_split(bad)
    assert latent_seed(1234, "val") == 1234  # validation keeps the latents it always had
    assert latent_seed(1234, "test") not in (1234, latent_seed(1235, "test"))
    assert toy_reference_seed(3, "val") == 3 + TOY_VAL_OFFSET  # the held-out set validation always used
    assert toy_reference_seed(3, "test") == mix_seed(3, 0x7E57_DA7A) != toy_reference_seed(4, "test")


@pytest.mark.parametrize("n", [2, 3, 297, 1000])
def test_held_out_halves_partition_and_are_fixed(n):
    val, test = held_out_halves(n)
    assert len(val) == (n + 1) // 2 and len(test) == n // 2
    assert sorted(val.tolist() + test.tolist()) == list(range(n))
    again = held_out_halves(n)
    assert torch.equal(val, again[0]) and torch.equal(test, again[1])
    with pytest.raises(ConfigurationError, match="at least 2 images"):
        held_out_halves(1, "dataset 'x'")


# ---------------------------------------------------------------------------------------------------------
# toy data: independent draws
# ---------------------------------------------------------------------------------------------------------


def test_toy_references_are_disjoint_fixed_and_served_by_the_loaders():
    dm = GANDataModule("ring8", batch_size=100, val_size=300, eval_samples=300, seed=5)
    val, test = dm.eval_reference("val"), dm.eval_reference("test")
    assert val.shape == test.shape == (300, 2)
    assert not _rows(val) & _rows(test)  # no shared point
    again = GANDataModule("ring8", batch_size=100, val_size=300, eval_samples=300, seed=5)
    assert torch.equal(val, again.eval_reference("val")) and torch.equal(test, again.eval_reference("test"))
    assert not torch.equal(val, GANDataModule("ring8", eval_samples=300, seed=6).eval_reference("val"))
    # the loaders serve the same points (val_size == eval_samples here)
    assert torch.equal(torch.cat(list(dm.val_dataloader())), val)
    assert torch.equal(torch.cat(list(dm.test_dataloader())), test)
    expected = make_toy("ring8").sample(300, generator=torch.Generator().manual_seed(5 + 7919))
    assert torch.equal(val, expected)  # the documented seed
    with pytest.raises(ConfigurationError, match="split must be"):
        dm.eval_reference("train")


def test_toy_splits_score_different_generated_points_from_their_own_latents():
    dm = GANDataModule("ring8", eval_samples=200, eval_seed=77)
    model = _SeedModel(dm.distribution)
    val, test = dm.evaluate(model), dm.evaluate(model, split="test")
    assert model.seeds == [77, latent_seed(77, "test")]
    assert set(val) == set(test) == set(dm.metric_spec.names)
    assert val != test  # other points, other scores
    assert dm.evaluate(model) == val  # deterministic


def test_toy_val_never_reads_the_test_reference_or_latents_and_vice_versa():
    """Poison what the other split would read (its real points and its latents): the scores do not move."""
    clean = GANDataModule("grid25", eval_samples=300, eval_seed=3, seed=2)
    clean_scores = {s: clean.evaluate(_SeedModel(clean.distribution), split=s) for s in EVAL_SPLITS}
    assert all(math.isfinite(v) for scores in clean_scores.values() for v in scores.values())

    class Poisoned:
        """grid25, except that a generator seeded with ``bad`` draws NaN."""

        def __init__(self, bad):
            self.inner, self.bad = make_toy("grid25"), bad
            self.centers, self.std = self.inner.centers, self.inner.std

        def sample(self, n, generator=None):
            x = self.inner.sample(n, generator=generator)
            return torch.full_like(x, math.nan) if generator.initial_seed() == self.bad else x

        def evaluate(self, samples):
            return self.inner.evaluate(samples)

    class PoisonedSource(DistributionSource):
        def make_distribution(self, bad=None):
            return Poisoned(bad)

    register_source("test_poisoned_grid")(PoisonedSource)
    try:
        for split, other in (("val", "test"), ("test", "val")):
            dm = GANDataModule("test_poisoned_grid", eval_samples=300, eval_seed=3, seed=2,
                               dataset_options={"bad": toy_reference_seed(2, other)})
            assert torch.isnan(dm.eval_reference(other)).all()  # the other reference really is garbage
            model = _SeedModel(dm.distribution.inner, poison={latent_seed(3, other)})
            assert dm.evaluate(model, split=split) == clean_scores[split]
            assert model.seeds == [latent_seed(3, split)]
    finally:
        DATA_SOURCES.pop("test_poisoned_grid", None)


def test_a_bad_split_is_refused_before_anything_is_drawn():
    dm = GANDataModule("ring8", eval_samples=50)
    model = _SeedModel(dm.distribution)
    for bad in ("train", "validation", None):
        with pytest.raises(ConfigurationError, match="split must be 'val'"):
            dm.evaluate(model, split=bad)
        with pytest.raises(ConfigurationError, match="split must be 'val'"):
            dm.source.evaluate(model, 50, 0, split=bad)
    assert model.seeds == []


# ---------------------------------------------------------------------------------------------------------
# images: fixed halves of the held-out split
# ---------------------------------------------------------------------------------------------------------


class _DigitImages(ImageSource):
    """100 training and 40 held-out 8x8 digits (all different); ``garbage`` fills one half of the held-out
    split with random noise, located with the public ``held_out_halves``."""

    native_channels, default_image_size = 1, 8
    option_defaults = {"garbage": "none"}

    def load_split(self, split):
        digits = to_uint8(load_digits("all", image_size=8))
        if split == "train":
            return digits[:100]
        held = digits[100:140].clone()
        if self.options["garbage"] != "none":
            half = held_out_halves(40)[0 if self.options["garbage"] == "val" else 1]
            held[half] = torch.randint(0, 256, held[half].shape, generator=torch.Generator().manual_seed(9),
                                       dtype=torch.uint8)
        return held


class _TrainImages:
    """A stand-in generator: training digits picked by the seed; records the seeds."""

    def __init__(self) -> None:
        self.seeds: list[int] = []

    def sample(self, n, seed=None, rows=None):
        self.seeds.append(seed)
        pick = torch.randint(100, (n,), generator=torch.Generator().manual_seed(seed))
        return load_digits("all", image_size=8)[pick]


@pytest.fixture
def digit_images():
    register_source("test_digit_images")(_DigitImages)
    yield "test_digit_images"
    DATA_SOURCES.pop("test_digit_images", None)


def test_image_halves_are_disjoint_complete_fixed_and_independent_of_the_run_seed(digit_images):
    dm = GANDataModule(digit_images, batch_size=8, val_size=100, eval_samples=100, seed=0)
    val, test = dm.eval_reference("val"), dm.eval_reference("test")
    assert val.shape == (20, 1, 8, 8) and test.shape == (20, 1, 8, 8)
    assert not _rows(val) & _rows(test)  # no shared image
    held = to_uint8(load_digits("all", image_size=8))[100:140]
    assert _rows(to_uint8(val)) | _rows(to_uint8(test)) == _rows(held)  # together: the whole held-out split
    other_seed = GANDataModule(digit_images, batch_size=8, val_size=100, eval_samples=100, seed=7, eval_seed=1)
    assert torch.equal(val, other_seed.eval_reference("val")) and torch.equal(test, other_seed.eval_reference("test"))
    # the loaders: validation_step sees the validation half, trainer.test the test half
    assert torch.equal(torch.cat(list(dm.val_dataloader())), val)
    assert torch.equal(torch.cat(list(dm.test_dataloader())), test)
    small = GANDataModule(digit_images, batch_size=8, val_size=5, eval_samples=6)
    assert torch.equal(torch.cat(list(small.test_dataloader())), test[:5])
    assert torch.equal(small.eval_reference("test"), test[:6])
    assert dm.real_key_of("val") == f"{digit_images}|split=held_out|half=val|n=20|size=8|channels=1" == dm.real_key
    assert dm.real_key_of("test") == f"{digit_images}|split=held_out|half=test|n=20|size=8|channels=1"
    with pytest.raises(ConfigurationError, match="split must be"):
        dm.real_key_of("held_out")


def test_image_val_never_reads_the_test_half_and_vice_versa(digit_images, tmp_path):
    def scores(garbage, split):
        metric = ImageMetrics("digits", kid=False, device="cpu", cache_dir=str(tmp_path / garbage / split))
        dm = GANDataModule(digit_images, batch_size=8, eval_samples=30, eval_seed=4, metric=metric,
                           dataset_options={"garbage": garbage})
        model = _TrainImages()
        out = dm.evaluate(model, split=split)
        assert model.seeds == [latent_seed(4, split)]
        return out

    clean = {split: scores("none", split) for split in EVAL_SPLITS}
    assert clean["val"] != clean["test"]
    assert set(clean["val"]) == {"fid_30", "precision", "recall", "density", "coverage"}
    assert scores("test", "val") == clean["val"]  # test half replaced by noise: validation unchanged
    assert scores("val", "test") == clean["test"]  # and the other way round
    assert scores("val", "val")["fid_30"] > 3 * clean["val"]["fid_30"]  # the noise would have shown


def test_the_metric_cache_keys_on_the_half(digit_images, tmp_path):
    metric = ImageMetrics("digits", kid=False, device="cpu", cache_dir=str(tmp_path))
    dm = GANDataModule(digit_images, batch_size=8, eval_samples=30, metric=metric)
    first = {split: dm.evaluate(_TrainImages(), split=split) for split in EVAL_SPLITS}
    assert len(list(tmp_path.glob("*.pt"))) == 2  # one entry per half
    assert {split: dm.evaluate(_TrainImages(), split=split) for split in EVAL_SPLITS} == first  # cache hits
    assert metric.provenance["real_cache"]["hit"] and metric.provenance["real_key"] == dm.real_key_of("test")


def test_bundled_digits_halves():
    dm = GANDataModule("digits", image_size=8, val_size=1000, eval_samples=1000)
    val, test = dm.eval_reference("val"), dm.eval_reference("test")
    assert (len(val), len(test)) == (149, 148)
    assert not _rows(to_uint8(val)) & _rows(to_uint8(test))
    held = to_uint8(load_digits("held_out", image_size=8))
    assert sorted(_rows(to_uint8(val)) | _rows(to_uint8(test))) == sorted(_rows(held))
    assert sum(len(b) for b in dm.test_dataloader()) == 148


def test_a_held_out_split_too_small_to_halve_is_refused(tmp_path):
    from PIL import Image

    for i in range(10):
        Image.new("L", (8, 8), 10 * i).save(tmp_path / f"{i}.png")
    with pytest.raises(ConfigurationError, match=r"held_out_fraction must leave .* two held-out images"):
        GANDataModule("folder", root=str(tmp_path), image_size=8, batch_size=1,
                      dataset_options={"held_out_fraction": 0.1}).setup()

    class OneHeldOut(_DigitImages):
        def load_split(self, split):
            return super().load_split(split)[:1] if split == "held_out" else super().load_split(split)

    register_source("test_one_held_out")(OneHeldOut)
    try:
        with pytest.raises(ConfigurationError, match="held-out split of dataset 'test_one_held_out' must hold at "
                                                     "least 2 images"):
            GANDataModule("test_one_held_out", batch_size=8).setup()
    finally:
        DATA_SOURCES.pop("test_one_held_out", None)


def test_image_evaluate_refuses_a_bad_split_before_drawing(digit_images, tmp_path):
    metric = ImageMetrics("digits", kid=False, device="cpu", cache_dir=str(tmp_path))
    dm = GANDataModule(digit_images, batch_size=8, eval_samples=30, metric=metric)
    model = _TrainImages()
    with pytest.raises(ConfigurationError, match="split must be 'val'"):
        dm.evaluate(model, split="held_out")
    assert model.seeds == []
