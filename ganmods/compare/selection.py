"""Selecting each variant's trial on the validation reference; nothing here reads a test score.

A run's validation scores are its final scores on the validation reference (``result["final"]``, logged as
``final/<metric>``); :func:`validation_scores` copies those and nothing else out of the results, and
:func:`select_trials` sees only what it copied, so the test scores (``result["test"]``) cannot influence a
selection.

A trial's score for a metric is the mean over its seeds of that metric (NaN when a seed's value is NaN, as
in the report's cells). The selected trial of a variant is the best by the ``rank_by`` metrics taken
lexicographically, each in its own direction, a NaN mean ranking last; equal scores go to the lowest trial
index (trial 0, the variant's own config, wins a tie). Only complete trials (every planned seed finished)
compete while the variant has one; before that, the trials with a finished run do, and the selection is
marked incomplete.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from ganmods.compare.plan import RunSpec
from ganmods.errors import invalid

__all__ = ["Selection", "TrialScore", "select_trials", "validation_scores"]


@dataclass(frozen=True)
class TrialScore:
    """The validation scores of one trial of one variant.

    Args:
        variant: The variant.
        trial: The trial index.
        values: Seed -> metric -> final score on the validation reference, for the finished seeds.
        planned: The seeds the trial runs.
    """

    variant: str
    trial: int
    values: dict[int, dict[str, float]]
    planned: tuple[int, ...]

    @property
    def complete(self) -> bool:
        """Whether every planned seed has finished."""
        return set(self.planned) <= set(self.values)

    def mean(self, metric: str) -> float:
        """The mean over the finished seeds of one metric (NaN when a value is NaN or missing, or none finished).

        Args:
            metric: The metric.

        Returns:
            The mean.
        """
        values = [float(v.get(metric, math.nan)) for v in self.values.values()]
        if not values or any(math.isnan(v) for v in values):
            return math.nan
        return statistics.fmean(values)


@dataclass(frozen=True)
class Selection:
    """The selected trial of a variant and the trials it was chosen among.

    Args:
        variant: The variant.
        trial: The selected trial index.
        complete: Whether it was chosen among complete trials (every planned seed finished).
        trials: Every trial of the variant with a finished run, by index.
    """

    variant: str
    trial: int
    complete: bool
    trials: tuple[TrialScore, ...]

    @property
    def selected(self) -> TrialScore:
        """The selected trial's scores."""
        return next(t for t in self.trials if t.trial == self.trial)


def validation_scores(runs: Sequence[RunSpec], results: Mapping[str, Mapping[str, Any]]) -> dict[str, list[TrialScore]]:
    """The validation scores of every trial with a finished run: a copy of each result's ``final`` scores only.

    Args:
        runs: The planned runs.
        results: Run key -> its result (finished runs only).

    Returns:
        Variant -> its trials' scores, by trial index, in plan order of the variants.
    """
    planned: dict[tuple[str, int], list[int]] = {}
    values: dict[tuple[str, int], dict[int, dict[str, float]]] = {}
    for run in runs:
        planned.setdefault((run.variant, run.trial), []).append(run.seed)
        result = results.get(run.key)
        if result is not None:
            final = result.get("final") or {}
            values.setdefault((run.variant, run.trial), {})[run.seed] = {k: float(v) for k, v in final.items()}
    out: dict[str, list[TrialScore]] = {}
    for (variant, trial), seeds in planned.items():
        if (variant, trial) in values:
            out.setdefault(variant, []).append(TrialScore(variant, trial, values[(variant, trial)], tuple(seeds)))
    for trials in out.values():
        trials.sort(key=lambda t: t.trial)
    return out


def select_trials(scores: Mapping[str, Sequence[TrialScore]], rank_by: Sequence[str],
                  directions: Mapping[str, bool]) -> dict[str, Selection]:
    """Each variant's best trial by its validation scores (rule: the module docstring).

    Args:
        scores: :func:`validation_scores`' output.
        rank_by: The metrics, lexicographic.
        directions: Metric -> higher is better (every ``rank_by`` metric).

    Returns:
        Variant -> its :class:`Selection` (variants without a finished run are left out).

    Raises:
        ConfigurationError: If ``rank_by`` is empty or a metric has no direction.

    Example:
        >>> a = TrialScore("v", 0, {0: {"hq": 0.5}}, (0,))
        >>> b = TrialScore("v", 1, {0: {"hq": 0.7}}, (0,))
        >>> select_trials({"v": [a, b]}, ["hq"], {"hq": True})["v"].trial
        1
    """
    if not rank_by:
        raise invalid("rank_by", "at least one metric", list(rank_by))
    for metric in rank_by:
        if metric not in directions:
            raise invalid("directions", f"a direction for every rank_by metric ({list(rank_by)})", dict(directions))

    def key(trial: TrialScore) -> tuple:
        out = []
        for metric in rank_by:
            mean = trial.mean(metric)
            out.append((math.isnan(mean), 0.0 if math.isnan(mean) else (-mean if directions[metric] else mean)))
        return (*out, trial.trial)

    selections = {}
    for variant, trials in scores.items():
        if not trials:
            continue
        complete = [t for t in trials if t.complete]
        best = min(complete or list(trials), key=key)
        selections[variant] = Selection(variant, best.trial, bool(complete), tuple(trials))
    return selections
