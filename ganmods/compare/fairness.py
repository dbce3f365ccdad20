"""Checks made before any run starts: every variant builds, fairness holds, the metrics are known.

:func:`check_runs` instantiates every variant once per trial (its first seed's run config, through the same
parser as ``ganmods fit``, so a bad key, type or value anywhere, a drawn one included, fails here and not after
an hour of training), compares what it built with ``shared`` and runs the evaluation protocol once on the
untrained generator, on the validation and the test reference, to learn the metric names (and to fail early
when the metric itself cannot run). Which way each metric is better comes from the metric itself (the
datamodule's ``metric_spec``, :mod:`ganmods.metrics.protocol`, and for what
:meth:`~ganmods.GANModule.own_scores` adds, such as a BiGAN's ``reconstruction_mse`` and ``latent_mse``,
:meth:`~ganmods.GANModule.own_score_spec`); ``evaluation.higher_is_better`` declares metrics that
declare none.

Fairness (``strict: true`` refuses any difference; ``strict: false`` records them in the report):

* every network (:func:`~ganmods.compare.recorder.network_names`: generator, discriminator and, e.g., a BiGAN's
  encoder): class and every argument (defaults filled in) equal the shared network's (a network that ``shared``
  does not give is a difference);
* every ``shared.model.init_args`` value is kept (e.g. ``ema_decay``, which decides what is scored);
* the data section equals the shared one, seed aside: same dataset, batches, held-out set and evaluation
  protocol (``eval_samples``, ``eval_seed``, ``metric``), hence the same real batches per seed;
* the trainer section equals the shared one (logger and folders aside, which are per run).

Every trial of a search is held to the same rules (a space reaches only under ``model.init_args`` and, under
``strict``, never what ``shared`` fixes: :mod:`ganmods.compare.config`), so the trials of a variant differ
only in the space's paths.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Optional

from ganmods.compare.config import Comparison
from ganmods.compare.merge import flatten, get_path
from ganmods.compare.plan import RunSpec
from ganmods.compare.recorder import evaluate_split, model_score_spec, network_names
from ganmods.compare.runner import build_cli, quiet
from ganmods.errors import ConfigurationError
from ganmods.metrics.protocol import EMPTY_SPEC, MetricSpec, shipped_higher_is_better

__all__ = ["Checked", "check_runs", "direction"]

_PER_RUN_TRAINER = ("logger", "default_root_dir", "enable_progress_bar", "max_epochs")


def direction(metric: str, declared: Optional[dict[str, bool]] = None,
              spec: Optional[MetricSpec] = None) -> Optional[bool]:
    """Whether higher is better for a metric, as declared: by the comparison (``declared``, takes
    precedence), else by the metric (``spec``, e.g. a datamodule's ``metric_spec``), else, without a spec,
    by the metric shipped with ganmods that returns that name
    (:func:`~ganmods.metrics.protocol.shipped_higher_is_better`: ``modes``, ``hq`` up; ``reverse_kl``,
    ``fid_<n>``, ``kid_<n>`` down).

    Args:
        metric: The metric name (as the datamodule's ``evaluate`` returns it).
        declared: ``evaluation.higher_is_better`` of the comparison.
        spec: The protocol's :class:`~ganmods.metrics.MetricSpec`.

    Returns:
        True, False, or None when the metric has no direction (a spread such as ``kid_<n>_std``) or none
        is declared.
    """
    if declared and metric in declared:
        return declared[metric]
    if spec is not None:
        return spec.higher_is_better.get(metric)
    return shipped_higher_is_better(metric)


@dataclass(frozen=True)
class Checked:
    """What the checks found.

    Args:
        metrics: The protocol's metric names, in its order.
        directions: Metric -> higher is better (only metrics with a direction).
        rank_by: The metrics that rank the variants.
        deviations: Variant -> the shared pieces it changes (empty under ``strict``).
    """

    metrics: tuple[str, ...]
    directions: dict[str, bool]
    rank_by: tuple[str, ...]
    deviations: dict[str, list[str]] = field(default_factory=dict)


def _net_spec(spec: Any) -> Any:
    """A network spec with every default filled in (by building it), or the spec itself if it cannot be."""
    from ganmods.spec import NotRecordable, from_spec, to_spec

    try:
        return to_spec(from_spec(spec))
    except (ImportError, NotRecordable, TypeError, ValueError):
        return spec


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 160 else text[:157] + "..."


def _deviations(shared: dict[str, Any], config: dict[str, Any], built: Any) -> list[str]:
    found = []
    from ganmods.spec import NotRecordable, to_spec

    shared_init = shared["model"].get("init_args") or {}
    networks = network_names(built.model)
    for net in networks:
        want = _net_spec(shared_init[net]) if net in shared_init else "<unset>"
        try:
            got = to_spec(getattr(built.model, net))
        except NotRecordable:
            got = get_path(config, ("model", "init_args", net), "<unset>")
        if got != want:
            found.append(f"model.init_args.{net} (shared {_short(want)}, variant {_short(got)})")
    for path, value in flatten(shared_init, ("model", "init_args")):
        if path[2] in networks:
            continue
        got = get_path(config, path, "<unset>")
        if got != value:
            found.append(f"{'.'.join(path)} (shared {_short(value)}, variant {_short(got)})")
    for section, skip in (("data", ("seed",)), ("trainer", _PER_RUN_TRAINER)):
        want = {k: v for k, v in shared[section].items() if k not in skip}
        got = {k: v for k, v in config[section].items() if k not in skip}
        for key in sorted(set(want) | set(got)):
            if want.get(key, "<unset>") != got.get(key, "<unset>"):
                found.append(f"{section}.{key} (shared {_short(want.get(key, '<unset>'))}, variant "
                             f"{_short(got.get(key, '<unset>'))})")
    return found


def _joined(protocol: MetricSpec, model: MetricSpec) -> MetricSpec:
    """The protocol's spec followed by the model's own scores (the protocol's main value stays the main one)."""
    if not model.names:
        return protocol
    return MetricSpec((*protocol.names, *model.names), {**model.higher_is_better, **protocol.higher_is_better},
                      main=protocol.main, reduce={**model.reduce, **protocol.reduce})


def check_runs(comparison: Comparison, runs: list[RunSpec]) -> Checked:
    """Build every variant once and check fairness and the evaluation protocol, before any run starts.

    Args:
        comparison: The comparison.
        runs: Its runs (from :func:`~ganmods.compare.plan.plan_runs`); each (variant, trial) of the first seed is
            built.

    Returns:
        The metric names, directions, ranking metrics and (non-strict) deviations.

    Raises:
        ConfigurationError: If a variant or a trial does not build (bad key, type or value), a variant changes a
            shared piece under ``strict``, the variants' protocols give different metrics, or ``evaluation.rank_by``
            names a metric the protocol does not return or whose direction is unknown.
    """
    deviations: dict[str, list[str]] = {}
    metric_sets: dict[str, tuple[str, ...]] = {}
    specs: dict[str, MetricSpec] = {}
    first_seed = comparison.seeds[0]
    with quiet():
        for run in (r for r in runs if r.seed == first_seed):
            where = f"variants.{run.variant}" + (f" (trial {run.trial})" if run.searched else "")
            built = build_cli(run.config, where)
            found = _deviations(comparison.shared, run.config, built)
            if found and comparison.strict:
                raise ConfigurationError(
                    f"{where} must use the shared networks, data, trainer and model settings "
                    f"(strict fairness); it changes {'; '.join(found)}. Make the variant keep them, or set "
                    "strict: false to compare anyway (the report then lists the differences)."
                )
            known = deviations.setdefault(run.variant, [])
            known.extend(f for f in found if f not in known)
            own = model_score_spec(built.model)  # scored beside the protocol (a BiGAN's encoder)
            data_key = json.dumps({k: v for k, v in run.config["data"].items() if k != "seed"}, sort_keys=True,
                                  default=str) + repr(own.names)
            if data_key not in metric_sets:
                metric_sets[data_key] = tuple(evaluate_split(built.datamodule, built.model, "val"))
                test = evaluate_split(built.datamodule, built.model, "test")  # the test reference works too
                if tuple(test) != metric_sets[data_key]:
                    raise ConfigurationError(f"data must score the validation and test references by the same "
                                             f"metrics; got {list(metric_sets[data_key])} and {list(test)}.")
                specs[data_key] = _joined(getattr(built.datamodule, "metric_spec", EMPTY_SPEC), own)
    deviations = {variant: found for variant, found in deviations.items() if found}
    names = list(metric_sets.values())
    if any(n != names[0] for n in names):
        raise ConfigurationError(f"variants must be scored by the same metrics; their data sections and models give "
                                 f"{names}.")
    metrics = names[0]
    if not metrics:
        raise ConfigurationError("data must define an evaluation protocol with metrics (toy data, or "
                                 "data.metric for images); got none.")
    declared = comparison.evaluation.higher_is_better
    spec = next(iter(specs.values()))  # same data section, same metrics: one protocol
    directions = {m: d for m in metrics if (d := direction(m, declared, spec)) is not None}
    rank_by = comparison.evaluation.rank_by or tuple(m for m in metrics if m in directions)
    for metric in rank_by:
        if metric not in metrics:
            raise ConfigurationError(f"evaluation.rank_by must name metrics of the protocol ({list(metrics)}); "
                                     f"got {metric!r}.")
        if metric not in directions:
            raise ConfigurationError(f"evaluation.rank_by: the direction of {metric!r} is unknown; declare it in "
                                     f"evaluation.higher_is_better (e.g. {{{metric}: true}}).")
    return Checked(metrics, directions, tuple(rank_by), deviations)
