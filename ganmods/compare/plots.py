"""Comparison plots: metric curves (one line per variant, a band over seeds) and side-by-side samples.

``plots/metric_vs_images.png`` and ``plots/metric_vs_seconds.png`` have one panel per metric with a
direction; each variant's line is the mean over seeds and its band spans the seeds' minimum to maximum,
at the validations every seed has (the same critic steps for every seed; on the wall-clock axis a point
sits at the seeds' mean time, since seeds run at different speeds). ``plots/samples.png`` puts each variant's
``final.png`` (first finished seed) side by side. In a search these show each variant's selected trial.

In a search, ``plots/expected_best.png`` draws per ``rank_by`` metric the expected best validation score after
``k`` trials with its bootstrap band (:func:`~ganmods.compare.stats.expected_best_band`), one line per
variant, and ``plots/trials_box.png`` a box per variant of its trials' validation scores (mean over seeds per
trial), every trial a dot, the selected one a star.
"""

from __future__ import annotations

import math
import os
from typing import Any, Mapping, Sequence

import numpy as np

from ganmods.compare.fairness import Checked
from ganmods.compare.plan import RunSpec
from ganmods.compare.selection import Selection
from ganmods.compare.stats import expected_best_band
from ganmods.images import save_figure

__all__ = ["plot_curves", "plot_expected_best", "plot_samples", "plot_trials_box", "series"]

_XLABEL = {"images_seen": "real images shown to the critic", "train_s": "training wall-clock (s)"}


def series(result: dict[str, Any], metric: str, x: str) -> dict[int, tuple[float, float]]:
    """One run's curve: the metric at each validation and at the final evaluation.

    Args:
        result: The run's result.
        metric: The metric.
        x: ``"images_seen"``, ``"train_s"`` or ``"generator_steps"``.

    Returns:
        Critic step -> ``(x value, metric value)`` (the final evaluation replaces a validation at the same
        critic step; they score the same generator).
    """
    final = {"generator_steps": result["generator_steps"], "critic_steps": result["critic_steps"],
             "images_seen": result["images_seen"], "train_s": result["train_s"], **result["final"]}
    return {int(row["critic_steps"]): (float(row[x]), float(row[metric]))
            for row in [*result["history"], final] if metric in row}


def _band(curves: list[dict[int, tuple[float, float]]]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mean curve and min–max band over seeds, on the critic steps every seed has (x: the mean x there)."""
    steps = sorted(set.intersection(*(set(c) for c in curves))) if curves else []
    xs = np.array([[c[k][0] for k in steps] for c in curves], dtype=float).reshape(len(curves), len(steps))
    ys = np.array([[c[k][1] for k in steps] for c in curves], dtype=float).reshape(len(curves), len(steps))
    with np.errstate(all="ignore"):
        return xs.mean(axis=0), ys.mean(axis=0), ys.min(axis=0), ys.max(axis=0)


def plot_curves(runs: list[RunSpec], results: dict[str, dict[str, Any]], checked: Checked, x: str, path: str,
                title: str = "") -> None:
    """Draw every metric against ``x``: one line per variant (mean over seeds), a min–max band over seeds.

    Args:
        runs: The planned runs.
        results: Run key -> result (finished runs).
        checked: Metrics and directions.
        x: ``"images_seen"`` or ``"train_s"``.
        path: The PNG to write.
        title: Figure title.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [m for m in checked.metrics if m in checked.directions]
    variants = list(dict.fromkeys(r.variant for r in runs if r.key in results))
    cmap = plt.get_cmap("tab10" if len(variants) <= 10 else "tab20")
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.2 * len(metrics), 4.2), dpi=100, squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        for i, variant in enumerate(variants):
            curves = [series(results[r.key], metric, x) for r in runs if r.variant == variant and r.key in results]
            grid, mean, low, high = _band(curves)
            ax.plot(grid, mean, color=cmap(i), label=variant, lw=1.4, marker=".", ms=3)
            if len(curves) > 1:
                ax.fill_between(grid, low, high, color=cmap(i), alpha=0.18, lw=0)
        arrow = "higher is better" if checked.directions[metric] else "lower is better"
        ax.set_title(f"{metric} ({arrow})", fontsize=10)
        ax.set_xlabel(_XLABEL.get(x, x))
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7, loc="best")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)


def plot_samples(runs: list[RunSpec], results: dict[str, dict[str, Any]], path: str, title: str = "") -> bool:
    """Put each variant's ``final.png`` (its first finished seed) side by side.

    Args:
        runs: The planned runs.
        results: Run key -> result.
        path: The PNG to write.
        title: Figure title.

    Returns:
        Whether a figure was written (False when no run left a ``final.png``).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.image as mpimg
    import matplotlib.pyplot as plt

    panels = {}
    for run in runs:
        png = os.path.join(run.run_dir, "final.png")
        if run.variant not in panels and run.key in results and os.path.isfile(png):
            panels[run.variant] = (run.seed, png)
    if not panels:
        return False
    cols = min(len(panels), 3 if len(panels) > 4 else len(panels))
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 4.2 * rows), dpi=100, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (seed, png) in zip(axes.flat, panels.values()):
        ax.imshow(mpimg.imread(png), interpolation="nearest")  # final.png carries variant, seed and scores
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    save_figure(fig, path)
    return True


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _panels(plt: Any, n: int, width: float, height: float) -> tuple[Any, list[Any]]:
    """A figure with ``n`` panels, at most 3 a row; the unused ones hidden."""
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), dpi=100, squeeze=False)
    flat = list(axes.flat)
    for ax in flat[n:]:
        ax.axis("off")
    return fig, flat[:n]


def _trial_scores(selection: Selection, metric: str) -> list[tuple[int, float]]:
    """(trial, mean validation score) of the variant's complete trials with a finite score."""
    return [(t.trial, m) for t in selection.trials if t.complete and not math.isnan(m := t.mean(metric))]


def plot_expected_best(selections: Mapping[str, Selection], checked: Checked, path: str, title: str = "") -> bool:
    """Draw the expected best validation score after ``k`` trials with its bootstrap band, one panel per
    ``rank_by`` metric, one line per variant.

    Args:
        selections: Variant -> its selection (the trials' validation scores).
        checked: Ranking metrics and directions.
        path: The PNG to write.
        title: Figure title.

    Returns:
        Whether a figure was written (False when no variant has a complete trial).
    """
    plt = _pyplot()
    metrics = list(checked.rank_by)
    if not any(_trial_scores(s, m) for s in selections.values() for m in metrics):
        return False
    from matplotlib.ticker import MaxNLocator

    cmap = plt.get_cmap("tab10" if len(selections) <= 10 else "tab20")
    fig, axes = _panels(plt, len(metrics), 5.2, 4.2)
    for ax, metric in zip(axes, metrics):
        direction = "max" if checked.directions[metric] else "min"
        for i, (variant, selection) in enumerate(selections.items()):
            scores = [v for _, v in _trial_scores(selection, metric)]
            if not scores:
                continue
            band = expected_best_band(scores, direction)
            ax.plot(band.k, band.expected, color=cmap(i), label=variant, lw=1.4, marker=".", ms=4)
            ax.fill_between(band.k, band.low, band.high, color=cmap(i), alpha=0.15, lw=0)
        arrow = "higher is better" if checked.directions[metric] else "lower is better"
        ax.set_title(f"expected best validation {metric} ({arrow})", fontsize=10)
        ax.set_xlabel("trials k")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    axes[-1].legend(fontsize=7, loc="best")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)
    return True


def plot_trials_box(selections: Mapping[str, Selection], checked: Checked, path: str, title: str = "") -> bool:
    """Box plots of every trial's validation score (mean over seeds) per variant, one panel per ``rank_by``
    metric; each trial is a dot, the selected one a star.

    Args:
        selections: Variant -> its selection.
        checked: Ranking metrics and directions.
        path: The PNG to write.
        title: Figure title.

    Returns:
        Whether a figure was written (False when no variant has a complete trial).
    """
    plt = _pyplot()
    metrics = list(checked.rank_by)
    variants: Sequence[str] = list(selections)
    if not any(_trial_scores(s, m) for s in selections.values() for m in metrics):
        return False
    fig, axes = _panels(plt, len(metrics), max(5.2, 0.6 * len(variants) + 2), 4.4)
    for ax, metric in zip(axes, metrics):
        data = [[v for _, v in _trial_scores(selections[name], metric)] for name in variants]
        positions = [i + 1 for i, d in enumerate(data) if d]
        ax.boxplot([d for d in data if d], positions=positions, widths=0.5, showfliers=False)
        for i, name in enumerate(variants, start=1):
            for trial, value in _trial_scores(selections[name], metric):
                chosen = trial == selections[name].trial
                ax.scatter([i], [value], marker="*" if chosen else ".", s=90 if chosen else 18,
                           color="crimson" if chosen else "black", zorder=3)
        ax.set_xticks(range(1, len(variants) + 1))
        ax.set_xticklabels(variants, rotation=30, ha="right", fontsize=8)
        arrow = "higher is better" if checked.directions[metric] else "lower is better"
        ax.set_title(f"validation {metric} of every trial ({arrow}; star: selected)", fontsize=10)
        ax.grid(alpha=0.3, axis="y")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)
    return True
