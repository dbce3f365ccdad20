"""Statistics for comparing variants over a few seeds and a few trials (docs: THEORY §9).

* :func:`bootstrap_interval`: the mean over seeds with a percentile bootstrap interval (95 % by default).
* :func:`paired_difference`: the difference between two variants, paired by seed, with its interval and a
  verdict; the verdict is ``"inconclusive"`` whenever the interval contains 0.
* :func:`rank_with_ties`: a ranking that prints ties as ties; :func:`rank_lexicographic` the same over several
  metrics in turn.
* :func:`expected_best` and :func:`expected_best_band`: the expected best validation score after ``k``
  trials, ``k = 1..K`` (Dodge et al. 2019), with a bootstrap band.

The bootstrap resamples the seeds with replacement and takes the mean of each resample; the interval is the
pair of ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of those means, read as the smallest resampled
mean whose cumulative share reaches the quantile (numpy's ``"inverted_cdf"``). With ``n`` seeds and
``n ** n <= resamples`` every one of the ``n ** n`` equally likely resamples is enumerated, so the interval
is exact and needs no random numbers (2 to 5 seeds with the default 10 000 resamples); otherwise
``resamples`` resamples are drawn with ``numpy.random.default_rng(seed)``. With one seed there is nothing to
resample: the interval is ``None`` and the verdict of a difference is ``"inconclusive"``.

With very few seeds the percentile interval is narrow (with 3 seeds the 95 % interval is the range of the
3 values): it says what the seeds measured, not more; report the number of seeds beside it.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np

from ganmods.errors import check_positive_int, invalid

__all__ = ["DEFAULT_RESAMPLES", "Difference", "ExpectedBest", "Interval", "RankEntry", "bootstrap_interval",
           "expected_best", "expected_best_band", "format_interval", "paired_difference", "rank_lexicographic",
           "rank_with_ties"]

#: Bootstrap resamples unless told otherwise (THEORY §9: at least 10 000).
DEFAULT_RESAMPLES = 10_000

Scores = Union[Sequence[float], Mapping[Any, float]]


@dataclass(frozen=True)
class Interval:
    """A mean over seeds and its bootstrap interval.

    Attributes:
        mean: The mean of the values.
        low: Lower end of the interval (``None`` with one value).
        high: Upper end of the interval (``None`` with one value).
        n: Number of values (seeds).
        level: Coverage the interval aims at (0.95: a 95 % interval).
        exact: True when every resample was enumerated (no random numbers were used).
    """

    mean: float
    low: Optional[float]
    high: Optional[float]
    n: int
    level: float
    exact: bool

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies in the closed interval (True when there is no interval: nothing excludes it).

        Args:
            value: The value, e.g. 0 for a difference.

        Returns:
            ``low <= value <= high``, or True without an interval.
        """
        if self.low is None or self.high is None:
            return True
        return self.low <= value <= self.high


@dataclass(frozen=True)
class Difference:
    """The difference ``a - b`` between two variants, paired by seed.

    Attributes:
        interval: Mean and bootstrap interval of the per-seed differences ``a_s - b_s``.
        verdict: ``"a better"``, ``"b better"`` or ``"inconclusive"`` (the interval contains 0, or one seed).
        seeds: The seeds paired (positions ``0..n-1`` for sequences).
    """

    interval: Interval
    verdict: str
    seeds: tuple[Any, ...]


@dataclass(frozen=True)
class RankEntry:
    """One line of :func:`rank_with_ties`.

    Attributes:
        name: The variant.
        rank: Its rank (competition style: two variants tied first are both 1, the next is 3).
        tied: Whether it shares its rank with another variant.
        mean: Its mean score.
    """

    name: str
    rank: int
    tied: bool
    mean: float

    @property
    def label(self) -> str:
        """The rank as printed: ``"1"``, or ``"1="`` for a tie."""
        return f"{self.rank}=" if self.tied else str(self.rank)


@dataclass(frozen=True)
class ExpectedBest:
    """Expected best score after ``k`` trials, ``k = 1..K``, with a bootstrap band.

    Attributes:
        k: ``(1, ..., K)``.
        expected: The estimate for each ``k`` from the observed scores.
        low: Lower end of the band for each ``k``.
        high: Upper end of the band for each ``k``.
        level: Coverage the band aims at.
    """

    k: tuple[int, ...]
    expected: tuple[float, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]
    level: float


def _values(name: str, values: Any, minimum: int = 1) -> np.ndarray:
    """Check and convert a sequence of finite numbers."""
    try:
        array = np.asarray(list(values), dtype=np.float64)
    except (TypeError, ValueError):
        raise invalid(name, "a sequence of numbers", values) from None
    if array.ndim != 1 or array.size < minimum:
        raise invalid(name, f"a flat sequence of at least {minimum} number(s)", values)
    if not np.all(np.isfinite(array)):
        raise invalid(name, "finite numbers (drop NaN runs first and say so)", values)
    return array


def _level(level: Any) -> float:
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise invalid("level", "a number in (0, 1), e.g. 0.95", level)
    return float(level)


def _direction(direction: Any) -> str:
    if direction not in ("max", "min"):
        raise invalid("direction", "'max' (higher is better) or 'min' (lower is better)", direction)
    return direction


def _resample_means(values: np.ndarray, resamples: int, seed: int) -> tuple[np.ndarray, bool]:
    """Means of bootstrap resamples: every resample when ``n ** n <= resamples``, else drawn ones."""
    n = values.size
    if n ** n <= resamples:
        index = np.array(list(itertools.product(range(n), repeat=n)), dtype=np.int64)
        return values[index].mean(axis=1), True
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    for start in range(0, resamples, 4096):
        stop = min(start + 4096, resamples)
        means[start:stop] = values[rng.integers(0, n, size=(stop - start, n))].mean(axis=1)
    return means, False


def bootstrap_interval(values: Sequence[float], level: float = 0.95, resamples: int = DEFAULT_RESAMPLES,
                       seed: int = 0) -> Interval:
    """The mean of ``values`` (one per seed) with a percentile bootstrap interval (see the module docstring).

    Args:
        values: One finite score per seed.
        level: Coverage of the interval, in (0, 1).
        resamples: Bootstrap resamples when they are not enumerated (an integer >= 1).
        seed: Seed of the resampling (an integer >= 0); unused when the resamples are enumerated.

    Returns:
        The :class:`Interval` (``low`` and ``high`` are ``None`` for one value).

    Raises:
        ConfigurationError: If ``values`` is empty or not finite, or ``level``, ``resamples`` or ``seed`` is bad.

    Example:
        >>> bootstrap_interval([0.0, 2.0])  # resample means 0, 1, 1, 2
        Interval(mean=1.0, low=0.0, high=2.0, n=2, level=0.95, exact=True)
    """
    array = _values("values", values)
    level = _level(level)
    check_positive_int("resamples", resamples)
    check_positive_int("seed", seed, minimum=0)
    mean = float(array.mean())
    if array.size == 1:
        return Interval(mean, None, None, 1, level, True)
    means, exact = _resample_means(array, resamples, seed)
    low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2], method="inverted_cdf")
    return Interval(mean, float(low), float(high), int(array.size), level, exact)


def _paired(a: Scores, b: Scores) -> tuple[np.ndarray, np.ndarray, tuple[Any, ...]]:
    if isinstance(a, Mapping) != isinstance(b, Mapping):
        raise invalid("b", "the same kind as a (both seed -> score mappings, or both sequences)", type(b).__name__)
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        if set(a) != set(b):
            raise invalid("b", f"scores for the same seeds as a ({sorted(a, key=str)})", sorted(b, key=str))
        seeds = tuple(sorted(a, key=str))
        return _values("a", [a[s] for s in seeds]), _values("b", [b[s] for s in seeds]), seeds
    va, vb = _values("a", a), _values("b", b)
    if va.size != vb.size:
        raise invalid("b", f"one score per seed, as many as a ({va.size})", list(b))
    return va, vb, tuple(range(va.size))


def paired_difference(a: Scores, b: Scores, direction: str = "max", level: float = 0.95,
                      resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> Difference:
    """The difference ``a - b`` of two variants' scores paired by seed, with its bootstrap interval.

    The seeds pair the runs (same data order, same initial networks), so the per-seed differences are
    resampled, not the two variants separately.

    Args:
        a: Variant a's scores: a mapping seed -> score, or a sequence (paired by position).
        b: Variant b's scores, for the same seeds.
        direction: ``"max"`` (higher is better) or ``"min"`` (lower is better).
        level: Coverage of the interval, in (0, 1).
        resamples: Bootstrap resamples when they are not enumerated.
        seed: Seed of the resampling.

    Returns:
        The :class:`Difference`: verdict ``"inconclusive"`` when the interval contains 0 (or with one seed),
        else ``"a better"`` or ``"b better"`` according to ``direction``.

    Raises:
        ConfigurationError: If the seeds differ, the counts differ, a score is not finite, or an argument is bad.

    Example:
        >>> paired_difference([3.0, 4.0], [1.0, 1.0]).verdict  # differences 2, 3: interval [2, 3]
        'a better'
    """
    direction = _direction(direction)
    va, vb, seeds = _paired(a, b)
    interval = bootstrap_interval(va - vb, level, resamples, seed)
    if interval.contains(0.0):
        verdict = "inconclusive"
    else:
        a_higher = interval.low is not None and interval.low > 0
        verdict = "a better" if a_higher == (direction == "max") else "b better"
    return Difference(interval, verdict, seeds)


def rank_with_ties(scores: Mapping[str, Scores], direction: str = "max", level: float = 0.95,
                   resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> list[RankEntry]:
    """Rank variants by their mean score, printing ties as ties.

    Rule ("same rank as its group's leader unless significantly worse"): variants are sorted by mean, best
    first. The first variant leads a group with rank 1. Each next variant joins the current group (same
    rank) unless its paired difference with the group's leader (:func:`paired_difference`) is conclusive,
    in which case it leads a new group whose rank is its position (competition ranking: 1, 1, 3). A tie
    therefore means "not distinguishable from the best variant of its group"; two members of one group may
    still differ from each other conclusively (the relation is not transitive).

    Args:
        scores: Variant name -> its scores per seed (mappings seed -> score, or sequences paired by position).
        direction: ``"max"`` or ``"min"``.
        level: Coverage of the pairwise intervals.
        resamples: Bootstrap resamples when they are not enumerated.
        seed: Seed of the resampling.

    Returns:
        One :class:`RankEntry` per variant, best first (equal means keep the given order).

    Raises:
        ConfigurationError: If ``scores`` is empty, or a variant's seeds differ from another's.

    Example:
        >>> [e.label for e in rank_with_ties({"a": [3.0, 4.0], "b": [2.9, 4.2], "c": [1.0, 1.0]})]
        ['1=', '1=', '3']
    """
    direction = _direction(direction)
    if not isinstance(scores, Mapping) or not scores:
        raise invalid("scores", "a non-empty mapping variant -> scores per seed", scores)
    means = {}
    for name, values in scores.items():
        means[name] = float(_values(f"scores[{name!r}]", values.values() if isinstance(values, Mapping)
                                    else values).mean())
    sign = -1.0 if direction == "max" else 1.0
    order = sorted(scores, key=lambda name: sign * means[name])
    ranks: dict[str, int] = {}
    leader = order[0]
    ranks[leader] = 1
    for position, name in enumerate(order[1:], start=2):
        diff = paired_difference(scores[leader], scores[name], direction, level, resamples, seed)
        if diff.verdict == "inconclusive":
            ranks[name] = ranks[leader]
        else:
            leader = name
            ranks[name] = position
    counts = {rank: list(ranks.values()).count(rank) for rank in set(ranks.values())}
    return [RankEntry(name, ranks[name], counts[ranks[name]] > 1, means[name]) for name in order]


def _split_group(group: list[str], scores: Mapping[str, Mapping[Any, float]], direction: str, level: float,
                 resamples: int, seed: int) -> list[list[str]]:
    """Split a group of variants by one metric: :func:`rank_with_ties` on the seeds they all have, variants
    without any score last (tied among themselves); with no seed in common the scored ones stay one group."""
    have = [name for name in group if scores[name]]
    missing = [name for name in group if not scores[name]]
    parts: list[list[str]] = []
    if have:
        common = set.intersection(*(set(scores[name]) for name in have))
        if common:
            seeds = sorted(common, key=str)
            entries = rank_with_ties({name: [scores[name][s] for s in seeds] for name in have}, direction, level,
                                     resamples, seed)
            current = None
            for entry in entries:  # consecutive entries of one rank form a group
                if entry.rank == current:
                    parts[-1].append(entry.name)
                else:
                    parts.append([entry.name])
                    current = entry.rank
        else:
            parts.append(have)
    if missing:
        parts.append(missing)
    return parts


def rank_lexicographic(scores: Mapping[str, Mapping[str, Mapping[Any, float]]], directions: Mapping[str, str],
                       level: float = 0.95, resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> list[RankEntry]:
    """Rank variants by several metrics in turn, printing ties as ties.

    The first metric splits the variants into groups as :func:`rank_with_ties` does; each next metric splits
    only the groups still tied, and so on. Variants tied after the last metric share a rank (competition
    ranking: 1, 1, 3). Differences are paired on the seeds every variant of the group has; a variant with no
    score for a metric (every run NaN) comes after the others of its group; variants with no seed in common
    for a metric stay tied on it.

    Args:
        scores: Metric -> variant -> its finite scores per seed (``{seed: score}``; may be empty); every
            metric names the same variants, and the first metric's order is the order of equals.
        directions: Metric -> ``"max"`` or ``"min"``.
        level: Coverage of the pairwise intervals.
        resamples: Bootstrap resamples when they are not enumerated.
        seed: Seed of the resampling.

    Returns:
        One :class:`RankEntry` per variant, best first; ``mean`` is the mean of its first-metric scores (NaN
        without any).

    Raises:
        ConfigurationError: If ``scores`` is empty, the metrics name different variants, a direction is
            missing or bad, or a score is not finite.

    Example:
        >>> modes = {"a": {0: 8.0, 1: 8.0}, "b": {0: 8.0, 1: 8.0}, "c": {0: 6.0, 1: 5.0}}
        >>> hq = {"a": {0: 0.9, 1: 0.95}, "b": {0: 0.5, 1: 0.55}, "c": {0: 0.99, 1: 0.99}}
        >>> [(e.name, e.label) for e in rank_lexicographic({"modes": modes, "hq": hq}, {"modes": "max", "hq": "max"})]
        [('a', '1'), ('b', '2'), ('c', '3')]
    """
    if not isinstance(scores, Mapping) or not scores:
        raise invalid("scores", "a non-empty mapping metric -> variant -> scores per seed", scores)
    metrics = list(scores)
    variants = list(scores[metrics[0]])
    if not variants:
        raise invalid("scores", "at least one variant", scores)
    for metric in metrics:
        if set(scores[metric]) != set(variants):
            raise invalid(f"scores[{metric!r}]", f"scores of the same variants as {metrics[0]!r} ({variants})",
                          sorted(scores[metric]))
        if metric not in directions:
            raise invalid("directions", f"a direction for every metric ({metrics})", dict(directions))
        _direction(directions[metric])
        for name in variants:
            if scores[metric][name]:
                _values(f"scores[{metric!r}][{name!r}]", scores[metric][name].values())
    groups = [variants]
    for metric in metrics:
        split: list[list[str]] = []
        for group in groups:
            split.extend([group] if len(group) == 1 else
                         _split_group(group, scores[metric], directions[metric], level, resamples, seed))
        groups = split
    entries = []
    position = 1
    for group in groups:
        for name in group:
            first = list(scores[metrics[0]][name].values())
            mean = float(np.mean(first)) if first else math.nan
            entries.append(RankEntry(name, position, len(group) > 1, mean))
        position += len(group)
    return entries


def expected_best(scores: Sequence[float], direction: str = "max") -> np.ndarray:
    """Expected best of ``k`` trials, ``k = 1..K``, from ``K`` observed trial scores (Dodge et al. 2019).

    ``k`` scores are drawn with replacement from the empirical distribution of the ``K`` observed ones; with
    the scores sorted ``v_(1) <= ... <= v_(K)``, ``E[max] = sum_i v_(i) * ((i/K)^k - ((i-1)/K)^k)``. Where
    lower is better (``direction="min"``) the estimate is that of the minimum: ``-E[max(-v)]``.

    Args:
        scores: The ``K`` trials' validation scores (finite).
        direction: ``"max"`` or ``"min"``.

    Returns:
        An array of ``K`` values: entry ``k - 1`` is the expected best after ``k`` trials.

    Raises:
        ConfigurationError: If ``scores`` is empty or not finite, or ``direction`` is bad.

    Example:
        >>> expected_best([1.0, 2.0, 3.0, 4.0])[:2].tolist()  # k = 2: (1 + 6 + 15 + 28) / 16
        [2.5, 3.125]
    """
    direction = _direction(direction)
    values = _values("scores", scores)
    if direction == "min":
        return -expected_best(-values, "max")
    v = np.sort(values)
    big_k = v.size
    share = np.arange(big_k + 1) / big_k  # i / K for i = 0..K
    ks = np.arange(1, big_k + 1)[:, None]
    weights = share[1:][None, :] ** ks - share[:-1][None, :] ** ks  # [k, i]
    return weights @ v


def expected_best_band(scores: Sequence[float], direction: str = "max", level: float = 0.95,
                       resamples: int = 1000, seed: int = 0) -> ExpectedBest:
    """:func:`expected_best` with a percentile bootstrap band: the ``K`` trial scores are resampled with
    replacement ``resamples`` times (``numpy.random.default_rng(seed)``), the curve recomputed for each, and the
    band is the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles per ``k``.

    Args:
        scores: The ``K`` trials' validation scores.
        direction: ``"max"`` or ``"min"``.
        level: Coverage of the band, in (0, 1).
        resamples: Bootstrap resamples (an integer >= 1).
        seed: Seed of the resampling (an integer >= 0).

    Returns:
        The :class:`ExpectedBest` (with one trial, the band is that trial's score).

    Raises:
        ConfigurationError: As :func:`expected_best`, or for a bad ``level``, ``resamples`` or ``seed``.
    """
    direction = _direction(direction)
    values = _values("scores", scores)
    level = _level(level)
    check_positive_int("resamples", resamples)
    check_positive_int("seed", seed, minimum=0)
    curve = expected_best(values, direction)
    rng = np.random.default_rng(seed)
    curves = np.stack([expected_best(values[rng.integers(0, values.size, values.size)], direction)
                       for _ in range(resamples)])
    low, high = np.quantile(curves, [(1 - level) / 2, (1 + level) / 2], axis=0, method="inverted_cdf")
    return ExpectedBest(tuple(range(1, values.size + 1)), tuple(curve.tolist()), tuple(low.tolist()),
                        tuple(high.tolist()), level)


def format_interval(interval: Interval, digits: int = 4) -> str:
    """An interval as results.md prints it: ``"0.512 [0.480, 0.550]"``, or ``"0.512 (1 seed: no interval)"``.

    Args:
        interval: The interval.
        digits: Significant digits of each number (an integer >= 1).

    Returns:
        The text.

    Raises:
        ConfigurationError: If ``digits`` is not an integer >= 1.
    """
    check_positive_int("digits", digits)

    def number(x: float) -> str:
        return "nan" if math.isnan(x) else f"{x:.{digits}g}"

    if interval.low is None or interval.high is None:
        return f"{number(interval.mean)} ({interval.n} seed: no interval)"
    return f"{number(interval.mean)} [{number(interval.low)}, {number(interval.high)}]"
