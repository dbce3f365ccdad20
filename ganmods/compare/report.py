"""``results.csv`` (one row per run), ``results.md`` (selected on validation, reported on test, with
uncertainty) and ``selected.json`` (each variant's selected trial).

Per run (``results.csv``), for every metric ``m`` of the protocol: ``val_<m>`` is the score after the budget
on the validation reference (logged by the run as ``final/<m>``; ``final_<m>`` repeats it under its older
name), ``test_<m>`` the score on the test reference (``test/<m>``; empty when the datamodule has no test
reference) and, with an EMA generator, ``val_raw_<m>`` and ``test_raw_<m>`` the trained (raw) generator's;
``best_<m>`` is the best value over the run's validations and the final validation score, with
``best_<m>_step`` (generator step) and ``best_<m>_images`` where it was first reached; NaN values never count
as best ("best" is chosen with hindsight, so it flatters; nothing selects or ranks by it). Each row has the
run's ``trial`` and, in a search, the value of every path of the search space in the run's config (class
defaults written in) and ``changed``: the paths its trial changed.

``results.md``, per variant, reads only the runs of its *selected trial*, chosen on the validation reference
(:mod:`ganmods.compare.selection`), and reports them on the test reference:

* the test score of each metric: mean over seeds with a 95 % percentile bootstrap interval over the seeds
  (:func:`~ganmods.compare.stats.bootstrap_interval`), the raw generator's beside the EMA's when EMA is on;
* the ranking by the test ``rank_by`` metrics (:func:`~ganmods.compare.stats.rank_lexicographic`): ``1=``
  marks a tie, variants the seeds cannot tell apart;
* the selected trial's effective hyperparameters (loss, regularizers with their weights or clip,
  ``n_critic``, optimizers' learning rates and betas, EMA, as the run built them) and what the trial changed;
* the differences between every two variants on each ``rank_by`` metric, paired by seed, with their interval
  and ``inconclusive`` where it contains 0 (:func:`~ganmods.compare.stats.paired_difference`);
* the validation scores that selected the trial (``mean ± sample std`` over seeds) and the best values;
* in a search (``trials > 1``): every trial's mean validation scores, and the expected best validation score
  after ``k`` trials, ``k = 1..K``, with its bootstrap band (:func:`~ganmods.compare.stats.expected_best_band`;
  trial scores: the mean over seeds of complete trials).

A cell with NaN values (a toy reverse KL without any high-quality sample) summarises the finite ones and says
how many were NaN; ranks and differences use, per metric, the seeds where every compared variant has a
finite score.
"""

from __future__ import annotations

import csv
import json
import math
import os
import statistics
from typing import Any, Mapping, Optional, Sequence

from ganmods.compare.fairness import Checked
from ganmods.compare.plan import RunSpec
from ganmods.compare.recorder import atomic_write
from ganmods.compare.search import explicit_defaults, path_value
from ganmods.compare.selection import Selection, TrialScore, select_trials, validation_scores
from ganmods.compare.stats import (bootstrap_interval, expected_best_band, format_interval, paired_difference,
                                   rank_lexicographic)

__all__ = ["SELECTED_FILE", "audit_batches", "best_of", "cell", "describe_hyperparameters", "fmt", "interval_cell",
           "mean_std", "result_rows", "short_path", "write_results"]

#: Each variant's selected trial, as data (beside results.md).
SELECTED_FILE = "selected.json"
_RUN_COLUMNS = ("variant", "trial", "seed", "status", "generator_steps", "critic_steps", "images_seen",
                "wall_clock_s", "train_s", "steps_per_s", "critic_steps_per_s")
_SCORES = (("val", "final"), ("test", "test"), ("val_raw", "final_raw"), ("test_raw", "test_raw"))


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


def short_path(path: str) -> str:
    """A search-space path as the report prints it: without ``model.init_args.`` and inner ``init_args.``.

    Args:
        path: A dotted config path.

    Returns:
        E.g. ``"optimizer_g.lr"`` for ``model.init_args.optimizer_g.init_args.lr``.
    """
    parts = path.split(".")
    if parts[:2] == ["model", "init_args"]:
        parts = parts[2:]
    return ".".join(p for p in parts if p != "init_args") or path


def _out_dir(run: RunSpec) -> str:
    """The comparison's folder: above ``runs/<variant>/[t<trial>/]s<seed>``."""
    path = run.run_dir
    for _ in range(4 if run.searched else 3):
        path = os.path.dirname(path)
    return path


def result_rows(runs: list[RunSpec], results: dict[str, dict[str, Any]], checked: Checked,
                space: Optional[Mapping[str, Any]] = None) -> list[dict[str, Any]]:
    """One row per finished run, in plan order.

    Args:
        runs: The planned runs.
        results: Run key -> its result.
        checked: Metrics and directions.
        space: The search space, when the comparison searches: a column per path (the run's value).

    Returns:
        The rows (the columns of ``results.csv``); a score the run did not record is ``None``.
    """
    rows = []
    for run in runs:
        res = results.get(run.key)
        if res is None:
            continue
        train_s = float(res["train_s"])
        row: dict[str, Any] = {
            "variant": run.variant, "trial": run.trial, "seed": run.seed, "status": res["status"],
            "generator_steps": res["generator_steps"], "critic_steps": res["critic_steps"],
            "images_seen": res["images_seen"], "wall_clock_s": res["wall_clock_s"], "train_s": train_s,
            "steps_per_s": res["generator_steps"] / train_s if train_s > 0 else math.nan,
            "critic_steps_per_s": res["critic_steps"] / train_s if train_s > 0 else math.nan,
        }
        final_row = {"generator_steps": res["generator_steps"], "images_seen": res["images_seen"], **res["final"]}
        for metric in checked.metrics:
            for column, key in _SCORES:
                scores = res.get(key)
                if scores is not None or column in ("val", "test"):
                    row[f"{column}_{metric}"] = None if scores is None else scores.get(metric, math.nan)
            row[f"final_{metric}"] = res["final"].get(metric, math.nan)
            if metric in checked.directions:
                value, step, images = best_of(res["history"], final_row, metric, checked.directions[metric])
                row.update({f"best_{metric}": value, f"best_{metric}_step": step, f"best_{metric}_images": images})
        if space is not None:
            effective = explicit_defaults(run.config, space)
            for path in space:
                value = path_value(effective, path)
                row[path] = json.dumps(value) if isinstance(value, (dict, list)) else value
            row["changed"] = " ".join(short_path(p) for p in run.changes)
        row.update(budget_unit=run.budget.unit, budget=run.budget.value, threads=res.get("threads"),
                   batch_digest=res.get("batch_digest"), init_digest=res.get("init_digest"),
                   run_dir=os.path.relpath(run.run_dir, _out_dir(run)))
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


def _nan_split(values: Sequence[Optional[float]]) -> tuple[list[float], int]:
    """The finite values and how many recorded ones were NaN (``None``: not recorded, not counted)."""
    recorded = [float(v) for v in values if v is not None]
    finite = [v for v in recorded if not math.isnan(v)]
    return finite, len(recorded) - len(finite)


def cell(values: list[float]) -> str:
    """A table cell: :func:`fmt` of the finite values' mean and std, then how many values were NaN (a toy
    reverse KL is NaN when a run has no high-quality sample), e.g. ``"0.98 ± 0.1 (1 nan)"``.

    Args:
        values: One value per seed.

    Returns:
        The cell text (``"nan"`` when every value is NaN).
    """
    finite, missing = _nan_split(values)
    if not finite:
        return "nan"
    text = fmt(*mean_std(finite))
    return f"{text} ({missing} nan)" if missing else text


def interval_cell(values: Sequence[Optional[float]]) -> str:
    """A table cell: the mean of the finite values with its 95 % bootstrap interval over seeds
    (:func:`~ganmods.compare.stats.format_interval`), then how many values were NaN.

    Args:
        values: One value per seed (``None``: not recorded).

    Returns:
        E.g. ``"7.5 [7, 8]"``, ``"0.5 (1 seed: no interval)"``, ``"nan"`` (every value NaN) or ``"–"`` (none
        recorded).
    """
    finite, missing = _nan_split(values)
    if not finite:
        return "nan" if missing else "–"
    text = format_interval(bootstrap_interval(finite))
    return f"{text} ({missing} nan)" if missing else text


def _finite_or_none(value: float) -> Optional[float]:
    return None if math.isnan(value) else value


def _number(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def describe_hyperparameters(record: Optional[Mapping[str, Any]]) -> dict[str, str]:
    """The cells of a run's effective hyperparameters (:func:`~ganmods.compare.recorder.effective_hyperparameters`).

    Args:
        record: The run's ``hyperparameters`` (``None``/empty: not recorded).

    Returns:
        ``loss``, ``regularizers``, ``n_critic``, ``optimizer_g``, ``optimizer_d`` and ``ema`` as text, e.g.
        ``{"optimizer_g": "Adam lr 0.0002 betas (0.5, 0.999)", "regularizers": "GradientPenalty(weight 0.1,
        one_sided True, target 1, every 1)", ...}``.
    """
    keys = ("loss", "regularizers", "n_critic", "optimizer_g", "optimizer_d", "ema")
    if not record:
        return {k: "not recorded" for k in keys}
    regs = []
    for reg in record.get("regularizers") or []:
        args = ", ".join(f"{k} {_number(v)}" for k, v in reg.items() if k != "class")
        regs.append(f"{reg.get('class', '?')}({args})" if args else str(reg.get("class", "?")))
    out = {"loss": str(record.get("loss", "?")), "regularizers": "; ".join(regs) or "none",
           "n_critic": str(record.get("n_critic", "?"))}
    for name in ("optimizer_g", "optimizer_d"):
        opt = record.get(name)
        if not opt:
            out[name] = "?"
            continue
        text = f"{opt.get('class', '?')} lr {_number(float(opt['lr']))}"
        if opt.get("betas") is not None:
            text += " betas (" + ", ".join(_number(float(b)) for b in opt["betas"]) + ")"
        out[name] = text
    ema = record.get("ema")
    if not ema:
        out["ema"] = "off"
    elif ema.get("half_life_images") is not None:
        out["ema"] = f"half-life {_number(float(ema['half_life_images']))} images"
    else:
        out["ema"] = f"decay {_number(float(ema['decay']))}"
    return out


def audit_batches(runs: list[RunSpec], results: dict[str, dict[str, Any]]) -> list[str]:
    """Check that the finished runs of each seed (every variant and trial) trained on the same real batches
    (over the critic steps they have in common) from the same initial networks, and that different seeds saw
    different data.

    Args:
        runs: The planned runs.
        results: Run key -> result (only finished runs are read).

    Returns:
        One line per seed.
    """
    def label(run: RunSpec) -> str:
        return f"{run.variant}/t{run.trial}" if run.searched else run.variant

    lines = []
    firsts: dict[int, str] = {}
    for seed in dict.fromkeys(r.seed for r in runs):
        hashes = {}
        for run in runs:
            path = os.path.join(run.run_dir, "batches.txt")
            if run.seed == seed and run.key in results and os.path.isfile(path):
                with open(path) as fh:
                    hashes[label(run)] = fh.read().split()
        if not hashes:
            continue
        common = min(len(h) for h in hashes.values())
        reference = next(iter(hashes.values()))[:common]
        differ = [v for v, h in hashes.items() if h[:common] != reference]
        firsts[seed] = reference[0] if reference else ""
        inits = {label(r): results[r.key].get("init_digest") for r in runs if r.seed == seed and r.key in results}
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


def _arrow(checked: Checked, metric: str) -> str:
    return {True: " ↑", False: " ↓"}.get(checked.directions.get(metric), "")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *("| " + " | ".join(r) + " |" for r in rows)]


def _seed_scores(rows: list[dict[str, Any]], column: str) -> dict[int, float]:
    """Seed -> finite value of ``column`` (recorded, not NaN)."""
    out = {}
    for row in rows:
        value = row.get(column)
        if value is not None and not math.isnan(float(value)):
            out[int(row["seed"])] = float(value)
    return out


def _selected_runs(rows: list[dict[str, Any]], selections: Mapping[str, Selection]) -> dict[str, list[dict[str, Any]]]:
    return {v: [r for r in rows if r["variant"] == v and r["trial"] == s.trial] for v, s in selections.items()}


def _ranking_section(chosen: dict[str, list[dict[str, Any]]], selections: Mapping[str, Selection],
                     checked: Checked, searched: bool, raw: bool) -> tuple[list[str], list[str]]:
    """The main table (test scores of the selected trials, ranked) and the ranked variant order."""
    scores = {m: {v: _seed_scores(rs, f"test_{m}") for v, rs in chosen.items()} for m in checked.rank_by}
    entries = rank_lexicographic(scores, {m: "max" if checked.directions[m] else "min" for m in checked.rank_by})
    header = ["rank", "variant", *(["trial"] if searched else []), "seeds"]
    for metric in checked.metrics:
        header.append(f"{metric}{_arrow(checked, metric)} test")
        if raw:
            header.append(f"{metric} test, raw G")
    header += ["G steps", "images", "train s", "G steps/s"]
    body = []
    for entry in entries:
        rs = chosen[entry.name]
        selection = selections[entry.name]
        trial = str(selection.trial) + ("" if selection.complete else " (incomplete)")
        cells = [entry.label, entry.name, *([trial] if searched else []), str(len(rs))]
        for metric in checked.metrics:
            cells.append(interval_cell([r.get(f"test_{metric}") for r in rs]))
            if raw:
                cells.append(interval_cell([r.get(f"test_raw_{metric}") for r in rs]))
        for col in ("generator_steps", "images_seen"):
            cells.append(f"{mean_std([r[col] for r in rs])[0]:.0f}")
        for col in ("train_s", "steps_per_s"):
            cells.append(fmt(mean_std([r[col] for r in rs])[0], None))
        body.append(cells)
    return _table(header, body), [e.name for e in entries]


def _hyperparameter_section(order: list[str], chosen: dict[str, list[dict[str, Any]]],
                            selections: Mapping[str, Selection], runs: list[RunSpec],
                            results: Mapping[str, Mapping[str, Any]]) -> list[str]:
    header = ["variant", "trial", "loss", "regularizers", "n_critic", "optimizer G", "optimizer D", "EMA",
              "changed by the trial"]
    body = []
    for variant in order:
        trial = selections[variant].trial
        run = next(r for r in runs if r.variant == variant and r.trial == trial and r.key in results)
        described = describe_hyperparameters(results[run.key].get("hyperparameters"))
        changes = ", ".join(f"{short_path(p)} {_number(v)}" for p, v in run.changes.items()) or \
            ("none (the variant's config)" if trial == 0 else "none (the draws equal the variant's values)")
        body.append([variant, str(trial), described["loss"], described["regularizers"], described["n_critic"],
                     described["optimizer_g"], described["optimizer_d"], described["ema"], changes])
    return _table(header, body)


def _pairwise_section(order: list[str], chosen: dict[str, list[dict[str, Any]]], checked: Checked) -> list[str]:
    header = ["a", "b", *(f"{m}{_arrow(checked, m)}: a − b" for m in checked.rank_by)]
    body = []
    for i, a in enumerate(order):
        for b in order[i + 1:]:
            cells = [a, b]
            for metric in checked.rank_by:
                sa, sb = _seed_scores(chosen[a], f"test_{metric}"), _seed_scores(chosen[b], f"test_{metric}")
                common = sorted(set(sa) & set(sb))
                if not common:
                    cells.append("no seed with both scores")
                    continue
                diff = paired_difference([sa[s] for s in common], [sb[s] for s in common],
                                         "max" if checked.directions[metric] else "min")
                verdict = {"a better": f"{a} better", "b better": f"{b} better"}.get(diff.verdict, diff.verdict)
                cells.append(f"{format_interval(diff.interval)} {verdict}")
            body.append(cells)
    return _table(header, body)


def _validation_section(order: list[str], chosen: dict[str, list[dict[str, Any]]],
                        selections: Mapping[str, Selection], checked: Checked, searched: bool) -> list[str]:
    header = ["variant", *(["trial"] if searched else []), "seeds"]
    for metric in checked.metrics:
        header.append(f"{metric}{_arrow(checked, metric)} val")
        if metric in checked.directions:
            header.append(f"{metric} best")
    body = []
    for variant in order:
        rs = chosen[variant]
        cells = [variant, *([str(selections[variant].trial)] if searched else []), str(len(rs))]
        for metric in checked.metrics:
            cells.append(cell([r[f"val_{metric}"] for r in rs]))
            if metric in checked.directions:
                cells.append(cell([r[f"best_{metric}"] for r in rs]))
        body.append(cells)
    return _table(header, body)


def _complete_scores(trials: Sequence[TrialScore], metric: str) -> list[float]:
    """The mean validation scores of the complete trials, finite ones, by trial index."""
    values = [t.mean(metric) for t in trials if t.complete]
    return [v for v in values if not math.isnan(v)]


def _search_section(order: list[str], selections: Mapping[str, Selection], checked: Checked, trials: int,
                    runs: list[RunSpec]) -> list[str]:
    lines = ["## Every trial (validation reference, mean over seeds)", ""]
    header = ["variant", "trial", "seeds", *(f"{m}{_arrow(checked, m)} val" for m in checked.metrics), "changed"]
    body = []
    for variant in order:
        selection = selections[variant]
        for score in selection.trials:
            changes = next((r.changes for r in runs if r.variant == variant and r.trial == score.trial), {})
            mark = f"**{score.trial}** (selected)" if score.trial == selection.trial else str(score.trial)
            seeds = f"{len(score.values)}/{len(score.planned)}"
            body.append([variant, mark, seeds, *(fmt(score.mean(m), None) for m in checked.metrics),
                         ", ".join(f"{short_path(p)} {_number(v)}" for p, v in changes.items()) or "–"])
    lines += _table(header, body)
    lines += ["", f"## Expected best validation score after k trials (k = 1..{trials})", "",
              "Each trial's score is its mean validation score over the seeds (complete trials only); the expected "
              "best of k trials drawn from them with replacement (Dodge et al. 2019), with a 95 % bootstrap band "
              "over the trials. Plots: plots/expected_best.png, plots/trials_box.png.", ""]
    for metric in checked.rank_by:
        direction = "max" if checked.directions[metric] else "min"
        bands = {v: expected_best_band(values, direction) for v in order
                 if (values := _complete_scores(selections[v].trials, metric))}
        lines += [f"### {metric}{_arrow(checked, metric)}", ""]
        rows = []
        for k in range(1, trials + 1):
            row = [str(k)]
            for variant in order:
                band = bands.get(variant)
                if band is None or k > len(band.k):
                    row.append("–")
                else:
                    i = k - 1
                    row.append(f"{band.expected[i]:.4g} [{band.low[i]:.4g}, {band.high[i]:.4g}]")
            rows.append(row)
        lines += _table(["k", *order], rows) + [""]
    return lines


def write_results(out_dir: str, title: str, intro: list[str], runs: list[RunSpec],
                  results: dict[str, dict[str, Any]], checked: Checked, audit: list[str],
                  space: Optional[Mapping[str, Any]] = None, trials: int = 1) -> dict[str, Selection]:
    """Write ``results.csv``, ``results.md`` and ``selected.json`` into ``out_dir``.

    Args:
        out_dir: The comparison's folder.
        title: The Markdown title.
        intro: Lines printed under the title (budget, seeds, fairness, ...).
        runs: The planned runs.
        results: Run key -> result (finished runs).
        checked: Metrics, directions and ranking.
        audit: :func:`audit_batches`' lines.
        space: The search space when the comparison searches (``trials > 1``).
        trials: Trials per variant.

    Returns:
        Each variant's selection (chosen on validation scores only).
    """
    rows = result_rows(runs, results, checked, space if trials > 1 else None)
    columns = list(_RUN_COLUMNS)
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    with open(os.path.join(out_dir, "results.csv"), "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    selections = select_trials(validation_scores(runs, results), checked.rank_by, checked.directions)
    searched = trials > 1
    lines = [f"# {title}", "", *intro, ""]
    order: list[str] = []
    if rows:
        chosen = _selected_runs(rows, selections)
        raw = any(r.get(f"test_raw_{m}") is not None for rs in chosen.values() for r in rs for m in checked.metrics)
        table, order = _ranking_section(chosen, selections, checked, searched, raw)
        lines += ["## Test scores of each variant's selected trial", "", *table, ""]
        lines += ["## Hyperparameters of the selected trials", "",
                  *_hyperparameter_section(order, chosen, selections, runs, results), ""]
        if len(order) > 1:
            lines += ["## Differences on the test reference (a − b, paired by seed)", "",
                      *_pairwise_section(order, chosen, checked), ""]
        lines += ["## Validation scores of the selected trials (what selected them)", "",
                  *_validation_section(order, chosen, selections, checked, searched), ""]
        if searched:
            lines += _search_section(order, selections, checked, trials, runs)
    lines += ["Same start, same data (fingerprints of the initial networks and of every critic step's real batch):",
              *[f"- {a}" for a in audit], ""]
    with open(os.path.join(out_dir, "results.md"), "w") as fh:
        fh.write("\n".join(lines))
    record = {}
    for variant in order:
        selection = selections[variant]
        run = next(r for r in runs if r.variant == variant and r.trial == selection.trial and r.key in results)
        test = {m: _seed_scores([r for r in rows if r["variant"] == variant and r["trial"] == selection.trial],
                                f"test_{m}") for m in checked.metrics}
        record[variant] = {"trial": selection.trial, "complete": selection.complete,
                           "seeds": sorted(selection.selected.values), "changes": run.changes,
                           "hyperparameters": results[run.key].get("hyperparameters"),
                           "validation": {m: _finite_or_none(selection.selected.mean(m)) for m in checked.metrics},
                           "test": {m: statistics.fmean(v.values()) if v else None for m, v in test.items()}}
    atomic_write(os.path.join(out_dir, SELECTED_FILE), json.dumps(record, indent=1, default=str), sync=False)
    return selections
