"""Data sources: the registry behind GANDataModule, and adding a dataset as one registered class."""

from __future__ import annotations

import pytest
import torch

from ganmods.data import DATA_SOURCES, GANDataModule, ImageSource, register_source
from ganmods.data.sources import DistributionSource, build_source
from ganmods.errors import ConfigurationError
from ganmods.metrics import ImageMetrics, ModeMetrics


class _Corners:
    """Four fixed 2-D points, drawn uniformly (a tiny distribution with no metric)."""

    points = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])

    def sample(self, n, generator=None):
        return self.points[torch.randint(4, (n,), generator=generator)]


class _TinyPoints(DistributionSource):
    def make_distribution(self, **options):
        return _Corners()


class _TinyImages(ImageSource):
    native_channels, default_image_size = 1, 8

    def load_split(self, split):
        n, value = (12, 40) if split == "train" else (5, 200)
        return torch.full((n, 1, 8, 8), value, dtype=torch.uint8)


@pytest.fixture
def registered():
    """Register the two test sources for one test, then remove them."""
    register_source("test_points")(_TinyPoints)
    register_source("test_images")(_TinyImages)
    yield
    for name in ("test_points", "test_images"):
        DATA_SOURCES.pop(name, None)


def test_shipped_names_are_registered():
    assert {"ring8", "grid25", "swissroll", "digits", "mnist", "fashion_mnist", "cifar10", "celeba",
            "folder"} <= set(DATA_SOURCES)
    assert {n for n, c in DATA_SOURCES.items() if not c.is_image} == {"ring8", "grid25", "swissroll"}


def test_a_registered_2d_source_serves_batches(registered):
    dm = GANDataModule("test_points", batch_size=6, batches_per_epoch=3, val_size=5)
    assert dm.data_shape == (2,) and not dm.is_image
    batches = list(dm.train_dataloader())
    assert len(batches) == 3 and all(b.shape == (6, 2) for b in batches)
    allowed = {(0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0)}
    assert {tuple(p.tolist()) for b in batches for p in b} <= allowed
    assert sum(b.shape[0] for b in dm.val_dataloader()) == 5
    assert sum(b.shape[0] for b in dm.test_dataloader()) == 5
    assert dm.metric_spec.names == ("precision", "recall", "density", "coverage")  # no evaluate: PRDC only
    unscored = GANDataModule("test_points", batch_size=6, prdc=False)
    assert unscored.evaluate(object()) == {} and unscored.metric_spec.names == ()  # nothing to score: no sampling
    with pytest.raises(ConfigurationError, match="image_size"):
        GANDataModule("test_points", image_size=8)


def test_a_registered_image_source_serves_batches(registered):
    dm = GANDataModule("test_images", batch_size=4, batches_per_epoch=3, val_size=3)
    assert dm.is_image and dm.data_shape == (1, 8, 8) and dm.root is None
    batches = list(dm.train_dataloader())
    assert len(batches) == 3 and all(b.shape == (4, 1, 8, 8) for b in batches)
    assert torch.allclose(torch.cat(batches), torch.full((12, 1, 8, 8), 40 / 127.5 - 1))  # 3 x 4 = all 12, once
    held = torch.cat(list(dm.val_dataloader()))  # the validation half of the 5 held-out images: 3
    assert held.shape == (3, 1, 8, 8) and torch.allclose(held, torch.full_like(held, 200 / 127.5 - 1))
    assert torch.cat(list(dm.test_dataloader())).shape == (2, 1, 8, 8)
    assert dm.real_key == "test_images|split=held_out|half=val|n=3|size=8|channels=1"
    assert GANDataModule("test_images", channels=3).data_shape == (3, 8, 8)
    with pytest.raises(ConfigurationError, match=r"batch_size.*12.*13"):
        GANDataModule("test_images", batch_size=13).setup()
    with pytest.raises(ConfigurationError, match="root"):
        GANDataModule("test_images", root="data")


def test_unknown_name_lists_the_registered_names(registered):
    with pytest.raises(ConfigurationError) as info:
        GANDataModule("no_such_set")
    msg = str(info.value)
    assert "dataset" in msg and "no_such_set" in msg
    assert all(name in msg for name in ("test_points", "test_images", "ring8", "digits", "folder"))
    with pytest.raises(ConfigurationError, match="dataset must be one of"):
        build_source(3)


def test_register_source_refuses_taken_names_and_non_sources():
    with pytest.raises(ConfigurationError, match="not registered yet"):
        register_source("ring8")
    with pytest.raises(ConfigurationError, match="non-empty"):
        register_source("")
    with pytest.raises(ConfigurationError, match="DataSource subclass"):
        register_source("test_not_a_source")(dict)
    assert "test_not_a_source" not in DATA_SOURCES


def test_sources_declare_their_default_metric():
    assert isinstance(GANDataModule("ring8").source.metric, ModeMetrics)
    assert GANDataModule("ring8").metric is None  # the argument stays an image argument
    assert GANDataModule("swissroll").metric_spec.names == ("precision", "recall", "density", "coverage")
    assert GANDataModule("swissroll", prdc=False).metric_spec.names == ()
    metric = ImageMetrics("digits", kid_subset_size=10, device="cpu")
    dm = GANDataModule("digits", image_size=8, eval_samples=1500, metric=metric)
    assert dm.metric is metric and dm.metric_spec.main == "fid_1500"
    assert GANDataModule("digits", image_size=8).metric_spec.names == ()


def test_the_image_metric_can_be_replaced_and_bad_ones_are_named():
    from ganmods.metrics import ImageMetrics

    dm = GANDataModule("digits", image_size=16)
    metric = ImageMetrics("digits", device="cpu", kid=False)
    dm.metric = metric
    assert dm.metric is metric and dm.metric_spec.main is not None
    with pytest.raises(ConfigurationError, match="metric must be an object with score"):
        dm.metric = object()
    with pytest.raises(ConfigurationError, match="metric must be None for the toy dataset 'ring8'"):
        GANDataModule("ring8").metric = metric
