"""Seeded hyperparameter search spaces: equal tuning budgets for every variant (Lucic et al. 2018; THEORY §9).

A space is a mapping of dotted config paths (as in overrides: ``model.init_args.n_critic``; a number indexes a
list: ``...betas.0``) to a distribution, each a mapping with exactly one of:

* ``log_uniform: [low, high]``: ``10 ** U[log10 low, log10 high]`` (``0 < low < high``);
* ``uniform: [low, high]``: ``U[low, high]`` (``low < high``);
* ``choice: [a, b, ...]``: one of the values, equally likely;
* ``same_as: other.path``: the value drawn for another path of the space (e.g. one learning rate for both
  optimizers);

and optionally ``if_absent: skip`` (default: the path is left alone in a variant whose config does not set
it, e.g. a gradient-penalty weight for a variant without a penalty) or ``set`` (the value is set even
where the variant relies on a class default), and ``classes: [class_path, ...]`` (only variants whose
``model.class_path`` is listed).

:data:`DEFAULT_SPACE` is Lucic et al.'s: learning rate log-uniform [1e-5, 1e-2] and Adam beta1 uniform [0, 1]
(both optimizers share them), ``n_critic`` in {1, 5}, gradient-penalty weight log-uniform [0.1, 100] (where a
variant has one), clipping ``c`` log-uniform [1e-3, 1] (WGAN). Learning rates and betas apply to variants
whose config names its optimizers (a class default optimizer is not a config path); :func:`explicit_defaults`
writes the class defaults a space's paths need into a config first (what ``ganmods compare`` does).

:func:`draw_trials` gives trial 0 = the variant's config unchanged, then ``k - 1`` trials drawn with
``numpy.random.default_rng(seed)``: for each trial every non-``same_as`` distribution is drawn in the
space's order, whether it applies to the variant or not, so one seed gives every variant the same draws
(and trial ``t`` does not depend on ``k``).
"""

from __future__ import annotations

import copy
import inspect
import math
from typing import Any, Mapping, Optional

import numpy as np
import yaml

from ganmods.errors import check_positive_int, invalid
from ganmods.spec import import_class

__all__ = ["DEFAULT_SPACE", "check_space", "draw_trials", "explicit_defaults", "load_space", "path_value",
           "resolve_space", "trial_changes"]

_G = "model.init_args.optimizer_g.init_args"
_D = "model.init_args.optimizer_d.init_args"

#: Lucic et al. 2018's wide search space (see the module docstring).
DEFAULT_SPACE: dict[str, dict[str, Any]] = {
    f"{_G}.lr": {"log_uniform": [1e-5, 1e-2]},
    f"{_D}.lr": {"same_as": f"{_G}.lr"},
    f"{_G}.betas.0": {"uniform": [0.0, 1.0]},
    f"{_D}.betas.0": {"same_as": f"{_G}.betas.0"},
    "model.init_args.n_critic": {"choice": [1, 5], "if_absent": "set"},
    "model.init_args.gp_weight": {"log_uniform": [0.1, 100.0]},
    "model.init_args.clip": {"log_uniform": [1e-3, 1.0], "classes": ["ganmods.WGAN"], "if_absent": "set"},
}

_KINDS = ("log_uniform", "uniform", "choice", "same_as")


def _number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


def check_space(space: Any) -> dict[str, dict[str, Any]]:
    """Check a search space (format in the module docstring).

    Args:
        space: Mapping dotted path -> distribution.

    Returns:
        A deep copy of ``space``.

    Raises:
        ConfigurationError: Naming the path, for a bad path, an unknown or missing distribution kind, bad
            bounds, an empty choice, a ``same_as`` that names no drawn path, or a bad ``if_absent``/``classes``.
    """
    if not isinstance(space, Mapping):
        raise invalid("search space", "a mapping of dotted config paths to distributions", space)
    for path, dist in space.items():
        where = f"search space[{path!r}]"
        if not isinstance(path, str) or not path or any(not p for p in path.split(".")):
            raise invalid("search space path", "a dotted config path like model.init_args.n_critic", path)
        if not isinstance(dist, Mapping):
            raise invalid(where, f"a mapping with one of {list(_KINDS)}", dist)
        kinds = [k for k in dist if k in _KINDS]
        unknown = [k for k in dist if k not in (*_KINDS, "if_absent", "classes")]
        if len(kinds) != 1 or unknown:
            raise invalid(where, f"exactly one of {list(_KINDS)}, optionally with if_absent and classes", dict(dist))
        kind, arg = kinds[0], dist[kinds[0]]
        if kind in ("log_uniform", "uniform"):
            if not (isinstance(arg, (list, tuple)) and len(arg) == 2 and all(_number(a) for a in arg)
                    and arg[0] < arg[1] and (kind == "uniform" or arg[0] > 0)):
                allowed = "[low, high] with 0 < low < high" if kind == "log_uniform" else "[low, high] with low < high"
                raise invalid(f"{where}.{kind}", allowed, arg)
        elif kind == "choice":
            if not isinstance(arg, (list, tuple)) or not arg:
                raise invalid(f"{where}.choice", "a non-empty list of values", arg)
        else:
            source = space.get(arg) if isinstance(arg, str) else None
            if not isinstance(source, Mapping) or "same_as" in source:
                raise invalid(f"{where}.same_as", "another path of the space that is drawn (not itself a same_as)",
                              arg)
        if dist.get("if_absent", "skip") not in ("skip", "set"):
            raise invalid(f"{where}.if_absent", "'skip' or 'set'", dist["if_absent"])
        classes = dist.get("classes")
        if classes is not None and not (isinstance(classes, list) and classes
                                        and all(isinstance(c, str) for c in classes)):
            raise invalid(f"{where}.classes", "a non-empty list of model class paths", classes)
    return copy.deepcopy(dict(space))


def resolve_space(replacements: Optional[Mapping[str, Any]] = None,
                  base: Optional[Mapping[str, Any]] = None) -> dict[str, dict[str, Any]]:
    """A space: ``base`` (default :data:`DEFAULT_SPACE`) with entries replaced, added, or removed (``null``).

    Args:
        replacements: Path -> distribution, or ``None`` to drop the path (e.g. a comparison file's entries).
        base: The space replaced into.

    Returns:
        The checked space.

    Raises:
        ConfigurationError: As :func:`check_space`.
    """
    space = dict(copy.deepcopy(DEFAULT_SPACE if base is None else base))
    if replacements is not None and not isinstance(replacements, Mapping):
        raise invalid("search space", "a mapping of dotted config paths to distributions (null removes one)",
                      replacements)
    for path, dist in (replacements or {}).items():
        if dist is None:
            space.pop(path, None)
        else:
            space[path] = dist
    return check_space(space)


def load_space(path: str) -> dict[str, dict[str, Any]]:
    """Read a space from a YAML file and put it over :data:`DEFAULT_SPACE` (:func:`resolve_space`).

    Args:
        path: The YAML file: a mapping of dotted paths to distributions (``null`` removes a default path).

    Returns:
        The checked space.

    Raises:
        ConfigurationError: If the file cannot be read or parsed, or the space is bad.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            raw = yaml.safe_load(handle)
    except (OSError, yaml.YAMLError) as exc:
        raise invalid("search space file", f"a readable YAML file ({exc.__class__.__name__})", path) from None
    return resolve_space(raw if raw is not None else {})


def _draw(dist: Mapping[str, Any], rng: np.random.Generator) -> Any:
    if "log_uniform" in dist:
        low, high = dist["log_uniform"]
        return float(10 ** rng.uniform(math.log10(low), math.log10(high)))
    if "uniform" in dist:
        low, high = dist["uniform"]
        return float(rng.uniform(low, high))
    values = dist["choice"]
    return copy.deepcopy(values[int(rng.integers(len(values)))])


def _parent_and_key(config: Any, parts: list[str]) -> tuple[Any, Any]:
    """The container holding the path's last part and the key/index into it (``(None, None)``: no parent)."""
    node = config
    for part in parts[:-1]:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None, None
    last = parts[-1]
    if isinstance(node, dict):
        return node, last
    if isinstance(node, list) and last.isdigit() and int(last) < len(node):
        return node, int(last)
    return None, None


def _apply(config: dict[str, Any], path: str, dist: Mapping[str, Any], value: Any) -> None:
    classes = dist.get("classes")
    if classes is not None and (config.get("model") or {}).get("class_path") not in classes:
        return
    parts = path.split(".")
    parent, key = _parent_and_key(config, parts)
    if parent is None:
        return
    present = (key in parent and parent[key] is not None) if isinstance(parent, dict) else True
    if present or dist.get("if_absent", "skip") == "set":
        parent[key] = copy.deepcopy(value)


def draw_trials(variant_config: dict[str, Any], space: Mapping[str, Any], k: int, seed: int) -> list[dict[str, Any]]:
    """``k`` trial configs of one variant: trial 0 is its config unchanged, trials 1..k-1 apply drawn values.

    A value is applied where its path applies to the variant (module docstring: ``if_absent``, ``classes``;
    a path whose parent does not exist is skipped); the other keys are copied unchanged.

    Args:
        variant_config: The variant's full config (a ``ganmods fit`` config mapping); never modified.
        space: The search space (:func:`check_space`).
        k: Number of trials (an integer >= 1), trial 0 included.
        seed: Seed of the draws (an integer >= 0).

    Returns:
        ``k`` deep copies of ``variant_config``; trial ``t >= 1`` carries draw ``t`` of the space.

    Raises:
        ConfigurationError: If ``variant_config`` is not a mapping, ``k`` or ``seed`` is bad, or the space is
            bad (named as in :func:`check_space`).

    Example:
        >>> cfg = {"model": {"class_path": "ganmods.SGAN", "init_args": {"n_critic": 1}}}
        >>> [t["model"]["init_args"]["n_critic"] for t in draw_trials(cfg, {"model.init_args.n_critic":
        ...     {"choice": [1, 5]}}, 3, seed=0)][0]
        1
    """
    if not isinstance(variant_config, dict):
        raise invalid("variant_config", "a config mapping", type(variant_config).__name__)
    check_positive_int("k", k)
    check_positive_int("seed", seed, minimum=0)
    space = check_space(space)
    rng = np.random.default_rng(seed)
    trials = [copy.deepcopy(variant_config)]
    for _ in range(1, k):
        drawn = {path: _draw(dist, rng) for path, dist in space.items() if "same_as" not in dist}
        trial = copy.deepcopy(variant_config)
        for path, dist in space.items():
            _apply(trial, path, dist, drawn[dist["same_as"]] if "same_as" in dist else drawn[path])
        trials.append(trial)
    return trials


_ABSENT = object()


def path_value(config: Any, path: str, default: Any = None) -> Any:
    """The value at a dotted path of a config (a number indexes a list, as in a space).

    Args:
        config: A nested mapping.
        path: The dotted path, e.g. ``model.init_args.optimizer_g.init_args.betas.0``.
        default: Returned where the path does not exist.

    Returns:
        The value, or ``default``.

    Example:
        >>> path_value({"a": {"b": [1, 2]}}, "a.b.1")
        2
    """
    parent, key = _parent_and_key(config, path.split("."))
    if parent is None or (isinstance(parent, dict) and key not in parent):
        return default
    return parent[key]


def _class_default(class_path: Any, name: str) -> Any:
    """The default of constructor argument ``name`` of a model class (``None`` when it has none or the class
    cannot be imported), looked up along the classes' ``__init__`` signatures as ``**kwargs`` pass it on."""
    try:
        cls = import_class(class_path) if isinstance(class_path, str) and class_path else None
    except (ImportError, ValueError):
        return None
    for klass in getattr(cls, "__mro__", ()):
        if "__init__" not in vars(klass):
            continue
        params = inspect.signature(klass.__init__).parameters
        param = params.get(name)
        if param is not None and param.kind not in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            return None if param.default is param.empty else copy.deepcopy(param.default)
        if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
            return None
    return None


def explicit_defaults(variant_config: dict[str, Any], space: Mapping[str, Any]) -> dict[str, Any]:
    """The variant's config with the class defaults written in that the space's paths run through.

    A path ``model.init_args.<name>...`` whose ``<name>`` the config leaves out (the key is absent) gets the
    model class's default for ``<name>`` when that default is not ``None``: the class's paper optimizer
    (``optimizer_g``: a ``{class_path, init_args}`` record with its ``lr`` and ``betas``), WGAN-GP's
    ``gp_weight``. The run built from the result is the same as the variant's; the space's draws then apply
    to every variant whose class uses the argument, not only to those whose file spells it out. An argument
    whose default is ``None`` (a penalty the class does not add) stays absent.

    Args:
        variant_config: The variant's config (a ``ganmods fit`` config mapping); never modified.
        space: The search space (:func:`check_space`).

    Returns:
        A deep copy of ``variant_config`` with those defaults set.

    Raises:
        ConfigurationError: If ``variant_config`` is not a mapping.

    Example:
        >>> cfg = {"model": {"class_path": "ganmods.WGANGP", "init_args": {}}}
        >>> explicit_defaults(cfg, {"model.init_args.gp_weight": {"uniform": [1, 2]}})["model"]["init_args"]
        {'gp_weight': 10.0}
    """
    if not isinstance(variant_config, dict):
        raise invalid("variant_config", "a config mapping", type(variant_config).__name__)
    config = copy.deepcopy(variant_config)
    model = config.get("model")
    if not isinstance(model, dict):
        return config
    init = model.get("init_args") if model.get("init_args") is not None else {}
    if not isinstance(init, dict):
        return config
    for path in space:
        parts = str(path).split(".")
        if len(parts) < 3 or parts[:2] != ["model", "init_args"] or parts[2] in init:
            continue
        default = _class_default(model.get("class_path"), parts[2])
        if default is not None:
            init[parts[2]] = default
            model["init_args"] = init
    return config


def trial_changes(base: dict[str, Any], trial: dict[str, Any], space: Mapping[str, Any]) -> dict[str, Any]:
    """What a trial changed: the space's paths whose value in ``trial`` differs from (or is absent in) ``base``.

    Args:
        base: The config the trial was drawn from (e.g. :func:`explicit_defaults` of the variant's).
        trial: The trial's config.
        space: The search space.

    Returns:
        Path -> the trial's value, in the space's order (empty for trial 0).

    Example:
        >>> trial_changes({"m": {"n": 1}}, {"m": {"n": 5}}, {"m.n": {"choice": [1, 5]}})
        {'m.n': 5}
    """
    changes = {}
    for path in space:
        value = path_value(trial, path, _ABSENT)
        if value is not _ABSENT and path_value(base, path, _ABSENT) != value:
            changes[path] = copy.deepcopy(value)
    return changes
