"""``results.csv`` (one row per run) and ``results.md`` (per variant, mean ± std over seeds, ranked).

Per run, for every metric of the protocol: ``final_<m>`` is the datamodule's ``evaluate`` after the budget
was spent (logged by the run as ``final/<m>``); ``best_<m>`` is the best value over the run's validations
and the final evaluation (logged as ``val/<m>`` and ``final/<m>``), with ``best_<m>_step`` (generator step)
and ``best_<m>_images`` where it was first reached; NaN values never count as best. "Best" is chosen with
hindsight on the evaluation samples, so it flatters; the ranking uses the final values.

``results.md`` ranks variants by the mean over seeds of the final ``rank_by`` metrics (lexicographic, each
in its own direction; a NaN mean ranks last) and shows ``mean ± std`` with the sample standard deviation
(``n - 1``; only the mean when there is one seed); a cell with NaN values (a toy reverse KL without any
high-quality sample) summarises the others and says how many were NaN.
"""

from __future__ import annotations

import csv
import math
import os
import statistics
from typing import Any, Optional

from ganmods.compare.fairness import Checked
from ganmods.compare.plan import RunSpec

__all__ = ["audit_batches", "best_of", "cell", "fmt", "mean_std", "rank_variants", "result_rows", "write_results"]

_RUN_COLUMNS = ("variant", "seed", "status", "generator_steps", "critic_steps", "images_seen", "wall_clock_s",
                "train_s", "steps_per_s", "critic_steps_per_s")


def best_of(history: list[dict[str, Any]], final_row: dict[str, Any], metric: str,
            higher: bool) -> tuple[float, Optional[int], Optional[int]]:
    """The best value of ``metric`` over a run's validations and its final evaluation, and where it was
    first reached.

    Args:
        history: Validation rows (``generator_steps``, ``images_seen`` and metric values).
        final_row: The final evaluation as a row.
        metric: The metric.
        higher: Whether higher is better.

    Returns:
        ``(best value, generator step, images seen)``; ``(nan, None, None)`` if every value is NaN.
    """
    best: tuple[float, Optional[int], Optional[int]] = (math.nan, None, None)
    for row in [*history, final_row]:
        value = row.get(metric)
        if value is None or math.isnan(float(value)):
            continue
        value = float(value)
        if best[1] is None or (value > best[0] if higher else value < best[0]):
            best = (value, int(row["generator_steps"]), int(row["images_seen"]))
    return best


def result_rows(runs: list[RunSpec], results: dict[str, dict[str, Any]], checked: Checked) -> list[dict[str, Any]]:
    """One row per finished run, in plan order.

    Args:
        runs: The planned runs.
        results: Run key -> its result.
        checked: Metrics and directions.

    Returns:
        The rows (the columns of ``results.csv``).
    """
    rows = []
    for run in runs:
        res = results.get(run.key)
        if res is None:
            continue
        train_s = float(res["train_s"])
        row: dict[str, Any] = {
            "variant": run.variant, "seed": run.seed, "status": res["status"],
            "generator_steps": res["generator_steps"], "critic_steps": res["critic_steps"],
            "images_seen": res["images_seen"], "wall_clock_s": res["wall_clock_s"], "train_s": train_s,
            "steps_per_s": res["generator_steps"] / train_s if train_s > 0 else math.nan,
            "critic_steps_per_s": res["critic_steps"] / train_s if train_s > 0 else math.nan,
        }
        final_row = {"generator_steps": res["generator_steps"], "images_seen": res["images_seen"], **res["final"]}
        for metric in checked.metrics:
            row[f"final_{metric}"] = res["final"].get(metric, math.nan)
            if metric in checked.directions:
                value, step, images = best_of(res["history"], final_row, metric, checked.directions[metric])
                row.update({f"best_{metric}": value, f"best_{metric}_step": step, f"best_{metric}_images": images})
        row.update(budget_unit=run.budget.unit, budget=run.budget.value, threads=res.get("threads"),
                   batch_digest=res.get("batch_digest"), init_digest=res.get("init_digest"),
                   run_dir=os.path.relpath(run.run_dir, os.path.dirname(os.path.dirname(os.path.dirname(run.run_dir)))))
        rows.append(row)
    return rows


def mean_std(values: list[float]) -> tuple[float, Optional[float]]:
    """Mean and sample standard deviation (``None`` for one value); NaN if any value is NaN.

    Args:
        values: At least one number.

    Returns:
        ``(mean, std)``.
    """
    values = [float(v) for v in values]
    if any(math.isnan(v) for v in values):
        return math.nan, (math.nan if len(values) > 1 else None)
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else None)


def fmt(mean: float, std: Optional[float]) -> str:
    """``"0.874 ± 0.012"`` (four significant digits; ``"nan"`` for NaN; the mean alone without a std).

    Args:
        mean: The mean.
        std: The standard deviation, or ``None``.

    Returns:
        The cell text.
    """
    text = f"{mean:.4g}"
    return text if std is None else f"{text} ± {std:.2g}"


def cell(values: list[float]) -> str:
    """A table cell: :func:`fmt` of the finite values' mean and std, then how many values were NaN (a toy
    reverse KL is NaN when a run has no high-quality sample), e.g. ``"0.98 ± 0.1 (1 nan)"``.

    Args:
        values: One value per seed.

    Returns:
        The cell text (``"nan"`` when every value is NaN).
    """
    finite = [float(v) for v in values if not math.isnan(float(v))]
    if not finite:
        return "nan"
    text = fmt(*mean_std(finite))
    missing = len(values) - len(finite)
    return f"{text} ({missing} nan)" if missing else text


def rank_variants(rows: list[dict[str, Any]], checked: Checked) -> list[str]:
    """Variants ordered best first by the mean final ``rank_by`` metrics (lexicographic; NaN last).

    Args:
        rows: :func:`result_rows`' rows.
        checked: Ranking metrics and directions.

    Returns:
        Variant names.
    """
    variants = list(dict.fromkeys(r["variant"] for r in rows))

    def key(variant: str) -> tuple:
        out = []
        for metric in checked.rank_by:
            mean, _ = mean_std([r[f"final_{metric}"] for r in rows if r["variant"] == variant])
            out.append((math.isnan(mean), -mean if checked.directions[metric] and not math.isnan(mean) else mean))
        return tuple(out)

    return sorted(variants, key=key)


def audit_batches(runs: list[RunSpec], results: dict[str, dict[str, Any]]) -> list[str]:
    """Check that the finished runs of each seed trained on the same real batches (over the critic steps
    they have in common) from the same initial networks, and that different seeds saw different data.

    Args:
        runs: The planned runs.
        results: Run key -> result (only finished runs are read).

    Returns:
        One line per seed.
    """
    lines = []
    firsts: dict[int, str] = {}
    for seed in dict.fromkeys(r.seed for r in runs):
        hashes = {}
        for run in runs:
            path = os.path.join(run.run_dir, "batches.txt")
            if run.seed == seed and run.key in results and os.path.isfile(path):
                with open(path) as fh:
                    hashes[run.variant] = fh.read().split()
        if not hashes:
            continue
        common = min(len(h) for h in hashes.values())
        reference = next(iter(hashes.values()))[:common]
        differ = [v for v, h in hashes.items() if h[:common] != reference]
        firsts[seed] = reference[0] if reference else ""
        inits = {r.variant: results[r.key].get("init_digest") for r in runs if r.seed == seed and r.key in results}
        if None in inits.values():
            init_text = "initial networks whose fingerprints were not recorded"
        elif len(set(inits.values())) == 1:
            init_text = "the same initial networks"
        else:
            init_text = f"DIFFERENT initial networks ({', '.join(f'{v} {d}' for v, d in inits.items())})"
        if differ:
            lines.append(f"seed {seed}: MISMATCH, {', '.join(differ)} saw other real batches than "
                         f"{next(iter(hashes))} within the first {common} critic steps; {init_text}")
        else:
            lines.append(f"seed {seed}: {len(hashes)} runs saw identical real batches over their first {common} "
                         f"critic steps and started from {init_text}")
    if len(firsts) > 1 and len(set(firsts.values())) < len(firsts):
        lines.append("seeds: WARNING, two seeds started from the same real batch")
    return lines


def write_results(path_csv: str, path_md: str, title: str, intro: list[str], rows: list[dict[str, Any]],
                  checked: Checked, audit: list[str]) -> None:
    """Write ``results.csv`` and ``results.md``.

    Args:
        path_csv: Where ``results.csv`` goes.
        path_md: Where ``results.md`` goes.
        title: The Markdown title.
        intro: Lines printed under the title (budget, seeds, fairness, ...).
        rows: :func:`result_rows`' rows.
        checked: Metrics, directions and ranking.
        audit: :func:`audit_batches`' lines.
    """
    columns = list(_RUN_COLUMNS)
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    with open(path_csv, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    lines = [f"# {title}", "", *intro, ""]
    if rows:
        header = ["rank", "variant", "seeds"]
        for metric in checked.metrics:
            arrow = {True: " ↑", False: " ↓"}.get(checked.directions.get(metric), "")
            header.append(f"{metric}{arrow} final")
            if metric in checked.directions:
                header.append(f"{metric} best")
        header += ["G steps", "images", "train s", "G steps/s"]
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for rank, variant in enumerate(rank_variants(rows, checked), start=1):
            rs = [r for r in rows if r["variant"] == variant]
            cells = [str(rank), variant, str(len(rs))]
            for metric in checked.metrics:
                cells.append(cell([r[f"final_{metric}"] for r in rs]))
                if metric in checked.directions:
                    cells.append(cell([r[f"best_{metric}"] for r in rs]))
            for col in ("generator_steps", "images_seen"):
                cells.append(f"{mean_std([r[col] for r in rs])[0]:.0f}")
            for col in ("train_s", "steps_per_s"):
                cells.append(fmt(mean_std([r[col] for r in rs])[0], None))
            lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Same start, same data (fingerprints of the initial networks and of every critic step's real batch):",
              *[f"- {a}" for a in audit], ""]
    with open(path_md, "w") as fh:
        fh.write("\n".join(lines))
