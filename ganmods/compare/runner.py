"""Running one comparison run (in the comparison's process or in a worker: :mod:`ganmods.compare.schedule`).

A run is ``GANCLI(args=<its config>, run=False)`` (the same parser, defaults and checks as ``ganmods fit``),
then ``trainer.fit`` with a :class:`~ganmods.compare.recorder.RunRecorder`. When training ends normally the
run writes ``result.json`` atomically; that file marks it finished. A crashed, interrupted or killed run
leaves none, and its next attempt starts again **from scratch** in an emptied folder: that attempt is exact
(same seed, same batches, same initial networks, so the same result bit for bit), whereas resuming from the
run's ``last.ckpt`` would restart the recorder's history, batch digest and training clock half-way (and a
``seconds`` budget cannot be resumed exactly at all). The worker running a run holds its
:class:`~ganmods.compare.lock.RunLock` throughout, and :func:`execute_run` refuses to write a second
``result.json``, so a run is never trained to its end twice.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import logging
import os
import shutil
import sys
import time
import warnings
from typing import Any, Callable, Iterator, Optional

import torch

from ganmods.compare.lock import RUN_LOCK_FILE
from ganmods.compare.plan import RESULT_FILE, RunSpec
from ganmods.compare.recorder import RunRecorder, atomic_write
from ganmods.errors import ConfigurationError

__all__ = ["RunFailed", "build_cli", "execute_run", "prepare_run_dir", "quiet"]

_NOISY = (".*does not have many workers.*", ".*IterableDataset. has .__len__. defined.*",
          ".*LightningCLI's args parameter is intended to run from within Python.*", ".*isinstance.treespec.*",
          ".*is a (pure )?Python (class|function).*", ".*exists and is not empty.*",
          ".*smaller than the logging interval.*")


class RunFailed(RuntimeError):
    """A run ended without a result (interrupted, or training raised)."""


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence Lightning's start-up chatter and its known harmless warnings for the duration."""
    names = ("lightning.pytorch", "lightning.fabric", "lightning")
    levels = {n: logging.getLogger(n).level for n in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            for pattern in _NOISY:
                warnings.filterwarnings("ignore", message=pattern)
            yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


@contextlib.contextmanager
def _threads(n: Optional[int]) -> Iterator[None]:
    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def build_cli(config: dict[str, Any], where: str) -> Any:
    """Instantiate model, datamodule and trainer from a ``ganmods fit`` config, as ``ganmods fit`` would.

    Args:
        config: The config (not modified).
        where: Prefix of error messages (e.g. ``"variants.sgan"``).

    Returns:
        The :class:`~ganmods.cli.GANCLI` (``.model``, ``.datamodule``, ``.trainer``).

    Raises:
        ConfigurationError: For any bad key, type or value, prefixed with ``where``.
    """
    from ganmods.cli import GANCLI, _configuration_error, one_line

    class _RunCLI(GANCLI):
        def init_parser(self, **kwargs: Any) -> Any:
            kwargs["exit_on_error"] = False  # raise instead of printing usage and exiting
            return super().init_parser(**kwargs)

    try:
        return _RunCLI(args=copy.deepcopy(config), run=False)
    except Exception as err:  # noqa: BLE001 - reworded when it is bad input, re-raised otherwise
        cause = _configuration_error(err)
        if cause is not None:
            raise ConfigurationError(f"{where}: {cause}") from err
        if isinstance(err, argparse.ArgumentError):
            raise ConfigurationError(f"{where}: {one_line(str(err))}") from err
        raise


def prepare_run_dir(run: RunSpec) -> None:
    """Empty the run's folder (leftovers of a crashed try), keeping its lock file, and write ``run.json``.

    Args:
        run: The run (its folder must not hold a result: finished runs are never prepared again).
    """
    os.makedirs(run.run_dir, exist_ok=True)
    for name in os.listdir(run.run_dir):
        if name == RUN_LOCK_FILE:  # held by the worker preparing the run: removing it would free the run
            continue
        path = os.path.join(run.run_dir, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.remove(path)
    atomic_write(os.path.join(run.run_dir, "run.json"), json.dumps(run.to_json(), indent=1, default=str))


def _finish_wandb() -> None:
    wandb = sys.modules.get("wandb")
    if wandb is not None and getattr(wandb, "run", None) is not None:
        wandb.finish()


def execute_run(run: RunSpec, threads: Optional[int] = None,
                progress: Optional[Callable[[dict[str, Any]], None]] = None) -> dict[str, Any]:
    """Train one run to its budget, score it and write its ``result.json``.

    Args:
        run: The run (its folder prepared by :func:`prepare_run_dir`).
        threads: Torch threads for this run (``None``: leave as is).
        progress: Called with the progress state during training.

    Returns:
        The result (what ``result.json`` holds).

    Raises:
        RunFailed: If training was interrupted or ended without a final score, or if the folder already holds
            a ``result.json`` (another attempt finished the run: a run is never finished twice).
        ConfigurationError: If the config is bad.
    """
    result_path = os.path.join(run.run_dir, RESULT_FILE)
    if os.path.exists(result_path):
        raise RunFailed(f"{run.key} has already finished ({result_path} exists); it is not run twice")
    started = time.time()
    t0 = time.perf_counter()
    with quiet(), _threads(threads):
        try:
            cli = build_cli(run.config, run.key)
            recorder = RunRecorder(run.run_dir, run.budget, progress, run.panel_samples,
                                   f"{run.variant}, seed {run.seed}")
            recorder.install(cli.trainer)
            cli.trainer.fit(cli.model, datamodule=cli.datamodule)
        finally:
            _finish_wandb()
    if cli.trainer.interrupted or recorder.final is None:
        raise RunFailed(f"{run.key} did not finish (interrupted or stopped before the end of training)")
    model = cli.model
    stopped = getattr(model, "nonfinite_message", None)
    spent = run.budget.fraction(model.generator_steps, model.images_seen, recorder.final_train_s) >= 1.0
    status = "finished" if spent and not stopped else f"stopped early: {stopped or 'before the budget was spent'}"
    result = {
        "format": 1, "comparison": run.comparison, "variant": run.variant, "seed": run.seed,
        "fingerprint": run.fingerprint, "budget": {run.budget.unit: run.budget.value}, "status": status,
        **recorder.result(), "wall_clock_s": time.perf_counter() - t0, "threads": torch.get_num_threads() if not threads
        else threads, "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started)),
        "versions": {"torch": torch.__version__, "python": sys.version.split()[0]},
    }
    if os.path.exists(result_path):  # written meanwhile by a process that ignored the run's lock
        raise RunFailed(f"{run.key} was finished by another process while this attempt ran; its result is kept")
    atomic_write(result_path, json.dumps(result, indent=1))
    return result
