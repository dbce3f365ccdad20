"""Per-run configs of a comparison: one ``ganmods fit`` config per (variant, trial, seed), and where it runs.

Layout of the output folder ``DIR``::

    DIR/runs/<variant>/s<seed>/   one run: run.json (its config), config.yaml, metrics.csv (CSVLogger),
                                  checkpoints/last.ckpt, plots/ or samples/, history.csv, batches.txt,
                                  final.png, output.log (parallel runs) and, once finished, result.json
    DIR/runs/<variant>/t<trial>/s<seed>/   the same, for each trial of a search (search.trials > 1)
    DIR/results.csv  DIR/results.md  DIR/selected.json  DIR/plots/

A trial's config is :func:`~ganmods.compare.search.draw_trials` applied to the variant's merged config
(trial 0: that config unchanged; the drawn trials with the class defaults the space needs written in,
:func:`~ganmods.compare.search.explicit_defaults`); the run records what its trial changed
(:attr:`RunSpec.changes`).

Every run logs to a ``CSVLogger`` in its own folder. The shared trainer's other loggers are kept, renamed
per run: a ``WandbLogger`` gets ``name=<variant>-s<seed>`` (``<variant>-t<trial>-s<seed>`` in a search),
``group=<comparison name>`` and its files in the run folder, so one wandb dashboard groups the comparison's
runs; a ``TensorBoardLogger`` writes into the run folder. A ``CSVLogger`` in the shared trainer is replaced by
the run's own.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any, Optional

from ganmods.compare.budget import Budget
from ganmods.compare.config import Comparison, Variant
from ganmods.compare.search import draw_trials, explicit_defaults, trial_changes
from ganmods.errors import ConfigurationError

__all__ = ["RESULT_FILE", "RunSpec", "Trial", "fingerprint", "plan_runs", "read_result", "run_config",
           "variant_trials"]

#: Written atomically when a run has finished; its presence (with the same fingerprint) marks it done.
RESULT_FILE = "result.json"
_CSV = "lightning.pytorch.loggers.CSVLogger"
_PER_RUN_KEYS = ("logger", "default_root_dir", "enable_progress_bar")


@dataclass(frozen=True)
class RunSpec:
    """One run of a comparison.

    Args:
        comparison: The comparison's name.
        variant: The variant's name.
        seed: The seed (``seed_everything`` and ``data.seed``).
        run_dir: The run's folder.
        config: Its full ``ganmods fit`` config (for ``GANCLI(args=config, run=False)``).
        budget: The budget.
        fingerprint: Hash of everything that decides the run's result (not its folder).
        panel_samples: Points or images drawn into the run's ``final.png`` (``None``: 1000 / 64).
        trial: The trial (0: the variant's config).
        searched: Whether the comparison searches (more than one trial: the run's folder has a ``t<trial>`` level).
        changes: What the trial changed: space path -> the trial's value (empty for trial 0).
    """

    comparison: str
    variant: str
    seed: int
    run_dir: str
    config: dict[str, Any]
    budget: Budget
    fingerprint: str
    panel_samples: Optional[int] = None
    trial: int = 0
    searched: bool = False
    changes: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """``"<variant>/s<seed>"``, or ``"<variant>/t<trial>/s<seed>"`` in a search (the run's folder under
        ``runs/``)."""
        return f"{self.variant}/t{self.trial}/s{self.seed}" if self.searched else f"{self.variant}/s{self.seed}"

    def to_json(self) -> dict[str, Any]:
        """The run as plain data (what ``run.json`` holds).

        Returns:
            A JSON-serialisable mapping.
        """
        return {"comparison": self.comparison, "variant": self.variant, "seed": self.seed, "run_dir": self.run_dir,
                "config": self.config, "budget": {self.budget.unit: self.budget.value},
                "fingerprint": self.fingerprint, "panel_samples": self.panel_samples, "trial": self.trial,
                "searched": self.searched, "changes": self.changes}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "RunSpec":
        """Rebuild a run from :meth:`to_json`'s output.

        Args:
            data: The mapping.

        Returns:
            The run.
        """
        return cls(data["comparison"], data["variant"], int(data["seed"]), data["run_dir"], data["config"],
                   Budget.from_config(data["budget"]), data["fingerprint"], data.get("panel_samples"),
                   int(data.get("trial", 0)), bool(data.get("searched", False)), dict(data.get("changes") or {}))


@dataclass(frozen=True)
class Trial:
    """One trial of a variant.

    Args:
        index: The trial (0: the variant's config unchanged).
        config: The trial's merged config (before per-run settings).
        changes: Space path -> the value the trial set, where it differs from the variant's (class defaults
            included).
    """

    index: int
    config: dict[str, Any]
    changes: dict[str, Any]


def variant_trials(comparison: Comparison, variant: Variant) -> list[Trial]:
    """The variant's ``search.trials`` trials: trial 0 is its merged config unchanged; trial ``t >= 1`` is draw
    ``t`` of the search space (:func:`~ganmods.compare.search.draw_trials` with ``search.seed``) applied to that
    config with the class defaults the space needs written in (:func:`~ganmods.compare.search.explicit_defaults`).

    Args:
        comparison: The comparison.
        variant: One of its variants.

    Returns:
        The trials, in order (the same for the same file: the draws are seeded).
    """
    search = comparison.search
    trials = [Trial(0, copy.deepcopy(variant.config), {})]
    if search.trials > 1:
        base = explicit_defaults(variant.config, search.space)
        for index, config in enumerate(draw_trials(base, search.space, search.trials, search.seed)[1:], start=1):
            trials.append(Trial(index, config, trial_changes(base, config, search.space)))
    return trials


def _loggers(shared_logger: Any, comparison: str, variant: str, seed: int, runs_root: str, run_dir: str,
             trial: Optional[int] = None) -> list:
    save_dir = runs_root if trial is None else os.path.join(runs_root, variant)
    name = variant if trial is None else f"t{trial}"
    label = f"{variant}-s{seed}" if trial is None else f"{variant}-t{trial}-s{seed}"
    own = {"class_path": _CSV, "init_args": {"save_dir": save_dir, "name": name, "version": f"s{seed}"}}
    if isinstance(shared_logger, dict):
        specs = [shared_logger]
    elif isinstance(shared_logger, list):
        specs = shared_logger
    elif shared_logger in (None, True, False):
        specs = []
    else:
        raise ConfigurationError(f"shared.trainer.logger must be a logger spec, a list of them, true, false or null; "
                                 f"got {shared_logger!r}.")
    loggers = [own]
    for spec in specs:
        if not isinstance(spec, dict) or not isinstance(spec.get("class_path"), str):
            raise ConfigurationError(f"shared.trainer.logger must hold logger specs {{class_path: ..., init_args: "
                                     f"{{...}}}}; got {spec!r}.")
        short = spec["class_path"].rsplit(".", 1)[-1]
        if short == "CSVLogger":
            continue
        init = dict(spec.get("init_args") or {})
        if short == "WandbLogger":
            init.update(name=label, group=comparison, save_dir=run_dir)
        elif short == "TensorBoardLogger":
            init.update(save_dir=save_dir, name=name, version=f"s{seed}")
        loggers.append({"class_path": spec["class_path"], "init_args": init})
    return loggers


def run_config(comparison: Comparison, variant: Variant, seed: int, out_dir: str,
               trial: Optional[Trial] = None) -> dict[str, Any]:
    """The ``ganmods fit`` config of one run: the variant's (or its trial's) merged config plus the per-run
    settings.

    Args:
        comparison: The comparison.
        variant: One of its variants.
        seed: The run's seed.
        out_dir: The comparison's output folder.
        trial: One of :func:`variant_trials` (``None``: trial 0, the variant's config).

    Returns:
        The config (a new mapping).
    """
    runs_root = os.path.abspath(os.path.join(out_dir, "runs"))
    level = None  # no search: runs/<variant>/s<seed>/, as before searches existed
    if comparison.search.active:
        level = 0 if trial is None else trial.index
    run_dir = os.path.join(runs_root, variant.name, *([] if level is None else [f"t{level}"]), f"s{seed}")
    config = copy.deepcopy(variant.config if trial is None else trial.config)
    config["seed_everything"] = seed
    config["data"]["seed"] = seed
    init = config["model"].setdefault("init_args", {})
    init["max_generator_steps"] = comparison.budget.max_generator_steps
    trainer = config["trainer"]
    trainer["logger"] = _loggers(trainer.get("logger"), comparison.name, variant.name, seed, runs_root, run_dir,
                                 level)
    trainer["default_root_dir"] = run_dir
    trainer["enable_progress_bar"] = False
    trainer["max_epochs"] = -1
    return config


def fingerprint(config: dict[str, Any], budget: Budget) -> str:
    """Hash of a run's config and budget, leaving out where it writes (so a moved folder still matches).

    Args:
        config: The run's config.
        budget: The budget.

    Returns:
        A hex digest.
    """
    stable = copy.deepcopy(config)
    for key in _PER_RUN_KEYS:
        stable["trainer"].pop(key, None)
    text = json.dumps({"config": stable, "budget": [budget.unit, budget.value], "format": 1}, sort_keys=True,
                      default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def plan_runs(comparison: Comparison, out_dir: str) -> list[RunSpec]:
    """Every run of the comparison, trial-major then seed-major (trial 0 of every variant and seed first, then
    trial 1, ...; within a trial all variants of the first seed first), so that an interrupted comparison has
    covered every variant as evenly as possible and finishes whole trials first.

    Args:
        comparison: The comparison.
        out_dir: Its output folder.

    Returns:
        The runs.
    """
    trials = {variant.name: variant_trials(comparison, variant) for variant in comparison.variants}
    runs = []
    for index in range(comparison.search.trials):
        for seed in comparison.seeds:
            for variant in comparison.variants:
                trial = trials[variant.name][index]
                config = run_config(comparison, variant, seed, out_dir, trial)
                runs.append(RunSpec(comparison.name, variant.name, seed, config["trainer"]["default_root_dir"],
                                    config, comparison.budget, fingerprint(config, comparison.budget),
                                    comparison.evaluation.panel_samples, index, comparison.search.active,
                                    copy.deepcopy(trial.changes)))
    return runs


def read_result(run: RunSpec) -> Optional[dict[str, Any]]:
    """The run's finished result, or ``None`` when it has not finished (no readable result file).

    Args:
        run: The run.

    Returns:
        The result mapping, or ``None``.

    Raises:
        ConfigurationError: If the folder holds a finished run made from a different config or budget.
    """
    path = os.path.join(run.run_dir, RESULT_FILE)
    try:
        with open(path) as fh:
            result = json.load(fh)
    except (OSError, ValueError):
        return None
    if result.get("fingerprint") != run.fingerprint:
        raise ConfigurationError(
            f"out must be a fresh folder or hold this comparison's runs; {run.run_dir} holds a finished run "
            f"of {run.key} made with a different config or budget (fingerprint {result.get('fingerprint')!r}, "
            f"now {run.fingerprint!r}). Use another --out or delete that run's folder to run it again."
        )
    return result
