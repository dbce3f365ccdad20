"""Precision, recall, density and coverage (ganmods.metrics.prdc) against hand-made sets and a brute force."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist

from ganmods.errors import ConfigurationError
from ganmods.metrics.prdc import PRDC_NAMES, prdc

LINE = torch.tensor([[0.0], [1.0], [3.0], [7.0]])  # gaps 1, 2, 4: no two equal distances


def test_identical_sets() -> None:
    # every point lies in its own ball; without ties a k-ball holds the point and its k neighbours, so the
    # M = N fakes fall into N (k + 1) balls in all: density (k + 1) / k
    x = torch.randn(50, 3, generator=torch.Generator().manual_seed(0))
    got = prdc(x, x.clone(), k_pr=3, k_dc=5)
    assert got == pytest.approx({"precision": 1.0, "recall": 1.0, "density": 6 / 5, "coverage": 1.0})
    assert prdc(LINE, LINE, k_pr=1, k_dc=1) == {"precision": 1.0, "recall": 1.0, "density": 2.0, "coverage": 1.0}


def test_disjoint_far_apart_sets_score_zero() -> None:
    g = torch.Generator().manual_seed(1)
    real, fake = torch.randn(40, 4, generator=g), torch.randn(30, 4, generator=g) + 1000.0
    assert prdc(real, fake) == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_fake_set_is_a_subset_of_the_real_set() -> None:
    # real 0, 1, 3, 7 with k = 1 radii 1, 1, 2, 4; fake 0, 1, 3 with radii 1, 1, 2.
    # precision: every fake is a real point -> 1. recall: 7 is 4 from the nearest fake (3, radius 2) -> 3/4.
    # coverage: the ball of 7 (radius 4) holds fake 3 at distance 4 (closed ball) -> 1.
    # density: fake 0 in the balls of 0, 1; fake 1 in those of 0, 1, 3; fake 3 in those of 3, 7 -> 7 / (1 * 3)
    got = prdc(LINE, LINE[:3], k_pr=1, k_dc=1)
    assert got == pytest.approx({"precision": 1.0, "recall": 0.75, "density": 7 / 3, "coverage": 1.0})


def _brute_force(real: np.ndarray, fake: np.ndarray, k_pr: int, k_dc: int) -> dict[str, float]:
    """Independent reference: full distance matrices, sorted rows, closed balls."""
    rr, ff, rf = cdist(real, real), cdist(fake, fake), cdist(real, fake)
    r_pr, r_dc = np.sort(rr, axis=1)[:, k_pr], np.sort(rr, axis=1)[:, k_dc]
    f_pr = np.sort(ff, axis=1)[:, k_pr]
    return {"precision": float((rf <= r_pr[:, None]).any(0).mean()),
            "recall": float((rf <= f_pr[None, :]).any(1).mean()),
            "density": float((rf <= r_dc[:, None]).sum() / (k_dc * fake.shape[0])),
            "coverage": float((rf <= r_dc[:, None]).any(1).mean())}


def test_matches_a_brute_force_on_gaussians_and_is_independent_of_the_chunk() -> None:
    g = torch.Generator().manual_seed(2)
    real, fake = torch.randn(600, 16, generator=g), 1.1 * torch.randn(500, 16, generator=g) + 0.2
    want = _brute_force(real.double().numpy(), fake.double().numpy(), 3, 5)
    assert prdc(real, fake, chunk_size=128) == pytest.approx(want, abs=1e-12)
    assert prdc(real, fake, chunk_size=7) == pytest.approx(want, abs=1e-12)
    assert 0.0 < want["precision"] < 1.0 and 0.0 < want["recall"] < 1.0  # a case where the values are not trivial


def test_two_thousand_gaussians_in_64d_match_the_brute_force() -> None:
    g = torch.Generator().manual_seed(3)
    real, fake = torch.randn(2000, 64, generator=g), torch.randn(2000, 64, generator=g)
    got = prdc(real, fake, k_pr=5, k_dc=5)
    want = _brute_force(real.double().numpy(), fake.double().numpy(), 5, 5)
    assert got == pytest.approx(want, abs=1e-12)


@pytest.mark.slow  # about 40 s on 2 CPU cores (three 10k x 10k distance matrices in 1000-d)
def test_published_figure_for_identical_1000d_gaussians() -> None:
    # Naeem et al.'s reference implementation, k = 5 for all four: precision 0.48, recall 0.47, density 1.06,
    # coverage 0.97. Density varies most between draws: seeds 0-3 here give 1.02, 1.13, 0.95, 1.07 and precision
    # 0.46-0.50; this seed's draw is fixed, the tolerances cover the published values
    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(10_000, 1000, generator=g), torch.randn(10_000, 1000, generator=g)
    got = prdc(real, fake, k_pr=5, k_dc=5, dtype=torch.float32)
    assert got["precision"] == pytest.approx(0.48, abs=0.02)
    assert got["recall"] == pytest.approx(0.47, abs=0.02)
    assert got["density"] == pytest.approx(1.06, abs=0.06)
    assert got["coverage"] == pytest.approx(0.97, abs=0.01)


def test_bad_inputs_are_named() -> None:
    x = torch.zeros(10, 3)
    with pytest.raises(ConfigurationError, match=r"same feature dimension.*\(10, 3\).*\(10, 4\)"):
        prdc(x, torch.zeros(10, 4))
    with pytest.raises(ConfigurationError, match=r"k_dc must be an integer in \[1, 9\].*got 10"):
        prdc(x, torch.randn(20, 3), k_dc=10)
    with pytest.raises(ConfigurationError, match=r"k_pr must be an integer in \[1, 3\].*fake.*got 4"):
        prdc(x, torch.randn(4, 3), k_pr=4)
    with pytest.raises(ConfigurationError, match="real must be a \\[n, D\\] tensor"):
        prdc(torch.zeros(10), x)
    with pytest.raises(ConfigurationError, match="fake must be finite"):
        prdc(x, torch.full((10, 3), float("nan")))
    with pytest.raises(ConfigurationError, match="chunk_size"):
        prdc(x, x, chunk_size=0)
    assert set(prdc(torch.randn(10, 3), torch.randn(10, 3))) == set(PRDC_NAMES)


def test_declared_in_the_metric_protocol_and_for_toy_data() -> None:
    from ganmods.metrics import ModeMetrics, direction, shipped_higher_is_better

    assert [shipped_higher_is_better(n) for n in PRDC_NAMES] == [True, True, True, True]
    assert ModeMetrics().spec(2500).names == ("modes", "hq", "reverse_kl")  # off by default
    spec = ModeMetrics(prdc=True).spec(2500)
    assert spec.names == ("modes", "hq", "reverse_kl", *PRDC_NAMES) and spec.main == "reverse_kl"
    assert [direction(spec, f"val/{n}") for n in PRDC_NAMES] == ["max"] * 4
    assert spec.reduce["coverage"] == "none"


def test_toy_prdc_scores_the_plane_against_a_fixed_mixture_reference() -> None:
    from ganmods.metrics import ModeMetrics

    centers, std, n = torch.tensor([[0.0, 0.0], [4.0, 0.0]]), 0.1, 200
    # the reference the metric draws (its documented recipe, seed 5): scoring it against itself is perfect
    g = torch.Generator().manual_seed(5)
    mode = torch.randint(2, (n,), generator=g)
    reference = centers.double()[mode] + std * torch.randn(n, 2, generator=g, dtype=torch.float64)
    metric = ModeMetrics(prdc=True, reference_seed=5)
    got = metric.score(reference, centers, std)
    assert set(got) == set(metric.spec(n).names)
    assert (got["precision"], got["recall"], got["coverage"], got["modes"]) == (1.0, 1.0, 1.0, 2.0)
    assert got["density"] == pytest.approx(6 / 5)
    far = metric.score(torch.full((n, 2), 100.0) + torch.randn(n, 2), centers, std)
    assert (far["precision"], far["recall"], far["density"], far["coverage"]) == (0.0, 0.0, 0.0, 0.0)
    with pytest.raises(ConfigurationError, match="prdc must be true or false"):
        ModeMetrics(prdc="yes")
    with pytest.raises(ConfigurationError, match="k_dc"):
        ModeMetrics(prdc=True, k_dc=0)
