"""Per-run configs of a comparison: one ``ganmods fit`` config per (variant, seed), and where it runs.

Layout of the output folder ``DIR``::

    DIR/runs/<variant>/s<seed>/   one run: run.json (its config), config.yaml, metrics.csv (CSVLogger),
                                  checkpoints/last.ckpt, plots/ or samples/, history.csv, batches.txt,
                                  final.png, output.log (parallel runs) and, once finished, result.json
    DIR/results.csv  DIR/results.md  DIR/plots/

Every run logs to a ``CSVLogger`` in its own folder. The shared trainer's other loggers are kept, renamed
per run: a ``WandbLogger`` gets ``name=<variant>-s<seed>``, ``group=<comparison name>`` and its files in
the run folder, so one wandb dashboard groups the comparison's runs; a ``TensorBoardLogger`` writes into
the run folder. A ``CSVLogger`` in the shared trainer is replaced by the run's own.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any, Optional

from ganmods.compare.budget import Budget
from ganmods.compare.config import Comparison, Variant
from ganmods.errors import ConfigurationError

__all__ = ["RESULT_FILE", "RunSpec", "fingerprint", "plan_runs", "read_result", "run_config"]

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
    """

    comparison: str
    variant: str
    seed: int
    run_dir: str
    config: dict[str, Any]
    budget: Budget
    fingerprint: str
    panel_samples: Optional[int] = None

    @property
    def key(self) -> str:
        """``"<variant>/s<seed>"``."""
        return f"{self.variant}/s{self.seed}"

    def to_json(self) -> dict[str, Any]:
        """The run as plain data (what ``run.json`` holds).

        Returns:
            A JSON-serialisable mapping.
        """
        return {"comparison": self.comparison, "variant": self.variant, "seed": self.seed, "run_dir": self.run_dir,
                "config": self.config, "budget": {self.budget.unit: self.budget.value},
                "fingerprint": self.fingerprint, "panel_samples": self.panel_samples}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "RunSpec":
        """Rebuild a run from :meth:`to_json`'s output.

        Args:
            data: The mapping.

        Returns:
            The run.
        """
        return cls(data["comparison"], data["variant"], int(data["seed"]), data["run_dir"], data["config"],
                   Budget.from_config(data["budget"]), data["fingerprint"], data.get("panel_samples"))


def _loggers(shared_logger: Any, comparison: str, variant: str, seed: int, runs_root: str, run_dir: str) -> list:
    own = {"class_path": _CSV, "init_args": {"save_dir": runs_root, "name": variant, "version": f"s{seed}"}}
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
            init.update(name=f"{variant}-s{seed}", group=comparison, save_dir=run_dir)
        elif short == "TensorBoardLogger":
            init.update(save_dir=runs_root, name=variant, version=f"s{seed}")
        loggers.append({"class_path": spec["class_path"], "init_args": init})
    return loggers


def run_config(comparison: Comparison, variant: Variant, seed: int, out_dir: str) -> dict[str, Any]:
    """The ``ganmods fit`` config of one run: the variant's merged config plus the per-run settings.

    Args:
        comparison: The comparison.
        variant: One of its variants.
        seed: The run's seed.
        out_dir: The comparison's output folder.

    Returns:
        The config (a new mapping).
    """
    runs_root = os.path.abspath(os.path.join(out_dir, "runs"))
    run_dir = os.path.join(runs_root, variant.name, f"s{seed}")
    config = copy.deepcopy(variant.config)
    config["seed_everything"] = seed
    config["data"]["seed"] = seed
    init = config["model"].setdefault("init_args", {})
    init["max_generator_steps"] = comparison.budget.max_generator_steps
    trainer = config["trainer"]
    trainer["logger"] = _loggers(trainer.get("logger"), comparison.name, variant.name, seed, runs_root, run_dir)
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
    """Every run of the comparison, seed-major (all variants of the first seed first), so that an
    interrupted comparison has covered every variant as evenly as possible.

    Args:
        comparison: The comparison.
        out_dir: Its output folder.

    Returns:
        The runs.
    """
    runs = []
    for seed in comparison.seeds:
        for variant in comparison.variants:
            config = run_config(comparison, variant, seed, out_dir)
            runs.append(RunSpec(comparison.name, variant.name, seed, config["trainer"]["default_root_dir"], config,
                                comparison.budget, fingerprint(config, comparison.budget),
                                comparison.evaluation.panel_samples))
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
