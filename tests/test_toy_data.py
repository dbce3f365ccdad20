"""2-D toy mixtures (PacGAN constants), the mode metrics (THEORY §8) and the shared GANDataModule."""

from __future__ import annotations

import itertools
import math
from types import SimpleNamespace

import pytest
import torch

from ganmods.data import GANDataModule, GaussianMixture, SwissRoll, make_toy
from ganmods.data.toy import TOY_DATASETS
from ganmods.errors import ConfigurationError
from ganmods.metrics.toy import mode_metrics

pytestmark = pytest.mark.filterwarnings("ignore:.*does not have many workers.*")

# ---------------------------------------------------------------------------------------------------------
# Distributions
# ---------------------------------------------------------------------------------------------------------


def test_ring8_constants():
    ring = make_toy("ring8")
    assert isinstance(ring, GaussianMixture)
    assert ring.num_modes == 8
    assert ring.std == pytest.approx(0.01)
    c = ring.centers.double()
    assert c.shape == (8, 2)
    assert torch.allclose(c.norm(dim=1), torch.ones(8, dtype=torch.float64), atol=1e-6)
    expected = {(round(math.cos(k * math.pi / 4), 5), round(math.sin(k * math.pi / 4), 5)) for k in range(8)}
    got = {(round(float(x), 5) + 0.0, round(float(y), 5) + 0.0) for x, y in c}
    expected = {(x + 0.0, y + 0.0) for x, y in expected}  # fold -0.0 into 0.0
    assert got == expected


def test_grid25_constants():
    grid = make_toy("grid25")
    assert isinstance(grid, GaussianMixture)
    assert grid.num_modes == 25
    assert grid.std == pytest.approx(0.05)
    got = {(float(x), float(y)) for x, y in grid.centers}
    axis = [-4.0, -2.0, 0.0, 2.0, 4.0]
    assert got == set(itertools.product(axis, axis))


def test_toy_dataset_names():
    assert set(TOY_DATASETS) == {"ring8", "grid25", "swissroll"}
    assert isinstance(make_toy("swissroll"), SwissRoll)


@pytest.mark.parametrize("name", ["ring8", "grid25", "swissroll"])
def test_samples_deterministic_for_seeded_generator(name):
    dist = make_toy(name)
    a = dist.sample(200, generator=torch.Generator().manual_seed(5))
    b = dist.sample(200, generator=torch.Generator().manual_seed(5))
    c = dist.sample(200, generator=torch.Generator().manual_seed(6))
    assert a.shape == (200, 2)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


@pytest.mark.parametrize("name,std", [("ring8", 0.01), ("grid25", 0.05)])
def test_samples_are_centred_on_modes_with_right_spread(name, std):
    dist = make_toy(name)
    x = dist.sample(20000, generator=torch.Generator().manual_seed(0)).double()
    c = dist.centers.double()
    nearest = torch.cdist(x, c).argmin(1)
    resid = x - c[nearest]
    assert float(resid.std()) == pytest.approx(std, rel=0.05)
    counts = torch.bincount(nearest, minlength=dist.num_modes).double()
    # Equal weights: each mode within 20% of its expected share.
    assert torch.all((counts / counts.mean() - 1).abs() < 0.2)
    m = dist.evaluate(x.float())
    assert m["modes"] == dist.num_modes
    # 2-D isotropic Gaussian: P(‖x − μ‖ < 3σ) = 1 − exp(−9/2) ≈ 0.9889
    assert m["hq"] == pytest.approx(1 - math.exp(-4.5), abs=0.004)
    assert m["reverse_kl"] < 0.01


def test_make_toy_options_and_errors():
    assert make_toy("ring8", std=0.02).std == pytest.approx(0.02)
    assert make_toy("ring8", num_modes=6).num_modes == 6
    assert make_toy("grid25", size=3).num_modes == 9
    with pytest.raises(ConfigurationError):
        make_toy("ring8", bogus=1.0)
    for bad in (0.0, -0.1, float("nan")):
        with pytest.raises(ConfigurationError) as info:
            make_toy("ring8", std=bad)
        assert "std" in str(info.value)
    with pytest.raises(ConfigurationError):
        make_toy("grid25", std=0)
    with pytest.raises(ConfigurationError):
        make_toy("swissroll", noise=-1.0)


def test_make_toy_unknown_name_lists_valid_names():
    with pytest.raises(ConfigurationError) as info:
        make_toy("ring9")
    msg = str(info.value)
    assert "ring9" in msg
    for name in ("ring8", "grid25", "swissroll"):
        assert name in msg


def test_swissroll_has_no_mode_metrics():
    assert make_toy("swissroll").evaluate(torch.zeros(10, 2)) == {}


# ---------------------------------------------------------------------------------------------------------
# mode_metrics
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_exact_centres_capture_every_mode(name):
    dist = make_toy(name)
    k = dist.num_modes
    samples = dist.centers.repeat(3, 1)
    m = mode_metrics(samples, dist.centers, dist.std)
    assert m["modes"] == k
    assert m["hq"] == 1.0
    assert abs(m["reverse_kl"]) < 1e-9


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_all_samples_at_one_centre(name):
    dist = make_toy(name)
    k = dist.num_modes
    samples = dist.centers[3:4].repeat(50, 1)
    m = mode_metrics(samples, dist.centers, dist.std)
    assert m["modes"] == 1
    assert m["hq"] == 1.0
    assert m["reverse_kl"] == pytest.approx(math.log(k), rel=1e-9)


def test_far_away_samples():
    dist = make_toy("ring8")
    samples = torch.full((20, 2), 50.0)
    m = mode_metrics(samples, dist.centers, dist.std)
    assert m["hq"] == 0.0
    assert m["modes"] == 0
    assert math.isnan(m["reverse_kl"])


def test_mode_metrics_hand_example():
    centers = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    std = 1.0
    samples = torch.tensor(
        [
            [0.5, 0.0],  # mode 0, hq
            [0.0, -2.9],  # mode 0, hq (just inside 3σ)
            [10.0, 1.0],  # mode 1, hq
            [2.0, 12.0],  # mode 2, distance sqrt(8) < 3: hq
            [5.0, 5.0],  # far from every centre: not hq
            [13.5, 10.0],  # mode 3 nearest, distance 3.5: not hq
        ]
    )
    m = mode_metrics(samples, centers, std)
    assert m["hq"] == pytest.approx(4 / 6)
    assert m["modes"] == 3
    # histogram over modes of hq samples: [2, 1, 1, 0]/4 → KL = .5 log(.5·4) + 2·.25 log(.25·4)
    assert m["reverse_kl"] == pytest.approx(0.5 * math.log(2.0), rel=1e-9)

    m2 = mode_metrics(samples, centers, std, min_count=2)
    assert m2["modes"] == 1
    assert m2["hq"] == pytest.approx(4 / 6)


def test_mode_metrics_three_sigma_boundary():
    centers = torch.tensor([[0.0, 0.0], [100.0, 0.0]])
    inside = mode_metrics(torch.tensor([[0.299, 0.0]]), centers, 0.1)
    outside = mode_metrics(torch.tensor([[0.301, 0.0]]), centers, 0.1)
    assert inside["hq"] == 1.0 and inside["modes"] == 1
    assert outside["hq"] == 0.0 and outside["modes"] == 0


def test_mode_metrics_accepts_grad_and_half_inputs():
    dist = make_toy("grid25")
    samples = dist.centers.clone().half().requires_grad_(True)
    m = mode_metrics(samples, dist.centers, dist.std)
    assert m["modes"] == 25 and m["hq"] == 1.0


@pytest.mark.parametrize(
    "samples,centers",
    [
        (torch.zeros(10), torch.zeros(8, 2)),  # 1-D samples
        (torch.zeros(10, 3), torch.zeros(8, 2)),  # dimension mismatch
        (torch.zeros(10, 2), torch.zeros(2)),  # 1-D centres
        (torch.zeros(2, 10, 2), torch.zeros(8, 2)),  # 3-D samples
    ],
)
def test_mode_metrics_bad_shapes(samples, centers):
    with pytest.raises(ConfigurationError):
        mode_metrics(samples, centers, 0.1)


@pytest.mark.parametrize("std", [0.0, -0.5, float("nan")])
def test_mode_metrics_bad_std(std):
    with pytest.raises(ConfigurationError) as info:
        mode_metrics(torch.zeros(4, 2), torch.zeros(3, 2), std)
    assert "std" in str(info.value)


def test_mode_metrics_bad_min_count():
    with pytest.raises(ConfigurationError) as info:
        mode_metrics(torch.zeros(4, 2), torch.zeros(3, 2), 0.1, min_count=0)
    assert "min_count" in str(info.value)


# ---------------------------------------------------------------------------------------------------------
# GANDataModule
# ---------------------------------------------------------------------------------------------------------


def test_datamodule_unknown_dataset():
    with pytest.raises(ConfigurationError) as info:
        GANDataModule("bogus")
    msg = str(info.value)
    assert "bogus" in msg and "ring8" in msg


@pytest.mark.parametrize("kw", ["batch_size", "batches_per_epoch", "val_size", "eval_samples"])
def test_datamodule_non_positive_sizes(kw):
    with pytest.raises(ConfigurationError) as info:
        GANDataModule("ring8", **{kw: 0})
    assert kw in str(info.value)


def test_datamodule_bad_dataset_options():
    with pytest.raises(ConfigurationError):
        GANDataModule("ring8", dataset_options={"std": -1.0})
    dm = GANDataModule("ring8", dataset_options={"std": 0.02})
    assert dm.distribution.std == pytest.approx(0.02)


def _train_batches(**kw):
    dm = GANDataModule(**kw)
    return list(dm.train_dataloader())


def test_datamodule_train_batches_shape_and_count():
    batches = _train_batches(dataset="grid25", batch_size=16, batches_per_epoch=3, seed=0)
    assert len(batches) == 3
    for b in batches:
        assert b.shape == (16, 2)
        assert b.dtype == torch.float32
    # Successive batches differ.
    assert not torch.equal(batches[0], batches[1])


def test_datamodule_same_seed_same_batches_different_seed_different():
    a = _train_batches(dataset="ring8", batch_size=8, batches_per_epoch=3, seed=3)
    b = _train_batches(dataset="ring8", batch_size=8, batches_per_epoch=3, seed=3)
    c = _train_batches(dataset="ring8", batch_size=8, batches_per_epoch=3, seed=4)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not any(torch.equal(x, y) for x, y in zip(a, c))


def test_datamodule_train_stream_repeats_each_pass_without_trainer():
    dm = GANDataModule("ring8", batch_size=4, batches_per_epoch=2, seed=1)
    loader = dm.train_dataloader()
    first = list(loader)
    second = list(loader)
    assert all(torch.equal(x, y) for x, y in zip(first, second))


def _with_trainer(dm, critic_steps=0, rank=0):
    module = SimpleNamespace(critic_steps=critic_steps)
    dm.trainer = SimpleNamespace(global_rank=rank, world_size=2, lightning_module=module)
    return dm.trainer


def test_datamodule_train_stream_is_keyed_by_critic_step_and_rank():
    full = _train_batches(dataset="ring8", batch_size=8, batches_per_epoch=10, seed=2)
    dm = GANDataModule("ring8", batch_size=8, batches_per_epoch=4, seed=2)
    trainer = _with_trainer(dm, critic_steps=5)
    it = iter(dm.train_dataloader())
    trainer.lightning_module.critic_steps = 50  # the start step is read once, when the pass starts
    resumed = list(it)
    assert len(resumed) == 4 and all(torch.equal(x, y) for x, y in zip(resumed, full[5:9]))
    other_rank = GANDataModule("ring8", batch_size=8, batches_per_epoch=4, seed=2)
    _with_trainer(other_rank, critic_steps=5, rank=1)
    assert not any(torch.equal(x, y) for x, y in zip(other_rank.train_dataloader(), resumed))


def test_datamodule_loaders_leave_the_global_rng_alone():
    dm = GANDataModule("grid25", batch_size=8, batches_per_epoch=3, val_size=20)
    state = torch.random.get_rng_state()
    iter(dm.train_dataloader())
    list(dm.train_dataloader())
    list(dm.val_dataloader())
    dm.train_reference(10)
    assert torch.equal(state, torch.random.get_rng_state())


@pytest.mark.parametrize("val_size,batch_size", [(10, 4), (12, 4), (3, 8)])
def test_datamodule_val_size(val_size, batch_size):
    dm = GANDataModule("ring8", batch_size=batch_size, val_size=val_size, seed=0)
    batches = list(dm.val_dataloader())
    assert sum(b.shape[0] for b in batches) == val_size
    assert all(b.shape[1:] == (2,) for b in batches)
    assert all(b.shape[0] <= batch_size for b in batches)
    again = torch.cat(list(dm.val_dataloader()))
    assert torch.equal(torch.cat(batches), again)


def test_datamodule_val_set_differs_from_training_stream():
    dm = GANDataModule("ring8", batch_size=8, batches_per_epoch=1, val_size=8, seed=0)
    train = next(iter(dm.train_dataloader()))
    val = next(iter(dm.val_dataloader()))
    assert not torch.equal(train, val)


class _FakeModel:
    def __init__(self, points: torch.Tensor) -> None:
        self.points = points
        self.calls: list[tuple[tuple, dict]] = []

    def sample(self, n, seed=None):
        self.calls.append(((n,), {"seed": seed}))
        reps = -(-n // self.points.shape[0])
        return self.points.repeat(reps, 1)[:n]


def test_datamodule_evaluate_calls_sample_with_protocol():
    dm = GANDataModule("ring8", eval_samples=40, eval_seed=77)
    model = _FakeModel(dm.distribution.centers.clone())
    m = dm.evaluate(model)
    assert model.calls == [((40,), {"seed": 77})]
    assert m["modes"] == 8
    assert m["hq"] == 1.0
    assert abs(m["reverse_kl"]) < 1e-9


def test_datamodule_evaluate_scores_collapsed_model():
    dm = GANDataModule("grid25", eval_samples=10, eval_seed=1)
    model = _FakeModel(dm.distribution.centers[:1].clone().double())
    m = dm.evaluate(model)
    assert m["modes"] == 1
    assert m["reverse_kl"] == pytest.approx(math.log(25))


def test_datamodule_real_samples_and_shape():
    dm = GANDataModule("ring8")
    assert dm.data_shape == (2,)
    a = dm.real_samples(30, seed=2)
    assert a.shape == (30, 2)
    assert torch.equal(a, dm.real_samples(30, seed=2))
    assert not torch.equal(a, dm.real_samples(30, seed=3))
