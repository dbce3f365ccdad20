"""The metric protocol: what a metric logs, which way is better, which value ranks, how values reduce.

Every metric object shipped with ganmods (:class:`~ganmods.metrics.toy.ModeMetrics`,
:class:`~ganmods.metrics.ImageMetrics` with any extractor) has a method ``spec(n_samples) -> MetricSpec``
declaring, for a score of ``n_samples`` generated samples:

* ``names``: the values it returns (and the module logs as ``val/<name>`` and ``final/<name>``), in order;
* ``higher_is_better``: name -> ``True`` (higher is better), ``False`` (lower is better) or ``None`` (not a
  score: e.g. ``kid_<n>_std``, a spread over subsets);
* ``main``: the name that ranks runs and checkpoints (``None``: the metric has no single ranking value);
* ``reduce``: name -> how the values of several processes combine into one:

  - ``"none"``: every process computes the same value from the same full sample set (toy metrics sample
    with the shared evaluation seed; :class:`~ganmods.metrics.ImageMetrics` gathers the features first),
    so nothing is reduced (log without ``sync_dist``);
  - ``"mean"``: each process scores its own share; the value is the mean over processes;
  - ``"sum"``: each process counts over its own share; the value is the sum over processes.

A data module exposes the spec of its evaluation protocol as ``GANDataModule.metric_spec``;
:func:`direction` reads a direction from either.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Protocol, Union, runtime_checkable

from ganmods.errors import ConfigurationError, invalid

__all__ = ["EMPTY_SPEC", "REDUCTIONS", "Metric", "MetricSpec", "direction", "shipped_higher_is_better", "spec_of"]

#: How a value of several processes is combined (see the module docstring).
REDUCTIONS = ("none", "mean", "sum")


@dataclass(frozen=True)
class MetricSpec:
    """What a metric declares about the values it returns (see the module docstring).

    Args:
        names: Returned names, in order.
        higher_is_better: Name -> True / False / None (not a score); every name must be present.
        main: The ranking name (one of ``names`` with a direction), or None.
        reduce: Name -> one of :data:`REDUCTIONS`; names left out default to ``"none"``.

    Raises:
        ConfigurationError: If a name lacks a direction, a direction is not True / False / None, ``main``
            is not a name with a direction, or a reduction is unknown.

    Example:
        >>> spec = MetricSpec(("fid",), {"fid": False}, main="fid")
        >>> spec.direction("val/fid")
        'min'
    """

    names: tuple[str, ...]
    higher_is_better: Mapping[str, Optional[bool]]
    main: Optional[str] = None
    reduce: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names, directions = tuple(self.names), dict(self.higher_is_better)
        missing = [n for n in names if n not in directions]
        if missing:
            raise invalid("higher_is_better", f"an entry for every name {list(names)}", directions)
        for name, value in directions.items():
            if value is not None and not isinstance(value, bool):
                raise invalid(f"higher_is_better[{name!r}]", "true, false or null", value)
        if self.main is not None and (self.main not in names or directions[self.main] is None):
            raise invalid("main", f"None or one of the names with a direction {self.scored()}", self.main)
        for name, how in self.reduce.items():
            if how not in REDUCTIONS:
                raise invalid(f"reduce[{name!r}]", f"one of {list(REDUCTIONS)}", how)
        reduce = {n: self.reduce.get(n, "none") for n in names}
        for field_name, value in (("names", names), ("higher_is_better", directions), ("reduce", reduce)):
            object.__setattr__(self, field_name, value)  # a frozen dataclass sets its normalised fields this way

    def scored(self) -> list[str]:
        """The names that have a direction, in order.

        Returns:
            Names whose ``higher_is_better`` is True or False.
        """
        return [n for n in self.names if self.higher_is_better[n] is not None]

    def direction(self, key: str) -> str:
        """``"max"`` when higher is better for ``key``, ``"min"`` when lower is.

        Args:
            key: A name, bare or as logged with a stage prefix (``"val/fid_10k"``, ``"final/modes"``).

        Returns:
            ``"min"`` or ``"max"``.

        Raises:
            ConfigurationError: If ``key`` is not one of :attr:`names`, or names a value without a direction.
        """
        name = key.split("/", 1)[1] if isinstance(key, str) and "/" in key else key
        if name not in self.higher_is_better:
            raise invalid("metric", f"one of {self.scored()} (optionally prefixed 'val/' or 'final/')", key)
        higher = self.higher_is_better[name]
        if higher is None:
            raise ConfigurationError(f"metric must have a direction; got {key!r}, which is not a score "
                                     f"(metrics with one: {self.scored()}).")
        return "max" if higher else "min"


#: The spec of an evaluation protocol that returns nothing (e.g. the swiss roll, images without a metric).
EMPTY_SPEC = MetricSpec((), {})


@runtime_checkable
class Metric(Protocol):
    """A metric object: scores samples and declares its :class:`MetricSpec`."""

    def spec(self, n_samples: int) -> MetricSpec:
        """What a score of ``n_samples`` generated samples returns (names, directions, main, reduction)."""
        ...


def spec_of(source: Any) -> MetricSpec:
    """The :class:`MetricSpec` of a spec, a data module or a metric scoring a known number of samples.

    Args:
        source: A :class:`MetricSpec`; an object with a ``metric_spec`` attribute (a
            :class:`~ganmods.data.GANDataModule`: its evaluation protocol); or a ``(metric, n_samples)`` pair.

    Returns:
        The spec.

    Raises:
        ConfigurationError: If ``source`` is none of these.
    """
    if isinstance(source, MetricSpec):
        return source
    if isinstance(source, tuple) and len(source) == 2 and isinstance(source[0], Metric):
        return source[0].spec(source[1])
    spec = getattr(source, "metric_spec", None)
    if isinstance(spec, MetricSpec):
        return spec
    raise invalid("source", "a MetricSpec, a data module with metric_spec, or (metric, n_samples)",
                  type(source).__name__)


def direction(source: Union[MetricSpec, Any], key: str) -> str:
    """Whether a logged metric is minimised or maximised, as its metric declares it.

    Args:
        source: A :class:`MetricSpec`, a data module (its ``metric_spec``) or ``(metric, n_samples)``.
        key: The metric's name, bare or with a stage prefix (``"val/reverse_kl"``).

    Returns:
        ``"min"`` or ``"max"``.

    Raises:
        ConfigurationError: If ``source`` declares no such metric, or the metric has no direction.

    Example:
        >>> from ganmods.metrics import ModeMetrics
        >>> direction((ModeMetrics(), 2500), "val/modes")
        'max'
    """
    return spec_of(source).direction(key)


def shipped_higher_is_better(name: str) -> Optional[bool]:
    """The direction a metric shipped with ganmods declares for one of its names, when no spec is at hand
    (names as :class:`~ganmods.metrics.toy.ModeMetrics` and :class:`~ganmods.metrics.ImageMetrics` return
    them, e.g. ``"modes"``, ``"fid_10k"``, and ``"precision"``, ``"recall"``, ``"density"``,
    ``"coverage"`` of :func:`~ganmods.metrics.prdc.prdc`, all higher is better; ``{n}`` in
    ``ImageMetrics.NAME_DIRECTIONS`` matches any count label such as ``10k`` or ``1500``).

    Args:
        name: A bare metric name.

    Returns:
        True (higher is better), False (lower is better), or None (not a score, or no shipped metric
        returns that name).
    """
    from ganmods.metrics.fid import ImageMetrics
    from ganmods.metrics.prdc import PRDC_HIGHER_IS_BETTER
    from ganmods.metrics.toy import ModeMetrics

    if name in ModeMetrics.higher_is_better:
        return ModeMetrics.higher_is_better[name]
    if name in PRDC_HIGHER_IS_BETTER:
        return PRDC_HIGHER_IS_BETTER[name]
    for template, higher in ImageMetrics.NAME_DIRECTIONS.items():
        if re.fullmatch(re.escape(template).replace(re.escape("{n}"), "[0-9]+k?"), name):
            return higher
    return None
