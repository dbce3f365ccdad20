"""What a comparison records inside each run: metric history, real batches, timing, progress, final score.

:class:`RunRecorder` is a Lightning callback that subscribes to what the module reports
(:meth:`ganmods.GANModule.add_listener`), so it sees exactly the values the module logs at every validation
(``val/<metric>`` with the counters). It keeps, per validation, the protocol metrics with ``generator_steps``,
``critic_steps``, ``images_seen`` and the training wall-clock; a fingerprint of the real-data stream position
of every critic step trained (``batches.txt``, one line per critic step: the dataset, its seed, the batch size,
the rank and the step, which fix the batch in the step-keyed stream of :mod:`ganmods.data.stream`; nothing is
read from the device) and of the initial networks; the effective hyperparameters the run trains with (loss,
regularizers with their weights, ``n_critic``, each optimizer's class, learning rate and betas as built, EMA);
and after training it scores the generator by the datamodule's ``evaluate`` on both references (with what
:func:`model_scores` adds for a model that learns more than a generator: a BiGAN's encoder) and draws
``final.png`` (the toy scatter over the contour of the critic's verdict on data points, or an image
grid). The final scores, logged to every logger:

* ``final/<metric>``: on the validation reference (``evaluate(model, split="val")``), what a comparison
  selects trials by;
* ``test/<metric>``: on the test reference (``split="test"``), only reported;
* with an EMA generator, ``final_raw/<metric>`` and ``test_raw/<metric>``: the same for the trained (raw)
  generator, scored inside :meth:`~ganmods.GANModule.raw_sampling`.

Training wall-clock (``train_s``) starts when training starts and leaves out validation and the final
evaluation, so it measures the optimisation itself; ``wall_s`` counts everything since ``fit`` began.
"""

from __future__ import annotations

import csv
import hashlib
import inspect
import json
import math
import os
import time
from typing import Any, Callable, Optional

import lightning.pytorch as pl
from torch import nn

from ganmods.callbacks.periodic import log_step
from ganmods.compare.budget import Budget, BudgetStop
from ganmods.errors import ConfigurationError, invalid
from ganmods.metrics.protocol import EMPTY_SPEC, MetricSpec
from ganmods.spec import NotRecordable, to_spec

__all__ = ["SPLITS", "RunRecorder", "atomic_write", "effective_hyperparameters", "evaluate_split",
           "model_score_spec", "model_scores", "network_names", "stream_fingerprint"]

_COUNTERS = ("generator_steps", "critic_steps", "images_seen")
#: The evaluation references: ``"val"`` (selection) and ``"test"`` (report).
SPLITS = ("val", "test")


def network_names(module: Any) -> tuple[str, ...]:
    """The networks of a module that a comparison holds equal across variants and fingerprints at the start:
    ``generator``, ``discriminator`` and every other constructor argument (of the module's class or a base
    class) that the module keeps as a torch module with parameters, e.g. a :class:`~ganmods.BiGAN`'s
    ``encoder``.

    Args:
        module: A :class:`~ganmods.GANModule`.

    Returns:
        The attribute names, ``generator`` and ``discriminator`` first.
    """
    names = ["generator", "discriminator"]
    for cls in type(module).__mro__:
        init = cls.__dict__.get("__init__")
        if init is None or not issubclass(cls, nn.Module):
            continue
        for name in inspect.signature(init).parameters:
            value = getattr(module, name, None)
            if name not in names and isinstance(value, nn.Module) and any(True for _ in value.parameters()):
                names.append(name)
    return tuple(names)


def model_score_spec(model: Any) -> MetricSpec:
    """Names and directions of what :func:`model_scores` returns for ``model``: the module's own
    :meth:`~ganmods.GANModule.own_score_spec`.

    Args:
        model: The run's module.

    Returns:
        The spec (empty for a model without scores of its own, or one that is not a ``GANModule``).
    """
    own = getattr(model, "own_score_spec", None)
    return own() if callable(own) else EMPTY_SPEC


def model_scores(datamodule: Any, model: Any, split: str) -> dict[str, float]:
    """What a model learns beside its generator, scored on one reference: the module's own
    :meth:`~ganmods.GANModule.own_scores` (a BiGAN's ``reconstruction_mse`` and ``latent_mse``; inside
    :meth:`~ganmods.GANModule.raw_sampling` of the trained networks instead of their EMAs).

    Args:
        datamodule: The run's datamodule.
        model: The module.
        split: ``"val"`` or ``"test"``.

    Returns:
        Name -> value (names: :func:`model_score_spec`); ``{}`` for a model without scores of its own.

    Raises:
        ConfigurationError: If ``split`` is not one of :data:`SPLITS` (or as the module's ``own_scores``).
    """
    if split not in SPLITS:
        raise invalid("split", f"one of {list(SPLITS)}", split)
    own = getattr(model, "own_scores", None)
    return own(datamodule, split) if callable(own) else {}


def evaluate_split(datamodule: Any, model: Any, split: str) -> dict[str, float]:
    """Score ``model`` by the datamodule's protocol on one reference, ``datamodule.evaluate(model, split=split)``,
    followed by :func:`model_scores` (a BiGAN's encoder; nothing for other models).

    Args:
        datamodule: The run's datamodule.
        model: The module (anything with ``sample``).
        split: ``"val"`` or ``"test"``.

    Returns:
        Metric name -> value (only the model's scores when the datamodule has no ``evaluate``).

    Raises:
        ConfigurationError: If ``split`` is not one of :data:`SPLITS` (or as :func:`model_scores`).
    """
    if split not in SPLITS:
        raise invalid("split", f"one of {list(SPLITS)}", split)
    evaluate = getattr(datamodule, "evaluate", None)
    scores = {k: float(v) for k, v in evaluate(model, split=split).items()} if callable(evaluate) else {}
    return {**scores, **model_scores(datamodule, model, split)}


def effective_hyperparameters(trainer: pl.Trainer, module: Any) -> dict[str, Any]:
    """What a module trains with, as built (class defaults and drawn values alike): the loss, the regularizers
    with their arguments, ``n_critic``, each optimizer's class, learning rate and betas (read from the
    trainer's optimizers), and the EMA.

    Args:
        trainer: The trainer, once its optimizers exist (from ``on_train_start``).
        module: A :class:`~ganmods.GANModule`.

    Returns:
        A JSON-serialisable mapping: ``loss``, ``regularizers`` (``[{"class": ..., <arguments>}]``), ``n_critic``,
        ``optimizer_g`` and ``optimizer_d`` (``{"class", "lr", "betas"?}``) and ``ema`` (``None`` without EMA, else
        ``{"decay", "half_life_images"}``).
    """
    def record(obj: Any) -> dict[str, Any]:
        try:
            spec = to_spec(obj)
        except NotRecordable:
            return {"class": type(obj).__name__}
        return {"class": spec["class_path"].rsplit(".", 1)[-1], **spec.get("init_args", {})}

    loss = module.loss
    out: dict[str, Any] = {"loss": getattr(loss, "name", type(loss).__name__),
                           "regularizers": [record(reg) for reg in module.regularizers],
                           "n_critic": int(module.n_critic)}
    for name, optimizer in zip(("optimizer_g", "optimizer_d"), trainer.optimizers):
        group = optimizer.param_groups[0]
        entry: dict[str, Any] = {"class": type(optimizer).__name__, "lr": float(group["lr"])}
        if "betas" in group:
            entry["betas"] = [float(b) for b in group["betas"]]
        out[name] = entry
    out["ema"] = None if module.ema_generator is None else {"decay": module.ema_decay,
                                                            "half_life_images": module.ema_half_life_images}
    return out


def atomic_write(path: str, text: str, sync: bool = True) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename (never a half-written file).

    Args:
        path: Destination.
        text: Content.
        sync: Flush the file to disk before the rename (so it survives a crash of the machine too).

    Raises:
        OSError: If the file cannot be written (the destination is then unchanged).
    """
    tmp = f"{path}.tmp.{os.getpid()}"
    try:
        with open(tmp, "w") as fh:
            fh.write(text)
            if sync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:  # a full disk leaves neither a half-written file nor a stray temporary one
            os.remove(tmp)
        except OSError:
            pass
        raise


def stream_fingerprint(datamodule: Any, rank: int, step: int) -> str:
    """The fingerprint of the real batch of critic ``step`` on ``rank``: a hash of what fixes it in the
    step-keyed stream (dataset, data seed, batch size, rank, step).

    Args:
        datamodule: The run's datamodule.
        rank: The global rank.
        step: The critic step.

    Returns:
        16 hex digits.
    """
    key = repr((getattr(datamodule, "dataset", type(datamodule).__name__), getattr(datamodule, "seed", None),
                getattr(datamodule, "batch_size", None), int(rank), int(step)))
    return hashlib.blake2b(key.encode(), digest_size=8).hexdigest()


def score_lines(scores: dict[str, float], width: int = 60) -> str:
    """Scores as ``"name value"`` items, comma-separated, on as many lines as keep each within ``width`` characters.

    A title over a 5-inch panel holds about 60 characters at 9 points; seven image metrics on one line ran off
    both edges of ``final.png``. An item is never split; NaN scores are left out.

    Args:
        scores: Metric name -> value.
        width: Most characters on a line (a single longer item still gets its own line).

    Returns:
        The lines joined by newlines (``""`` when no score is a number).

    Raises:
        ConfigurationError: If ``width`` is not a positive integer.
    """
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise invalid("width", "a positive integer", width)
    items = [f"{k} {v:.3g}" for k, v in scores.items() if not (isinstance(v, float) and math.isnan(v))]
    lines: list[str] = []
    for item in items:
        if lines and len(lines[-1]) + 2 + len(item) <= width:
            lines[-1] += ", " + item
        else:
            lines.append(item)
    return "\n".join(lines)


class RunRecorder(pl.Callback):
    """Records one comparison run (see the module docstring) and enforces its budget.

    Args:
        run_dir: The run's folder (``history.csv``, ``batches.txt``, ``progress.json``, ``final.png``).
        budget: The run's budget (``images``/``seconds`` budgets stop training from here).
        progress: Called with the progress state about twice a second (in-process display).
        panel_samples: Points (toy) or images drawn into ``final.png``; ``None``: 1000 points / 64 images.
        title: Title of ``final.png``.
    """

    def __init__(self, run_dir: str, budget: Budget, progress: Optional[Callable[[dict[str, Any]], None]] = None,
                 panel_samples: Optional[int] = None, title: str = "") -> None:
        self.run_dir = run_dir
        self.budget = budget
        self.progress = progress
        self.panel_samples = panel_samples
        self.title = title
        self.history: list[dict[str, float]] = []
        self.batch_hashes: list[str] = []
        self.final: Optional[dict[str, float]] = None
        #: Final scores on the test reference, and the raw generator's on both (``None`` without EMA).
        self.test: Optional[dict[str, float]] = None
        self.final_raw: Optional[dict[str, float]] = None
        self.test_raw: Optional[dict[str, float]] = None
        #: :func:`effective_hyperparameters`, once training has started.
        self.hyperparameters: dict[str, Any] = {}
        self.final_counters: dict[str, int] = {}
        self.stop = BudgetStop(budget, self.train_seconds)
        self._first_step: Optional[int] = None
        self._fit_start = self._train_start = None  # type: Optional[float]
        self._val_start: Optional[float] = None
        self._val_total = 0.0
        self._steps_before = 0
        self._last_report = 0.0
        self._module: Optional[pl.LightningModule] = None
        self.init_digest = ""

    # ------------------------------------------------------------------ wiring and clocks
    def install(self, trainer: pl.Trainer) -> None:
        """Add this recorder (and its budget stop) before the checkpoint callbacks.

        Args:
            trainer: The run's trainer, before ``fit``.
        """
        callbacks = trainer.callbacks
        first_ckpt = next((i for i, c in enumerate(callbacks) if isinstance(c, pl.callbacks.ModelCheckpoint)),
                          len(callbacks))
        callbacks[first_ckpt:first_ckpt] = [self, self.stop]

    def train_seconds(self) -> float:
        """Training wall-clock so far: since training started, without validation time.

        Returns:
            Seconds (0 before training starts).
        """
        if self._train_start is None:
            return 0.0
        now = self._val_start if self._val_start is not None else time.perf_counter()
        return now - self._train_start - self._val_total

    def wall_seconds(self) -> float:
        """Seconds since ``fit`` began (validation and evaluation included).

        Returns:
            Seconds.
        """
        return 0.0 if self._fit_start is None else time.perf_counter() - self._fit_start

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Start the wall clock, subscribe to the module's reports, and fingerprint the initial networks
        (:func:`network_names`: generator, critic and, e.g., a BiGAN's encoder)."""
        self._fit_start = time.perf_counter()
        self._module = pl_module
        pl_module.add_listener(self._logged)
        digest = hashlib.blake2b(digest_size=8)
        for net in (getattr(pl_module, n) for n in network_names(pl_module)):
            for name, value in net.state_dict().items():
                digest.update(name.encode())
                digest.update(value.detach().cpu().contiguous().numpy().tobytes())
        self.init_digest = digest.hexdigest()

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Pause the training clock during validation."""
        if not trainer.sanity_checking and self._train_start is not None:
            self._val_start = time.perf_counter()

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Resume the training clock."""
        if self._val_start is not None:
            self._val_total += time.perf_counter() - self._val_start
            self._val_start = None

    # ------------------------------------------------------------------ per step
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Start the training clock (after the sanity check), note the first critic step trained here and the
        effective hyperparameters."""
        self._train_start = time.perf_counter()
        self._val_total = 0.0
        self._first_step = int(pl_module.critic_steps)
        self.hyperparameters = effective_hyperparameters(trainer, pl_module)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        """Report progress (about twice a second)."""
        now = time.perf_counter()
        if now - self._last_report >= 0.5:
            self._last_report = now
            self._report(pl_module)

    def _state(self, pl_module: pl.LightningModule) -> dict[str, Any]:
        counters = {k: int(getattr(pl_module, k)) for k in _COUNTERS}
        train_s = self.train_seconds()
        return {**counters, "train_s": train_s,
                "fraction": self.budget.fraction(counters["generator_steps"], counters["images_seen"], train_s)}

    def _report(self, pl_module: pl.LightningModule) -> None:
        state = self._state(pl_module)
        atomic_write(os.path.join(self.run_dir, "progress.json"), json.dumps(state), sync=False)
        if self.progress is not None:
            self.progress(state)

    # ------------------------------------------------------------------ validation history
    def _logged(self, metrics: dict[str, Any], module: Any) -> None:
        values = {k[4:]: float(v) for k, v in metrics.items() if k.startswith("val/")}
        if not values or self._module is None or self._module.trainer.sanity_checking:
            return None
        row: dict[str, float] = {k: int(metrics.get(f"counters/{k}", getattr(self._module, k))) for k in _COUNTERS}
        row.update(train_s=self.train_seconds(), wall_s=self.wall_seconds(), **values)
        self.history.append(row)
        return None

    # ------------------------------------------------------------------ the end
    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Score the generator by the datamodule's protocol on the validation and test references (and the raw
        generator's with EMA), log ``final/``, ``test/``, ``final_raw/``, ``test_raw/<metric>``, draw
        ``final.png``, and write ``history.csv`` and ``batches.txt``."""
        datamodule = trainer.datamodule
        train_s = self.train_seconds()
        final = evaluate_split(datamodule, pl_module, "val")
        test = evaluate_split(datamodule, pl_module, "test")
        final_raw = test_raw = None
        if pl_module.ema_generator is not None:
            with pl_module.raw_sampling():
                final_raw = evaluate_split(datamodule, pl_module, "val")
                test_raw = evaluate_split(datamodule, pl_module, "test")
        self.test, self.final_raw, self.test_raw = test, final_raw, test_raw
        self.final_counters = {k: int(getattr(pl_module, k)) for k in _COUNTERS}
        self.final_train_s = train_s
        values: dict[str, float] = {}
        for prefix, scores in (("final", final), ("test", test), ("final_raw", final_raw), ("test_raw", test_raw)):
            values.update({f"{prefix}/{k}": v for k, v in (scores or {}).items()})
        values.update({f"counters/{k}": v for k, v in self.final_counters.items()})
        pl_module.remove_listener(self._logged)
        first = self._first_step if self._first_step is not None else self.final_counters["critic_steps"]
        self.batch_hashes = [stream_fingerprint(datamodule, trainer.global_rank, k)
                             for k in range(first, self.final_counters["critic_steps"])]
        step = log_step(trainer)  # Lightning's step axis: beside the last values logged in training
        for logger in trainer.loggers:
            logger.log_metrics(values, step=step)
            logger.save()
        self._write_history()
        with open(os.path.join(self.run_dir, "batches.txt"), "w") as fh:
            fh.write("".join(h + "\n" for h in self.batch_hashes))
        try:
            self._draw(pl_module, datamodule, final)
        finally:
            self.final = final
            self._report(pl_module)

    def _write_history(self) -> None:
        keys: list[str] = []
        for row in self.history:
            keys.extend(k for k in row if k not in keys)
        with open(os.path.join(self.run_dir, "history.csv"), "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=keys)
            writer.writeheader()
            writer.writerows(self.history)

    def _draw(self, pl_module: Any, datamodule: Any, final: dict[str, float]) -> None:
        from ganmods.images import grid_figure, save_figure, scatter_figure

        shape = tuple(getattr(datamodule, "data_shape", ()))
        scores = score_lines(final)
        title = f"{self.title}\n{scores}" if scores else self.title
        path = os.path.join(self.run_dir, "final.png")
        if shape == (2,):
            n = self.panel_samples or 1000
            fig = scatter_figure(pl_module.sample(n, seed=0).cpu(), real=datamodule.real_samples(n, seed=0),
                                 critic=lambda x: pl_module.critic_score(x).cpu(),
                                 bounds=datamodule.distribution.bounds(), title=title)
            save_figure(fig, path)
        elif len(shape) == 3:
            save_figure(grid_figure(pl_module.sample(self.panel_samples or 64, seed=0), title=title, nrow=8), path)

    def result(self) -> dict[str, Any]:
        """The run's record (after training): counters, clocks, final metrics (``final``: validation reference;
        ``test``: test reference; ``final_raw``/``test_raw``: the raw generator's, ``None`` without EMA), effective
        hyperparameters, history, batch and initial network digests.

        Returns:
            A JSON-serialisable mapping.
        """
        digest = hashlib.sha256("".join(self.batch_hashes).encode()).hexdigest()[:16]
        return {**self.final_counters, "train_s": self.final_train_s, "final": self.final, "test": self.test,
                "final_raw": self.final_raw, "test_raw": self.test_raw, "hyperparameters": self.hyperparameters,
                "history": self.history, "batches": len(self.batch_hashes), "batch_digest": digest,
                "init_digest": self.init_digest}
