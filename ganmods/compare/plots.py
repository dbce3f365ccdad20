"""Comparison plots: metric curves (one line per variant, a band over seeds) and side-by-side samples.

``plots/metric_vs_images.png`` and ``plots/metric_vs_seconds.png`` have one panel per metric with a
direction; each variant's line is the mean over seeds and its band spans the seeds' minimum to maximum,
at the validations every seed has (the same critic steps for every seed; on the wall-clock axis a point
sits at the seeds' mean time, since seeds run at different speeds). ``plots/samples.png`` puts each variant's
``final.png`` (first finished seed) side by side.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from ganmods.compare.fairness import Checked
from ganmods.compare.plan import RunSpec
from ganmods.images import save_figure

__all__ = ["plot_curves", "plot_samples", "series"]

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
