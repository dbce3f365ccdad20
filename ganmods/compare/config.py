"""The comparison config: variants × seeds under one budget, with shared data, networks and trainer.

A comparison config (YAML)::

    name: ring8                  # wandb group and default output folder (default: the file's stem)
    seeds: [0, 1, 2]             # every variant runs once per seed
    budget: {images: 640000}     # exactly one of generator_steps / images / seconds (see budget.py)
    parallel: 2                  # runs at once: 1 = one after another in this process; N > 1 = N processes
    threads_per_run: 1           # torch threads per run (default: cores // parallel when parallel > 1)
    strict: true                 # fairness check (below); false records deviations instead of refusing
    evaluation:                  # how runs are ranked and shown (the scoring protocol is shared.data's)
      rank_by: [modes, hq]       # final metric(s), lexicographic (default: every metric with a direction)
      higher_is_better: {}       # directions of metrics ganmods does not know (modes/hq up; fid/kid/kl down)
      panel_samples: 1000        # points per toy scatter / images per grid in plots/samples.png
    overrides: [model.init_args.ema_decay=0.99]   # optional: applied to shared AND to every variant after
                                 # its config file, e.g. to change a value every variant file sets
    search:                      # optional: an equal tuning budget for every variant (Lucic et al. 2018)
      trials: 8                  # trials per variant, trial 0 = its config unchanged (default 1: no search)
      seed: 0                    # seed of the draws (default 0): the same file draws the same trials
      space:                     # replaces / adds / (with null) removes paths of the default space
        model.init_args.n_critic: {choice: [1, 2, 5]}
        model.init_args.clip: null
                                 # or a YAML file of such entries: space: spaces/narrow.yaml
    shared:                      # what every run shares: a `ganmods fit` config without the variant lines
      model: {init_args: {generator: {...}, discriminator: {...}, ema_decay: 0.999}}
      data: {dataset: ring8, batch_size: 256, ...}     # data, and the evaluation protocol (eval_*, metric)
      trainer: {accelerator: cpu, callbacks: [...], logger: ...}
    variants:                    # name -> a variant config, a list of overrides, or both
      sgan: configs/toy/sgan.yaml
      rasgan_gp: [model.class_path=ganmods.RaGAN, model.init_args.kind=rasgan, model.init_args.gp_weight=0.1]
      sgan_gp: {config: configs/toy/sgan.yaml, overrides: [model.init_args.gp_weight=1.0]}

Each run's ``ganmods fit`` config is merged, later winning: ``shared`` < the variant config's ``model``
section (a variant *is* its model lines; the file's data, trainer and seed are not used: the comparison
owns them) < the comparison-wide ``overrides`` < the variant's overrides < the per-run settings
(``seed_everything`` and ``data.seed`` = the seed, the budget, the run's folder and logger names). The
comparison-wide overrides also apply to ``shared`` itself, so they count as shared. A variant's config path is
looked up relative to the comparison config's folder, then the working directory, then among the shipped
configs (so the shipped comparisons run from any folder, and after ``pip install``).

**Search.** With ``search.trials: K`` every variant runs ``K`` trials, each with every seed: trial 0 is the
variant's merged config unchanged, trials 1..K-1 draw from the space (:mod:`ganmods.compare.search`; the
default space is :data:`~ganmods.compare.search.DEFAULT_SPACE`, Lucic et al.'s: learning rate, Adam beta1,
``n_critic``, gradient-penalty weight, WGAN clip) with ``seed``; one seed gives every variant the same draws,
and trial ``t`` does not depend on ``K``, so raising ``K`` keeps the finished trials. Where a variant relies
on a class default for a searched argument (its paper optimizer, WGAN-GP's ``gp_weight``), the default is
written into the drawn trials' configs so that the draw applies to it too. ``space`` is a mapping put over
the default space (``null`` removes a path) or the path of a YAML file of one (looked up like a variant
file). A space may only reach under ``model.init_args`` and never the networks, the budget, or (with
``strict: true``) a value ``shared.model.init_args`` fixes: the data, the trainer and the evaluation stay the
same in every run. Each variant's trial is then *selected on the validation reference* (the best mean over
seeds of the ``rank_by`` metrics) and *reported on the test reference* (:mod:`ganmods.compare.report`).
``ganmods compare --trials K`` replaces ``search.trials``.

The budget replaces every variant's ``max_generator_steps``. Overrides may not set what the comparison
owns (seeds, budget, logger, trainer stopping rules); ``shared.trainer`` may not set stopping rules either.
With ``strict: true`` every run must keep everything ``shared`` fixes: the generator and discriminator
(class and arguments, defaults filled in) and any other network of the model, such as a BiGAN's ``encoder``
(which ``shared`` must then give too), every ``shared.model.init_args`` value, the data section (seed
aside; it also holds the evaluation protocol) and the trainer section.
"""

from __future__ import annotations

import copy
import os
import re
from dataclasses import dataclass, field
from typing import Any, Optional

import yaml

from ganmods.compare.budget import Budget
from ganmods.compare.merge import apply_override, deep_merge, flatten, get_path, parse_override
from ganmods.compare.search import DEFAULT_SPACE, check_space, load_space, resolve_space
from ganmods.config_files import config_path
from ganmods.errors import ConfigurationError, invalid
from ganmods.yaml_checks import check_no_duplicate_keys

__all__ = ["Comparison", "EvaluationSettings", "SearchSettings", "Variant", "load_comparison"]

_TOP_KEYS = ("name", "description", "seeds", "budget", "parallel", "threads_per_run", "strict", "evaluation",
             "overrides", "search", "shared", "variants")
_SEARCH_KEYS = ("trials", "seed", "space")
_SHARED_KEYS = ("model", "data", "trainer")
_EVAL_KEYS = ("rank_by", "higher_is_better", "panel_samples")
#: Trainer options that decide when training stops: the comparison's budget does.
STOPPING_KEYS = ("max_steps", "max_epochs", "max_time", "min_steps", "min_epochs", "fast_dev_run",
                 "limit_train_batches")
#: Keys the comparison sets per run; overrides may not touch them.
OWNED_KEYS = (("seed_everything",), ("data", "seed"), ("model", "init_args", "max_generator_steps"),
              ("trainer", "logger"), ("trainer", "default_root_dir"), ("trainer", "enable_progress_bar"),
              *(("trainer", k) for k in STOPPING_KEYS))
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


@dataclass(frozen=True)
class EvaluationSettings:
    """How runs are ranked and shown.

    Args:
        rank_by: Final metrics ranking the variants (by their mean over seeds), lexicographic; empty: every
            metric of the protocol that has a direction, in the protocol's order.
        higher_is_better: Directions for metrics ganmods does not know.
        panel_samples: Points per toy scatter or images per grid in ``plots/samples.png``.
    """

    rank_by: tuple[str, ...] = ()
    higher_is_better: dict[str, bool] = field(default_factory=dict)
    panel_samples: Optional[int] = None


@dataclass(frozen=True)
class SearchSettings:
    """The hyperparameter search: ``trials`` per variant from ``space``, drawn with ``seed``.

    Args:
        trials: Trials per variant, trial 0 (the variant's config) included; 1 means no search.
        seed: Seed of the draws (:func:`~ganmods.compare.search.draw_trials`).
        space: The checked search space (dotted path -> distribution).
        source: Where the space came from: ``"default"``, ``"config"`` (entries over the default) or a file.

    Raises:
        ConfigurationError: If ``trials`` is not an integer >= 1, ``seed`` not an integer >= 0, or the space
            is bad.
    """

    trials: int = 1
    seed: int = 0
    space: dict[str, dict[str, Any]] = field(default_factory=lambda: copy.deepcopy(DEFAULT_SPACE))
    source: str = "default"

    def __post_init__(self) -> None:
        if isinstance(self.trials, bool) or not isinstance(self.trials, int) or self.trials < 1:
            raise invalid("search.trials", "an integer >= 1", self.trials)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise invalid("search.seed", "an integer >= 0", self.seed)
        check_space(self.space)

    @property
    def active(self) -> bool:
        """Whether there is a search (more than one trial per variant)."""
        return self.trials > 1


@dataclass(frozen=True)
class Variant:
    """One variant: its name, where it came from and its merged config (before per-run settings).

    Args:
        name: Variant name (a folder name under ``runs/``).
        source: The variant config path, or ``"overrides"``.
        overrides: The override strings applied.
        config: ``{"model": ..., "data": ..., "trainer": ...}`` after merging with ``shared``.
    """

    name: str
    source: str
    overrides: tuple[str, ...]
    config: dict[str, Any]


@dataclass(frozen=True)
class Comparison:
    """A parsed, checked comparison config. Build it with :func:`load_comparison`.

    Args:
        name: Comparison name.
        path: The config file.
        description: Free text for the report.
        seeds: Seeds, each run once per variant.
        budget: The budget of every run.
        parallel: Runs at once.
        threads_per_run: Torch threads per run (``None``: torch's default).
        strict: Whether variants must keep every shared piece.
        evaluation: Ranking and display settings.
        shared: The shared ``model``/``data``/``trainer`` sections.
        variants: The variants, in config order.
        overrides: The comparison-wide overrides (already applied to ``shared`` and every variant).
        search: The hyperparameter search (one trial per variant: none).
    """

    name: str
    path: str
    description: str
    seeds: tuple[int, ...]
    budget: Budget
    parallel: int
    threads_per_run: Optional[int]
    strict: bool
    evaluation: EvaluationSettings
    shared: dict[str, Any]
    variants: tuple[Variant, ...]
    overrides: tuple[str, ...] = ()
    search: SearchSettings = field(default_factory=SearchSettings)


def _read_yaml(path: str, what: str) -> Any:
    if not os.path.isfile(path):
        raise invalid(what, f"an existing YAML file (paths are relative to {os.getcwd()})", path)
    try:
        check_no_duplicate_keys(path)  # safe_load would silently keep the last of two equal keys
        with open(path) as fh:
            return yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        raise invalid(what, f"valid YAML ({exc})", path) from exc


def _check_keys(raw: dict[str, Any], allowed: tuple[str, ...], where: str) -> None:
    for key in raw:
        if key not in allowed:
            raise invalid(f"{where}{key}", f"one of the keys {list(allowed)}", key)


def _seeds(raw: Any) -> tuple[int, ...]:
    ok = isinstance(raw, list) and raw and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in raw)
    if not ok or len(set(raw)) != len(raw):
        raise invalid("seeds", "a non-empty list of distinct integers >= 0", raw)
    return tuple(raw)


def _positive(name: str, raw: Any, default: Any) -> Any:
    if raw is None:
        return default
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
        raise invalid(name, "an integer >= 1", raw)
    return raw


def _evaluation(raw: Any) -> EvaluationSettings:
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise invalid("evaluation", f"a mapping with keys {list(_EVAL_KEYS)}", raw)
    _check_keys(raw, _EVAL_KEYS, "evaluation.")
    rank_by = raw.get("rank_by") or []
    rank_by = [rank_by] if isinstance(rank_by, str) else rank_by
    if not isinstance(rank_by, list) or not all(isinstance(m, str) and m for m in rank_by):
        raise invalid("evaluation.rank_by", "a metric name or a list of them", raw.get("rank_by"))
    hib = raw.get("higher_is_better") or {}
    if not isinstance(hib, dict) or not all(isinstance(k, str) and isinstance(v, bool) for k, v in hib.items()):
        raise invalid("evaluation.higher_is_better", "a mapping metric name -> true/false", hib)
    panel = _positive("evaluation.panel_samples", raw.get("panel_samples"), None)
    return EvaluationSettings(tuple(rank_by), dict(hib), panel)


def _shared(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise invalid("shared", f"a mapping with keys {list(_SHARED_KEYS)}", raw)
    _check_keys(raw, _SHARED_KEYS, "shared.")
    shared = {k: copy.deepcopy(raw.get(k) or {}) for k in _SHARED_KEYS}
    for key, value in shared.items():
        if not isinstance(value, dict):
            raise invalid(f"shared.{key}", "a mapping", value)
    init = shared["model"].get("init_args") or {}
    for net in ("generator", "discriminator"):
        if not isinstance(init.get(net), dict) or "class_path" not in init[net]:
            raise invalid(f"shared.model.init_args.{net}", "a network spec {class_path: ..., init_args: {...}} "
                          "(every run shares it)", init.get(net))
    if not shared["data"]:
        raise invalid("shared.data", "the data section every run shares (dataset, batch_size, ...)", raw.get("data"))
    if "max_generator_steps" in init:
        raise invalid("shared.model.init_args.max_generator_steps", "unset (the comparison's budget sets it)",
                      init["max_generator_steps"])
    if "seed" in shared["data"]:
        raise invalid("shared.data.seed", "unset (each run uses its seed from seeds:)", shared["data"]["seed"])
    for key in STOPPING_KEYS:
        value = shared["trainer"].get(key)
        if value is not None and not (key == "max_epochs" and value == -1):
            raise invalid(f"shared.trainer.{key}", "unset (the comparison's budget decides when runs stop)", value)
    return shared


def _space_file(path: str, base_dir: str) -> str:
    """A search space file: relative to the comparison config's folder, else to the working folder."""
    if os.path.isabs(path):
        return path
    beside = os.path.join(base_dir, path)
    return beside if os.path.isfile(beside) else path


def _check_search_paths(space: dict[str, Any], shared: dict[str, Any], strict: bool) -> None:
    """A search may only change model arguments that are not the comparison's or (strict) shared's."""
    fixed = [path for path, _ in flatten(shared["model"].get("init_args") or {}, ("model", "init_args"))
             if len(path) > 2 and path[2] not in ("generator", "discriminator")]
    for path in space:
        parts = tuple(path.split("."))
        where = f"search.space[{path!r}]"
        if len(parts) < 3 or parts[:2] != ("model", "init_args"):
            raise invalid(where, "a path under model.init_args (the model class, data, trainer and evaluation are "
                          "the same in every run)", path)
        if parts[2] in ("generator", "discriminator"):
            raise invalid(where, "a path outside the shared generator and discriminator", path)
        if any(parts[:len(k)] == k for k in OWNED_KEYS):
            raise invalid(where, "a path the comparison does not set itself (the budget is the comparison's)", path)
        clash = next((p for p in fixed if parts[:len(p)] == p or p[:len(parts)] == parts), None)
        if strict and clash is not None:
            raise invalid(where, f"a path that shared does not fix (strict fairness: every run keeps shared's "
                          f"{'.'.join(clash)}); remove it from the space ({path}: null) or set strict: false", path)


def _search(raw: Any, trials: Optional[int], base_dir: str, shared: dict[str, Any], strict: bool) -> SearchSettings:
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise invalid("search", f"a mapping with keys {list(_SEARCH_KEYS)}", raw)
    _check_keys(raw, _SEARCH_KEYS, "search.")
    if trials is not None:
        _positive("--trials", trials, None)
    count = trials if trials is not None else _positive("search.trials", raw.get("trials"), 1)
    seed = raw.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise invalid("search.seed", "an integer >= 0", seed)
    given = raw.get("space")
    if given is None:
        space, source = resolve_space(None), "default"
    elif isinstance(given, str) and given:
        source = _space_file(given, base_dir)
        if not os.path.isfile(source):
            raise invalid("search.space", f"a mapping, or an existing YAML file (looked up in {base_dir} and "
                          f"{os.getcwd()})", given)
        space = load_space(source)
    elif isinstance(given, dict):
        space, source = resolve_space(given), "config" if given else "default"
    else:
        raise invalid("search.space", "a mapping of dotted paths to distributions (over the default space; null "
                      "removes a path) or the path of a YAML file of one", given)
    _check_search_paths(space, shared, strict)
    return SearchSettings(count, seed, space, source)


def _variant_specs(raw: Any) -> list[tuple[str, Any]]:
    if isinstance(raw, list) and raw and all(isinstance(v, str) for v in raw):
        specs = [(os.path.splitext(os.path.basename(v))[0], v) for v in raw]
    elif isinstance(raw, dict) and raw:
        specs = list(raw.items())
    else:
        raise invalid("variants", "a non-empty mapping name -> config path / overrides, or a list of config paths",
                      raw)
    names = [n for n, _ in specs]
    for name in names:
        if not isinstance(name, str) or not _NAME.match(name):
            raise invalid("variants", "names made of letters, digits and _ . + - (they name folders)", name)
    if len(set(names)) != len(names):
        raise invalid("variants", "distinct names", names)
    return specs


def _overrides(texts: Any, where: str, common: bool = False) -> list[tuple[list[str], Any]]:
    """Parse and check a list of overrides (what they may touch)."""
    if not isinstance(texts, list):
        raise invalid(where, "a list of overrides 'dotted.key=value'", texts)
    parsed = []
    for i, text in enumerate(texts):
        parts, value = parse_override(text, f"{where}[{i}]")
        if parts[0] not in _SHARED_KEYS:
            raise invalid(f"{where}[{i}]", f"an override of a key under {list(_SHARED_KEYS)}", text)
        if any(tuple(parts[:len(k)]) == k for k in OWNED_KEYS):
            raise invalid(f"{where}[{i}]", "an override of a key the comparison does not set itself (seeds, "
                          "budget, logger and stopping rules are the comparison's)", text)
        if common and parts[:2] == ["model", "class_path"]:
            raise invalid(f"{where}[{i}]", "an override of anything but model.class_path (the class is what "
                          "variants differ in)", text)
        parsed.append((parts, value))
    return parsed


def _apply(config: dict[str, Any], overrides: list[tuple[list[str], Any]]) -> None:
    for parts, value in overrides:
        if parts[:2] == ["model", "class_path"]:
            config["model"] = deep_merge(config["model"], {"class_path": value}, ("model",))
        else:
            apply_override(config, parts, value)


def _variant_file(path: str, base_dir: str) -> str:
    """Where a variant's config file is: relative to the comparison config's folder, else to the working folder,
    else a shipped config of that name (``configs/toy/sgan.yaml``, ``toy/sgan``)."""
    if os.path.isabs(path):
        return path
    beside = os.path.join(base_dir, path)
    if os.path.isfile(beside):
        return beside
    return path if os.path.isfile(path) else config_path(path)


def _variant(name: str, spec: Any, shared: dict[str, Any], common: list[tuple[list[str], Any]],
             base_dir: str = ".") -> Variant:
    where = f"variants.{name}"
    path: Optional[str] = None
    overrides: Any = []
    if isinstance(spec, str):
        path = spec
    elif isinstance(spec, list):
        overrides = spec
    elif isinstance(spec, dict) and spec and set(spec) <= {"config", "overrides"}:
        path, overrides = spec.get("config"), spec.get("overrides") or []
        if path is not None and not isinstance(path, str):
            raise invalid(where, "{config: PATH, overrides: [key=value, ...]}", spec)
    else:
        raise invalid(where, "a variant config path, a list of overrides 'key=value', or {config:, overrides:}",
                      spec)
    own = _overrides(overrides, where)
    config = copy.deepcopy(shared)
    if path is not None:
        loaded = _read_yaml(_variant_file(path, base_dir), f"{where} (variant config)")
        if not isinstance(loaded, dict) or not isinstance(loaded.get("model"), dict):
            raise invalid(f"{where} (variant config)", "a `ganmods fit` config with a model section", path)
        config["model"] = deep_merge(config["model"], loaded["model"], ("model",))
        _apply(config, common)
    _apply(config, own)
    _check_model_class(where, get_path(config, ("model", "class_path")))
    source = path if path is not None else "overrides"
    return Variant(name, source, tuple(str(o) for o in overrides), config)


def _check_model_class(where: str, class_path: Any) -> None:
    """The variant's model class must be an importable GANModule subclass."""
    from ganmods.module import GANModule
    from ganmods.spec import import_class

    allowed = "the dotted path of a GANModule subclass (e.g. ganmods.SGAN, ganmods.RaGAN)"
    if not isinstance(class_path, str) or not class_path:
        raise ConfigurationError(f"{where}: model.class_path must be {allowed}; got {class_path!r} (unknown variant).")
    try:
        cls = import_class(class_path)
    except ImportError:
        cls = None
    if not (isinstance(cls, type) and issubclass(cls, GANModule)):
        raise ConfigurationError(f"{where}: model.class_path must be {allowed}; got {class_path!r} (unknown variant).")
    return None


#: The logger ``--wandb`` adds (as configs/loggers/wandb.yaml: offline, no account needed).
WANDB_LOGGER = {"class_path": "lightning.pytorch.loggers.WandbLogger",
                "init_args": {"project": "ganmods", "offline": True, "log_model": False}}


def load_comparison(path: str, variants: Optional[list[str]] = None, seeds: Optional[list[int]] = None,
                    parallel: Optional[int] = None, wandb: bool = False, trials: Optional[int] = None,
                    images: Optional[int] = None) -> Comparison:
    """Read and check a comparison config (structure, budget, variants; :func:`check_runs` instantiates
    them before anything runs).

    Args:
        path: The YAML file.
        variants: Only these variants (names in the config), in this order.
        seeds: Only these seeds (replacing ``seeds:``).
        parallel: Replaces ``parallel:``.
        wandb: Add :data:`WANDB_LOGGER` to the shared trainer's loggers.
        trials: Replaces ``search.trials``.
        images: Replaces ``budget:`` by ``{images: images}`` (real images shown to the critic per run).

    Returns:
        The comparison.

    Raises:
        ConfigurationError: For a missing file, an unknown key, a bad budget (none, zero, several units),
            bad seeds, a variant that cannot be found (missing config file, unknown model class, a name not
            in the config), an override of what the comparison owns (or a comparison-wide override of the
            model class), stopping rules in the trainer, or a bad search (trials, seed, a space path outside
            ``model.init_args`` or on what the comparison or, strictly, ``shared`` fixes, a bad distribution).
    """
    path = config_path(path)
    raw = _read_yaml(path, "config")
    if not isinstance(raw, dict):
        raise invalid("config", "a mapping (a comparison config)", path)
    _check_keys(raw, _TOP_KEYS, "")
    for key in ("seeds", "budget", "shared", "variants"):
        if key not in raw:
            raise invalid(key, "given (a comparison config needs seeds, budget, shared and variants)", None)
    name = raw.get("name") or os.path.splitext(os.path.basename(path))[0]
    if not isinstance(name, str) or not _NAME.match(name):
        raise invalid("name", "a name made of letters, digits and _ . + -", name)
    if images is not None:
        _positive("--images", images, None)
    budget = Budget.from_config(raw["budget"] if images is None else {"images": images})
    chosen_seeds = _seeds(raw["seeds"] if seeds is None else list(seeds))
    n_parallel = _positive("parallel", raw.get("parallel") if parallel is None else parallel, 1)
    threads = _positive("threads_per_run", raw.get("threads_per_run"), None)
    if threads is None and n_parallel > 1:
        threads = max(1, (os.cpu_count() or 1) // n_parallel)
    strict = raw.get("strict", True)
    if not isinstance(strict, bool):
        raise invalid("strict", "true or false", strict)
    shared = _shared(raw["shared"])
    if wandb:
        logger = shared["trainer"].get("logger")
        logger = [] if logger in (None, True, False) else logger if isinstance(logger, list) else [logger]
        shared["trainer"]["logger"] = [*logger, copy.deepcopy(WANDB_LOGGER)]
    common = _overrides(raw.get("overrides") or [], "overrides", common=True)
    _apply(shared, common)
    grouping = shared["data"].get("steps_per_batch", 1)
    if grouping != 1 and not budget.checked_per_step:
        raise invalid("shared.data.steps_per_batch", f"1 under a budget in {budget.unit} (that budget is checked "
                      "between Lightning batches, so a group of critic steps could overshoot it)", grouping)
    specs = _variant_specs(raw["variants"])
    if variants:
        known = [n for n, _ in specs]
        for v in variants:
            if v not in known:
                raise invalid("variants", f"names of variants in {path} ({known})", v)
        specs = [(v, dict(specs)[v]) for v in dict.fromkeys(variants)]
    base_dir = os.path.dirname(os.path.abspath(path))
    search = _search(raw.get("search"), trials, base_dir, shared, strict)
    built = tuple(_variant(n, s, shared, common, base_dir) for n, s in specs)
    description = raw.get("description") or ""
    if not isinstance(description, str):
        raise invalid("description", "text", description)
    return Comparison(name, path, description.strip(), chosen_seeds, budget, n_parallel, threads, strict,
                      _evaluation(raw.get("evaluation")), shared, built,
                      tuple(str(o) for o in raw.get("overrides") or []), search)
