"""Bootstrap intervals, paired differences, tied ranks and the expected best of k trials (ganmods.compare.stats)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from ganmods.compare.stats import (bootstrap_interval, expected_best, expected_best_band, format_interval,
                                   rank_lexicographic,
                                   paired_difference, rank_with_ties)
from ganmods.errors import ConfigurationError


def test_two_seeds_interval_is_enumerated_exactly() -> None:
    # resamples of (0, 2): means 0, 1, 1, 2 -> 2.5 % quantile 0, 97.5 % quantile 2
    iv = bootstrap_interval([0.0, 2.0])
    assert (iv.mean, iv.low, iv.high, iv.n, iv.exact) == (1.0, 0.0, 2.0, 2, True)


def test_four_seeds_interval_hand_computed() -> None:
    # values (0, 0, 0, 4): a resample's mean is c, the number of times 4 is drawn, c ~ Binomial(4, 1/4):
    # P(c <= 0) = 81/256 >= 2.5 % -> low 0; P(c <= 2) = 243/256 < 97.5 % <= P(c <= 3) = 255/256 -> high 3
    iv = bootstrap_interval([0.0, 0.0, 0.0, 4.0])
    assert (iv.mean, iv.low, iv.high) == (1.0, 0.0, 3.0)
    # at 80 %: P(c <= 0) = 0.316 >= 10 % -> low 0; P(c <= 1) = 189/256 = 0.738 < 90 % <= 243/256 -> high 2
    iv80 = bootstrap_interval([0.0, 0.0, 0.0, 4.0], level=0.8)
    assert (iv80.low, iv80.high) == (0.0, 2.0)


def test_one_seed_has_no_interval() -> None:
    iv = bootstrap_interval([0.7])
    assert (iv.mean, iv.low, iv.high, iv.n) == (0.7, None, None, 1)
    assert format_interval(iv) == "0.7 (1 seed: no interval)"
    assert paired_difference([0.9], [0.1]).verdict == "inconclusive"


def test_many_seeds_interval_is_seeded_and_close_to_the_normal_one() -> None:
    values = np.linspace(0.0, 1.0, 101)  # mean 0.5, population sd 0.2915
    iv = bootstrap_interval(values, resamples=4000, seed=3)
    assert not iv.exact
    assert iv == bootstrap_interval(values, resamples=4000, seed=3)
    half = 1.96 * values.std() / np.sqrt(values.size)  # 0.0569
    assert iv.low == pytest.approx(0.5 - half, abs=0.01) and iv.high == pytest.approx(0.5 + half, abs=0.01)


def test_paired_difference_verdicts() -> None:
    # differences (2, 3): interval [2, 3] excludes 0
    d = paired_difference({0: 3.0, 1: 4.0}, {0: 1.0, 1: 1.0})
    assert (d.interval.mean, d.interval.low, d.interval.high, d.verdict) == (2.5, 2.0, 3.0, "a better")
    assert paired_difference([3.0, 4.0], [1.0, 1.0], direction="min").verdict == "b better"
    # differences (-1, 2): interval [-1, 2] contains 0
    d = paired_difference([1.0, 4.0], [2.0, 2.0])
    assert (d.interval.low, d.interval.high, d.verdict) == (-1.0, 2.0, "inconclusive")
    # the interval's end touching 0 still contains it: differences (0, 1) -> [0, 1]
    assert paired_difference([1.0, 2.0], [1.0, 1.0]).verdict == "inconclusive"


def test_pairing_is_by_seed_not_by_order() -> None:
    # seed 1 is listed first in b; pairing by key gives differences (1, 1), by position (-2, 4)
    d = paired_difference({0: 2.0, 1: 5.0}, {1: 4.0, 0: 1.0})
    assert (d.interval.low, d.interval.high, d.seeds) == (1.0, 1.0, (0, 1))


def test_rank_prints_ties_as_ties() -> None:
    scores = {"a": [3.0, 4.0], "b": [2.9, 4.2], "c": [1.0, 1.0], "d": [1.1, 0.8]}
    entries = rank_with_ties(scores)
    # b leads (mean 3.55); a - b = (0.1, -0.2) contains 0: tied; c (1.0): b - c = (1.9, 3.2) conclusive -> rank 3,
    # c leads; d (0.95): c - d = (-0.1, 0.2) contains 0 -> tied with c
    assert [(e.name, e.label) for e in entries] == [("b", "1="), ("a", "1="), ("c", "3="), ("d", "3=")]
    lower = rank_with_ties({"x": [5.0, 6.0], "y": [1.0, 2.0]}, direction="min")
    assert [(e.name, e.label) for e in lower] == [("y", "1"), ("x", "2")]


def test_format_interval() -> None:
    assert format_interval(bootstrap_interval([0.0, 2.0]), digits=3) == "1 [0, 2]"
    assert format_interval(bootstrap_interval([0.125, 0.25]), digits=2) == "0.19 [0.12, 0.25]"


def _brute_force_best(scores: list[float], k: int, best) -> float:
    tuples = list(itertools.product(scores, repeat=k))
    return sum(best(t) for t in tuples) / len(tuples)


@pytest.mark.parametrize("scores", [[0.3, 0.9, 0.1, 0.5], [2.0, 2.0, 1.0, 7.0]])
def test_expected_best_matches_enumeration_of_all_index_tuples(scores: list[float]) -> None:
    np.testing.assert_allclose(expected_best(scores), [_brute_force_best(scores, k, max) for k in range(1, 5)],
                               rtol=1e-12)
    np.testing.assert_allclose(expected_best(scores, "min"),
                               [_brute_force_best(scores, k, min) for k in range(1, 5)], rtol=1e-12)


def test_expected_best_hand_values_and_band() -> None:
    # k = 1: mean 2.5; k = 2: (1*1 + 2*3 + 3*5 + 4*7) / 16 = 3.125
    assert expected_best([4.0, 1.0, 3.0, 2.0])[:2].tolist() == [2.5, 3.125]
    band = expected_best_band([4.0, 1.0, 3.0, 2.0], resamples=500, seed=1)
    assert band.k == (1, 2, 3, 4) and band.expected[1] == 3.125
    assert all(lo <= e <= hi for lo, e, hi in zip(band.low, band.expected, band.high))
    assert band == expected_best_band([4.0, 1.0, 3.0, 2.0], resamples=500, seed=1)
    assert expected_best_band([0.5]).low == (0.5,)


def test_bad_inputs_are_named() -> None:
    with pytest.raises(ConfigurationError, match="values"):
        bootstrap_interval([])
    with pytest.raises(ConfigurationError, match="finite"):
        bootstrap_interval([1.0, float("nan")])
    with pytest.raises(ConfigurationError, match="level"):
        bootstrap_interval([1.0, 2.0], level=95)
    with pytest.raises(ConfigurationError, match="resamples"):
        bootstrap_interval([1.0, 2.0], resamples=0)
    with pytest.raises(ConfigurationError, match="b must be scores for the same seeds"):
        paired_difference({0: 1.0, 1: 2.0}, {0: 1.0, 2: 2.0})
    with pytest.raises(ConfigurationError, match="b must be one score per seed"):
        paired_difference([1.0, 2.0], [1.0])
    with pytest.raises(ConfigurationError, match="direction"):
        expected_best([1.0], direction="up")
    with pytest.raises(ConfigurationError, match="scores"):
        rank_with_ties({})


def test_rank_lexicographic_splits_ties_by_the_next_metric_only() -> None:
    # modes: a, b, c tie (differences 0 or inconclusive), d is conclusively worse; hq then splits the tied group:
    # a - b = (0.4, 0.4) conclusive, b - c = (0.05, -0.05) inconclusive; hq never reorders d above them
    modes = {"a": {0: 8.0, 1: 8.0}, "b": {0: 8.0, 1: 8.0}, "c": {0: 8.0, 1: 7.0}, "d": {0: 2.0, 1: 3.0}}
    hq = {"a": {0: 0.9, 1: 0.9}, "b": {0: 0.5, 1: 0.5}, "c": {0: 0.45, 1: 0.55}, "d": {0: 1.0, 1: 1.0}}
    ranked = rank_lexicographic({"modes": modes, "hq": hq}, {"modes": "max", "hq": "max"})
    assert [(e.name, e.label) for e in ranked] == [("a", "1"), ("b", "2="), ("c", "2="), ("d", "4")]
    assert ranked[0].mean == 8.0 and ranked[2].mean == 7.5  # the first metric's mean
    # one metric: as rank_with_ties
    single = rank_lexicographic({"hq": hq}, {"hq": "max"})
    assert [(e.name, e.label) for e in single] == [(e.name, e.label) for e in rank_with_ties(hq)]
    # lower is better
    fid = {"a": {0: 10.0, 1: 12.0}, "b": {0: 30.0, 1: 31.0}}
    assert [e.name for e in rank_lexicographic({"fid": fid}, {"fid": "min"})] == ["a", "b"]


def test_rank_lexicographic_with_missing_scores_and_seeds() -> None:
    # c has no finite score (every run NaN): after the others; a and b share no seed: tied
    scores = {"kl": {"a": {0: 1.0}, "b": {1: 5.0}, "c": {}}}
    ranked = rank_lexicographic(scores, {"kl": "min"})
    assert [(e.name, e.label) for e in ranked] == [("a", "1="), ("b", "1="), ("c", "3")]
    assert math.isnan(ranked[2].mean)
    # differences are paired on the seeds both have: seed 2 of a is left out
    paired = {"m": {"a": {0: 2.0, 1: 3.0, 2: -50.0}, "b": {0: 1.0, 1: 2.0}}}
    assert [e.label for e in rank_lexicographic(paired, {"m": "max"})] == ["1", "2"]
    with pytest.raises(ConfigurationError, match="directions must be a direction for every metric"):
        rank_lexicographic(scores, {})
    with pytest.raises(ConfigurationError, match=r"scores\['hq'\] must be scores of the same variants"):
        rank_lexicographic({"kl": {"a": {0: 1.0}}, "hq": {"b": {0: 1.0}}}, {"kl": "min", "hq": "max"})
    with pytest.raises(ConfigurationError, match="finite"):
        rank_lexicographic({"kl": {"a": {0: math.nan}}}, {"kl": "min"})
    with pytest.raises(ConfigurationError, match="scores must be a non-empty mapping"):
        rank_lexicographic({}, {})
