"""The ``ganmods`` command line: LightningCLI with ganmods' modules, data and defaults.

``ganmods fit -c toy/wgan_gp`` trains (a shipped config by its short name, or any YAML path); ``validate``
prints the validation table; ``test --ckpt_path P`` scores a checkpoint by the config's metric protocol;
``predict --ckpt_path P`` writes samples (:class:`SampleWriter`); ``ganmods generate --ckpt PATH --n N --out OUT``
samples from any checkpoint; ``ganmods compare -c CONFIG.yaml [--out DIR]`` runs variants × seeds under one budget
(:mod:`ganmods.compare`); ``ganmods list`` prints the registered names. Bad input prints one line,
``ganmods: error: ...``, and exits with status 2.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Optional, Sequence

import torch
import yaml
from lightning.fabric.plugins.io import CheckpointIO
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import BasePredictionWriter, ProgressBar, TQDMProgressBar
from lightning.pytorch.cli import ArgsType, LightningArgumentParser, LightningCLI, SaveConfigCallback
from lightning.pytorch.loggers import WandbLogger

from ganmods.callbacks import GANCheckpoint, HealthMonitor
from ganmods.config_files import CONFIG_DIR, config_path, shipped_configs
from ganmods.checkpoint_io import AtomicCheckpointIO
from ganmods.data import GANDataModule
from ganmods.errors import ConfigurationError, check_positive_int, find_cause, invalid
from ganmods.module import GANModule
from ganmods.preflight import check_ckpt_path, check_fit_config
from ganmods.progress import GANProgressBar
from ganmods.yaml_checks import check_config_args

__all__ = ["COMMANDS", "CONFIG_DIR", "GANArgumentParser", "GANCLI", "GANSaveConfig", "GANTrainer", "REGISTRIES",
           "SampleWriter", "config_path", "main", "registries", "with_atomic_checkpoint_io"]


#: The commands of ``ganmods`` with one line each (``ganmods --help``).
COMMANDS = {
    "fit": "train a model: ganmods fit -c toy/sgan (a shipped config's short name, or a YAML path)",
    "validate": "score a model on the held-out data and print the validation table",
    "test": "score a checkpoint by the config's metric protocol: ganmods test -c CFG --ckpt_path P",
    "predict": "write samples of a checkpoint: ganmods predict -c CFG --ckpt_path P [--n N --seed S --out DIR]",
    "generate": "sample, translate or encode with any checkpoint: ganmods generate --ckpt P --n N --out OUT | "
                "--direction AB --input DIR --out OUT | --encode DIR --out CODES",
    "compare": "train variants x seeds under one budget: ganmods compare -c compare/ring8 --out DIR",
    "list": "print the registered losses, variants, datasets, nets and regularizers: ganmods list [REGISTRY]",
}

# Lines of the config parser's nested error report that say nothing about what the user got wrong.
_NOISE = ("Does not validate against any of the Union subtypes", "Subtypes:", "Errors:", "Given value",
          "Expected a <class 'NoneType'>", "tip: For details")


def one_line(message: str) -> str:
    """Condense the config parser's multi-line error report into one line.

    Args:
        message: The parser's message.

    Returns:
        The informative lines joined by spaces.
    """
    lines = [ln.strip().lstrip("- ").strip() for ln in str(message).splitlines()]
    kept = [ln for ln in lines if ln and not any(ln.startswith(n) or n in ln for n in _NOISE)]
    return " ".join(kept) or str(message).strip()


class GANArgumentParser(LightningArgumentParser):
    """The config parser, reporting bad options, unknown keys and wrong types as one line (no usage dump)."""

    def error(self, message: str, ex: Optional[Exception] = None) -> None:  # type: ignore[override]
        """Print ``ganmods: error: <message>`` and exit with status 2 (or raise when not exiting on error).

        Args:
            message: The parser's message.
            ex: The underlying exception, if any.
        """
        if not getattr(self, "exit_on_error", True):
            return super().error(message, ex)  # type: ignore[call-arg]
        print(f"ganmods: error: {one_line(message)} (see `ganmods fit --help`)", file=sys.stderr)
        raise SystemExit(2)


class GANTrainer(Trainer):
    """Lightning's ``Trainer`` giving every run its own folder with every logger: with a ``WandbLogger``,
    :attr:`log_dir` is ``<save_dir>/<project>/<run id>`` (where Lightning puts that run's checkpoints) instead of
    the shared ``save_dir``, so runs sharing a ``save_dir`` never overwrite each other's ``config.yaml``, plots
    or checkpoints. Other loggers keep Lightning's folder (``<save_dir>/<name>/version_N``).
    """

    @property
    def log_dir(self) -> Optional[str]:
        """The run's folder (a collective under DDP: every rank must ask).

        Returns:
            The folder, or None without a logger or a default root.
        """
        logger = self.loggers[0] if self.loggers else None
        if not isinstance(logger, WandbLogger):
            return super().log_dir
        dirpath = None
        if self.is_global_zero:
            logger.experiment  # noqa: B018 - starts the run: its id names the folder
            dirpath = os.path.join(logger.save_dir or self.default_root_dir, str(logger.name), str(logger.version))
        return self.strategy.broadcast(dirpath)


class GANSaveConfig(SaveConfigCallback):
    """LightningCLI's config saver (``config.yaml`` in the run's folder) that also hands the whole effective
    config to every ``WandbLogger``: the run config gets the parsed config (``model`` with its class, loss
    arguments, regularizers and optimizers, ``data``, ``trainer``, ``seed_everything``) and a ``ganmods`` entry
    (variant class, loss and regularizer names, dataset, batch size), and ``config.yaml`` is copied into the
    run's files as ``ganmods_config.yaml`` (wandb keeps its own ``config.yaml`` there)."""

    def save_config(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Send the config to the wandb runs (rank 0 only, called once per process by Lightning).

        Args:
            trainer: The trainer.
            pl_module: The model.
            stage: Lightning's stage.
        """
        loggers = [lg for lg in trainer.loggers if isinstance(lg, WandbLogger)]
        if not loggers:
            return
        config = yaml.safe_load(self.parser.dump(self.config, skip_none=False)) or {}
        config["ganmods"] = run_summary(pl_module, trainer.datamodule)
        saved = os.path.join(trainer.log_dir or "", self.config_filename)
        for logger in loggers:
            experiment = logger.experiment
            experiment.config.update(config, allow_val_change=True)
            files = getattr(experiment, "dir", None)
            if files and os.path.isfile(saved):
                import shutil

                shutil.copyfile(saved, os.path.join(files, "ganmods_config.yaml"))


def run_summary(model: Any, datamodule: Any) -> dict[str, Any]:
    """The few values runs are most often grouped by, read from the built objects.

    Args:
        model: The GAN module.
        datamodule: The data module (or None).

    Returns:
        ``{"variant", "loss", "regularizers", "n_critic", "dataset", "batch_size"}`` (those that exist).
    """
    loss = getattr(model, "loss", None)
    out: dict[str, Any] = {"variant": type(model).__name__}
    if loss is not None:
        out["loss"] = getattr(loss, "name", type(loss).__name__)
    out["regularizers"] = [getattr(r, "name", type(r).__name__) for r in getattr(model, "regularizers", [])]
    if hasattr(model, "n_critic"):
        out["n_critic"] = model.n_critic
    for key in ("dataset", "batch_size"):
        if hasattr(datamodule, key):
            out[key] = getattr(datamodule, key)
    return out


class SampleWriter(BasePredictionWriter):
    """Writes ``trainer.predict``'s samples to ``<out>/samples.npy`` (``[n, *data_shape]`` float32; images in
    ``[-1, 1]``) when prediction ends, atomically (temporary file, then ``os.replace``); ``ganmods predict``
    adds it. The samples equal ``module.sample(n, seed)`` for the predict loader of
    :class:`~ganmods.sampling.LatentSeeds` ``(n, seed)``.

    Args:
        out: Output folder (created).
        overwrite: Replace an existing ``samples.npy``.

    Raises:
        ConfigurationError: If ``out`` is not a string, or ``samples.npy`` exists there without ``overwrite``.
    """

    def __init__(self, out: str, overwrite: bool = False) -> None:
        super().__init__(write_interval="epoch")
        if not isinstance(out, str) or not out:
            raise invalid("out", "a folder path", out)
        self.path = os.path.join(out, "samples.npy")
        if os.path.exists(self.path) and not overwrite:
            raise ConfigurationError(f"out must not already hold samples.npy (pass --overwrite true to replace it); "
                                     f"got {out!r}, which does.")

    def write_on_epoch_end(self, trainer: Trainer, pl_module: LightningModule, predictions: Sequence[Any],
                           batch_indices: Sequence[Any]) -> None:
        """Concatenate the predicted batches and write them (rank 0).

        Args:
            trainer: The trainer.
            pl_module: The model.
            predictions: The predicted batches (one list per dataloader, or one list).
            batch_indices: Unused.
        """
        if not trainer.is_global_zero or not predictions:
            return
        import numpy as np

        batches = predictions[0] if isinstance(predictions[0], list) else predictions
        samples = torch.cat([b.detach().float().cpu() for b in batches]).numpy()
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        tmp = self.path + ".tmp.npy"
        np.save(tmp, samples)
        os.replace(tmp, self.path)
        print(f"ganmods: {samples.shape[0]} samples of shape {tuple(samples.shape[1:])} in {self.path}", flush=True)


class GANCLI(LightningCLI):
    """LightningCLI for GAN modules: any :class:`~ganmods.GANModule` subclass as ``model`` (``class_path``),
    :class:`~ganmods.GANDataModule` as ``data``, :class:`GANTrainer` (one folder per run, wandb included),
    the config saved in the run's folder and sent to wandb (:class:`GANSaveConfig`),
    :class:`~ganmods.callbacks.GANCheckpoint` (``last.ckpt`` and ``best.ckpt``, never a non-finite state),
    :class:`~ganmods.callbacks.HealthMonitor`, the :class:`~ganmods.progress.GANProgressBar`, checkpoints
    written atomically (:class:`~ganmods.checkpoint_io.AtomicCheckpointIO` added to ``trainer.plugins`` unless
    the config names another ``CheckpointIO``), shipped configs by short name (``-c toy/sgan``), ``--ckpt_path``
    checked before use, and every ``-c/--config`` file refused if it repeats a key.

    Resuming (``fit --ckpt_path P``): the model's arguments come from the checkpoint, except those given on the
    command line (``--model.init_args.max_generator_steps N`` extends the budget); a budget below the
    checkpoint's generator steps is refused. ``test`` and ``predict`` need ``--ckpt_path``; ``predict`` takes
    ``--n``, ``--seed``, ``--out`` and ``--overwrite`` and writes through :class:`SampleWriter`.
    ``--trainer.fast_dev_run K`` runs K generator steps (with their critic steps) and one validation batch,
    writing no logs or checkpoints.

    Args:
        args: Command-line arguments (``None``: ``sys.argv[1:]``).
        run: Run the subcommand (``False``: only instantiate).

    Raises:
        ConfigurationError: If a config file repeats a key (``<file>: duplicate key 'name' at line N.``), on a bad
            ``--ckpt_path``, a budget below the checkpoint's, or a logger whose package is missing.
    """

    def __init__(self, args: ArgsType = None, run: bool = True) -> None:
        if args is None:
            sys.argv[1:] = resolve_config_args(sys.argv[1:])
        elif isinstance(args, (list, tuple)):
            args = resolve_config_args(list(args))
        given = sys.argv[1:] if args is None else args
        check_config_args(given)
        self._argv = [str(a) for a in given] if isinstance(given, (list, tuple)) else []
        self._resume_conflict: Optional[ConfigurationError] = None
        try:
            super().__init__(
                GANModule,
                GANDataModule,
                subclass_mode_model=True,
                save_config_callback=GANSaveConfig,
                save_config_kwargs={"overwrite": True},
                trainer_class=GANTrainer,
                trainer_defaults={"callbacks": [GANCheckpoint(), HealthMonitor()]},
                auto_configure_optimizers=False,
                parser_class=GANArgumentParser,
                args=args,
                run=run,
            )
        finally:
            if run:
                self.finish_loggers()

    def finish_loggers(self) -> None:
        """End the wandb runs this command started, so a next command in the same process starts its own run
        (wandb would otherwise hand it the same run)."""
        for logger in getattr(getattr(self, "trainer", None), "loggers", []):
            experiment = getattr(logger, "_experiment", None) if isinstance(logger, WandbLogger) else None
            if experiment is not None and hasattr(experiment, "finish"):
                experiment.finish()

    def _prepare_subcommand_parser(self, klass: type, subcommand: str, **kwargs: Any) -> LightningArgumentParser:
        """LightningCLI's subcommand parser; ``predict`` also takes ``--n``, ``--seed``, ``--out`` and
        ``--overwrite`` (what to sample and where to write it)."""
        parser = super()._prepare_subcommand_parser(klass, subcommand, **kwargs)
        if subcommand == "predict":
            parser.add_argument("--n", type=int, default=1000, help="number of samples")
            parser.add_argument("--seed", type=int, default=0, help="latent seed (same seed, same samples)")
            parser.add_argument("--out", type=Optional[str], default=None,
                                help="output folder (default: predictions/ beside the checkpoint's folder)")
            parser.add_argument("--overwrite", type=bool, default=False, help="replace an existing samples.npy")
        return parser

    def before_instantiate_classes(self) -> None:
        """Refuse a ``TensorBoardLogger`` when neither ``tensorboard`` nor ``tensorboardX`` is installed (one line
        saying what to install) before anything is built.

        Raises:
            ConfigurationError: If so.
        """
        logger = self._get(self.config, "trainer", default={}).get("logger")
        loggers = logger if isinstance(logger, list) else [logger]
        names = [str(lg.get("class_path", "")) for lg in loggers if hasattr(lg, "get")]
        if any(n.endswith("TensorBoardLogger") for n in names) and not _tensorboard_installed():
            raise ConfigurationError(
                "trainer.logger TensorBoardLogger needs the tensorboard package (pip install tensorboard); got it "
                "not installed (the default CSVLogger and WandbLogger need nothing more).")

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        """LightningCLI's trainer, with :class:`~ganmods.checkpoint_io.AtomicCheckpointIO` added to
        ``trainer.plugins`` unless the config names another ``CheckpointIO``, the
        :class:`~ganmods.progress.GANProgressBar` instead of Lightning's default bar, and a GAN-sized
        ``fast_dev_run``.

        Args:
            **kwargs: Trainer arguments overriding the config.

        Returns:
            The trainer.
        """
        trainer_config = self._get(self.config_init, "trainer", default={})
        plugins = kwargs.get("plugins", trainer_config.get("plugins"))
        kwargs["plugins"] = with_atomic_checkpoint_io(plugins)
        configured = trainer_config.get("callbacks") or []
        configured = configured if isinstance(configured, (list, tuple)) else [configured]
        own_bar = any(isinstance(c, ProgressBar) for c in configured)
        trainer = super().instantiate_trainer(**kwargs)
        if not own_bar:
            for i, callback in enumerate(trainer.callbacks):
                if type(callback) is TQDMProgressBar:
                    trainer.callbacks[i] = GANProgressBar(process_position=callback.process_position)
        if trainer.fast_dev_run:
            _gan_sized_fast_dev_run(trainer, self.model, self.datamodule)
        return trainer

    def _prepare_subcommand_kwargs(self, subcommand: str) -> dict[str, Any]:
        """LightningCLI's arguments of the trainer method; ``predict`` gets the latent batches of
        ``sample(n, seed)`` and a :class:`SampleWriter` instead of the datamodule."""
        kwargs = super()._prepare_subcommand_kwargs(subcommand)
        if subcommand != "predict":
            return kwargs
        from ganmods.sampling import LatentSeeds

        config = self.config_init[subcommand]
        out = config.get("out") or os.path.join(
            os.path.dirname(os.path.dirname(os.path.abspath(str(config["ckpt_path"])))), "predictions")
        writer = SampleWriter(out, overwrite=bool(config.get("overwrite")))
        seeds = LatentSeeds(check_positive_int("n", config.get("n")), config.get("seed"), batch_size=4096)
        self.trainer.callbacks.append(writer)
        kwargs.pop("datamodule", None)
        kwargs["dataloaders"] = seeds.dataloader()
        kwargs["return_predictions"] = False
        return kwargs

    def parse_arguments(self, parser: LightningArgumentParser, args: ArgsType) -> None:
        """LightningCLI's parsing, then every check that needs only the config (:mod:`ganmods.preflight`:
        learning rates, schedulers, precision, accelerator, strategy, budgets, seeds, output folders), before the
        seed is set or anything is built or written.

        Args:
            parser: The parser.
            args: The command-line arguments.

        Raises:
            ConfigurationError: On a bad value (one line: the argument, what is allowed, what was given).
        """
        super().parse_arguments(parser, args)
        sub = self.config.get("subcommand")
        check_fit_config(self.config[sub] if sub else self.config)

    def before_fit(self) -> None:
        """Refuse a checkpoint written for data of another shape (known once the datamodule exists).

        Raises:
            ConfigurationError: Naming the checkpoint, its data shape and the data's.
        """
        path = self.config["fit"].get("ckpt_path")
        if path is not None:
            check_ckpt_path(str(path), self.config["fit"]["model"]["class_path"], self.datamodule.data_shape)
        self._refuse_resume_conflict()

    def _refuse_resume_conflict(self) -> None:
        if self._resume_conflict is not None:
            raise self._resume_conflict

    def before_validate(self) -> None:
        """Refuse a command-line change to the networks of the checkpoint given (see :meth:`_parse_ckpt_path`)."""
        self._refuse_resume_conflict()

    def before_test(self) -> None:
        """Refuse a command-line change to the networks of the checkpoint given (see :meth:`_parse_ckpt_path`)."""
        self._refuse_resume_conflict()

    def before_predict(self) -> None:
        """Refuse a command-line change to the networks of the checkpoint given (see :meth:`_parse_ckpt_path`)."""
        self._refuse_resume_conflict()

    def _parse_ckpt_path(self) -> None:
        """Refuse an unusable ``--ckpt_path`` as one line (and a missing one for ``test`` and ``predict``), then
        read the model's construction arguments from the checkpoint's hyperparameters into the config, under
        the configured (and checked) model class; model arguments given on the command line win over the
        checkpoint's, and a ``fit`` budget below the checkpoint's generator steps is refused.

        LightningCLI's own hook of this (private) name does the reading; it is replaced here because ganmods'
        hyperparameters hold no class entry (the class is checked against the ``ganmods`` record instead).
        ``tests/test_resume.py::test_resume_through_the_cli`` fails if LightningCLI stops calling it.
        """
        sub = self.config.get("subcommand")
        if not sub:
            return
        path = self.config[sub].get("ckpt_path")
        if not path and sub in ("test", "predict"):
            raise ConfigurationError(f"ckpt_path must be given for `ganmods {sub}` (the checkpoint to "
                                     f"{'score' if sub == 'test' else 'sample from'}); got none.")
        if not path or path in ("last", "best", "hpc", "registry"):
            return
        class_path = self.config[sub]["model"]["class_path"]
        check_ckpt_path(str(path), class_path)
        checkpoint = torch.load(str(path), map_location="cpu", weights_only=True)
        hparams = checkpoint.get("hyper_parameters") or {}
        if hparams:
            model = {"class_path": class_path, "init_args": dict(hparams)}
            self.config = self.parser.parse_object({sub: {"model": model}}, self.config)
        explicit = explicit_model_args(self._argv)
        for key in WEIGHT_SHAPING:  # resuming restores the weights: what shapes them cannot change
            conflict = _first_conflict(explicit.get(key), hparams.get(key), f"model.init_args.{key}") \
                if key in explicit and key in hparams else None
            if conflict is not None and self._resume_conflict is None:
                name, given, recorded = conflict
                # raised once the datamodule exists, after the data-shape check (the more telling message)
                self._resume_conflict = ConfigurationError(
                    f"{name} must equal the checkpoint's when resuming (its weights are restored; start a new run "
                    f"to change it); got {given!r}, the checkpoint {str(path)!r} has {recorded!r}.")
        if explicit:
            current = self.config[sub]["model"].clone().as_dict()
            current["init_args"] = _deep_merge(current.get("init_args") or {}, explicit)
            self.config = self.parser.parse_object({sub: {"model": current}}, self.config)
        if sub == "fit":
            done = int(checkpoint["ganmods"]["counters"]["generator_steps"])
            budget = self.config[sub]["model"]["init_args"].get("max_generator_steps")
            if budget is not None and budget < done:
                raise ConfigurationError(
                    f"max_generator_steps must be at least the {done} generator steps of the checkpoint {str(path)!r} "
                    f"when resuming (raise it to train further); got {budget}.")

    def after_fit(self) -> None:
        """Print where the run's files are and the final score by the datamodule's protocol."""
        trainer, model, datamodule = self.trainer, self.model, self.datamodule
        log_dir = trainer.log_dir  # a collective under DDP: every rank must ask, not only rank 0
        if trainer.global_rank != 0 or trainer.interrupted:
            return
        lines = [f"ganmods: {type(model).__name__} trained {model.generator_steps} generator steps "
                 f"({model.critic_steps} critic steps, {model.images_seen} real samples)."]
        evaluate = getattr(datamodule, "evaluate", None)
        if callable(evaluate):
            metrics = evaluate(model, split="val")
            if metrics:
                lines.append("ganmods: final (validation reference) " + ", ".join(f"{k} {v:.4g}" for k, v in metrics.items()))
        if trainer.fast_dev_run:
            lines.append("ganmods: fast_dev_run: no checkpoints or logs written.")
        else:
            if trainer.checkpoint_callback is not None and trainer.checkpoint_callback.dirpath:
                lines.append(f"ganmods: checkpoints in {trainer.checkpoint_callback.dirpath}")
            if log_dir:
                lines.append(f"ganmods: logs and plots in {log_dir}")
        print("\n".join(lines), flush=True)


def _yaml_value(text: str) -> Any:
    """A command-line value read as YAML, with ``1e-4``-style numbers as floats (YAML 1.1 reads them as text)."""
    value = yaml.safe_load(text)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``extra``'s leaves written over it (nested dicts merged, not replaced)."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _tensorboard_installed() -> bool:
    import importlib.util

    return any(importlib.util.find_spec(m) is not None for m in ("tensorboard", "tensorboardX"))


def _gan_sized_fast_dev_run(trainer: Trainer, model: Any, datamodule: Any) -> None:
    """Make Lightning's ``fast_dev_run = K`` run K generator steps (and the critic steps before each) and one
    validation: K Lightning batches are K critic steps, fewer than a generator step needs when ``n_critic > 1``."""
    k = 1 if trainer.fast_dev_run is True else int(trainer.fast_dev_run)
    g0 = int(getattr(model, "generator_steps", 0))
    if not hasattr(model, "n_critic"):
        return
    warm, warm_steps, every = model.warmup_n_critic, model.warmup_generator_steps, model.warmup_every
    critic = sum(warm if warm is not None and (g < warm_steps or (every and g % every == 0)) else model.n_critic
                 for g in range(g0, g0 + k))
    per = int(getattr(datamodule, "steps_per_batch", 1) or 1)
    batches = -(-critic // per)
    model.max_generator_steps = g0 + k
    trainer.limit_train_batches = batches
    trainer.fit_loop.epoch_loop.max_steps = -1
    trainer.val_check_interval = batches  # type: ignore[assignment]


def with_atomic_checkpoint_io(plugins: Any) -> list[Any]:
    """Trainer ``plugins`` plus :class:`~ganmods.checkpoint_io.AtomicCheckpointIO` when none is a ``CheckpointIO``.

    Args:
        plugins: The configured plugins: None, one plugin, or a list.

    Returns:
        A new list: the given plugins, plus ``AtomicCheckpointIO()`` unless one of them is a ``CheckpointIO``.
    """
    given = [] if plugins is None else list(plugins) if isinstance(plugins, (list, tuple)) else [plugins]
    if not any(isinstance(p, CheckpointIO) for p in given):
        given.append(AtomicCheckpointIO())
    return given


def resolve_config_args(argv: list[str]) -> list[str]:
    """``argv`` with every ``-c/--config`` value passed through :func:`config_path`.

    Args:
        argv: Command-line arguments.

    Returns:
        A new list.
    """
    out: list[str] = []
    take = False
    for arg in argv:
        arg = str(arg)
        if take:
            out.append(config_path(arg))
            take = False
        elif arg in ("-c", "--config"):
            out.append(arg)
            take = True
        elif arg.startswith("--config="):
            out.append("--config=" + config_path(arg[len("--config="):]))
        else:
            out.append(arg)
    return out


#: Model arguments that shape the saved weights: a resumed run cannot change them.
WEIGHT_SHAPING = ("generator", "discriminator", "latent_dim")


def _first_conflict(given: Any, recorded: Any, name: str) -> Optional[tuple[str, Any, Any]]:
    """The first value of ``given`` (nested, from the command line) that differs from ``recorded`` (the
    checkpoint's), as ``(dotted name, given, recorded)``; None when every given value matches."""
    if isinstance(given, dict) and isinstance(recorded, dict):
        for key, value in given.items():
            if key in recorded:
                found = _first_conflict(value, recorded[key], f"{name}.{key}")
                if found is not None:
                    return found
        return None
    if isinstance(given, str) and isinstance(recorded, dict) and "class_path" in recorded:
        same = given == recorded["class_path"] or recorded["class_path"].endswith(f".{given}")
        return None if same else (name, given, recorded["class_path"])
    return None if given == recorded else (name, given, recorded)


def explicit_model_args(argv: Sequence[str]) -> dict[str, Any]:
    """The model arguments given one by one on the command line (``--model.init_args.a.b V`` or ``=V``), as
    nested init arguments; the values are read as YAML (``12`` is an int, ``1e-4`` a float).

    Args:
        argv: Command-line arguments.

    Returns:
        ``{"a": {"b": V}}``-style nested dict (empty when none).
    """
    out: dict[str, Any] = {}
    items = list(argv)
    for i, arg in enumerate(items):
        if not arg.startswith("--model.") or arg.startswith("--model.class_path"):
            continue
        key, eq, value = arg[2:].partition("=")
        if not eq:
            if i + 1 >= len(items):
                continue
            value = items[i + 1]
        parts = key.split(".")[1:]
        if parts[:1] == ["init_args"]:
            parts = parts[1:]
        if not parts:
            continue
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break
        else:
            node[parts[-1]] = _yaml_value(value)
    return out


#: What ``ganmods list`` prints.
REGISTRIES = ("losses", "variants", "datasets", "nets", "regularizers", "configs")


def registries() -> dict[str, list[str]]:
    """The registered names by registry: losses (``model.init_args.loss``), variants (``model.class_path``
    ``ganmods.<name>``), datasets (``data.dataset``), nets (``ganmods.nets.<name>``), regularizers
    (``ganmods.regularizers.<name>``) and the shipped configs (``-c <name>``).

    Returns:
        Registry -> sorted names, in :data:`REGISTRIES` order.
    """
    from torch import nn

    import ganmods.nets as nets
    import ganmods.regularizers as regs
    from ganmods.data import DATA_SOURCES
    from ganmods.losses import LOSSES
    from ganmods.variants import VARIANTS

    import ganmods

    def classes(mod: Any, base: type) -> list[str]:
        return sorted(n for n in mod.__all__ if isinstance(getattr(mod, n), type) and issubclass(getattr(mod, n), base)
                      and getattr(mod, n) is not base)

    return {
        "losses": sorted(LOSSES),
        # the variants and the GAN families built on the same loop (every GANModule class ganmods exports)
        "variants": sorted({*VARIANTS, *classes(ganmods, GANModule)}),
        "datasets": sorted(DATA_SOURCES),
        "nets": classes(nets, nn.Module),
        "regularizers": classes(regs, regs.Regularizer),
        "configs": shipped_configs(),
    }


_LIST_HINTS = {"losses": "model.init_args.loss", "variants": "model.class_path ganmods.<name>",
               "datasets": "data.dataset", "nets": "class_path ganmods.nets.<name>",
               "regularizers": "class_path ganmods.regularizers.<name>", "configs": "-c <name>"}


def list_main(argv: list[str]) -> int:
    """The ``ganmods list [REGISTRY ...]`` command: print the registered names, one registry a line.

    Args:
        argv: Registry names (none: all of :data:`REGISTRIES`).

    Returns:
        0.

    Raises:
        ConfigurationError: For an unknown registry name.
    """
    if any(a in ("-h", "--help") for a in argv):
        print("usage: ganmods list [" + " | ".join(REGISTRIES) + "] ...\n\n" + COMMANDS["list"])
        return 0
    for name in argv:
        if name not in REGISTRIES:
            raise invalid("registry", f"one of {list(REGISTRIES)}", name)
    found = registries()
    for name in argv or REGISTRIES:
        print(f"{name} ({_LIST_HINTS[name]}): {', '.join(found[name])}")
    return 0


def usage() -> str:
    """The text of ``ganmods --help``: every command with one line.

    Returns:
        The help text.
    """
    width = max(len(c) for c in COMMANDS) + 2
    lines = ["usage: ganmods [-h] [--version] COMMAND ...", "",
             "Train, score and compare GANs (PyTorch Lightning).", "", "commands:"]
    lines += [f"  {name:<{width}}{text}" for name, text in COMMANDS.items()]
    lines += ["", "options:", "  -h, --help  show this help and exit", "  --version   print the version and exit", "",
              "`ganmods COMMAND --help` lists a command's options; `ganmods list configs` the shipped configs."]
    return "\n".join(lines)


def main(args: Optional[list[str]] = None) -> int:
    """Entry point of the ``ganmods`` console script and ``python -m ganmods``.

    Args:
        args: Command-line arguments (``None``: ``sys.argv[1:]``).

    Returns:
        The exit status: 0 on success, 2 on bad input (printed as one line on stderr).
    """
    argv = sys.argv[1:] if args is None else list(args)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    if argv[0] == "--version":
        from ganmods import __version__

        print(f"ganmods {__version__}")
        return 0
    try:
        if argv[:1] == ["list"]:
            return list_main(argv[1:])
        if argv[:1] == ["generate"]:
            from ganmods.generate import generate_main

            return generate_main(argv[1:])
        if argv[:1] == ["compare"]:
            from ganmods.compare import compare_main

            return compare_main(resolve_config_args(argv[1:]))
        GANCLI(args=args)
    except Exception as err:  # noqa: BLE001 - only ganmods' own bad-input errors are turned into one line
        cause = _configuration_error(err)
        if cause is None:
            raise
        print(f"ganmods: error: {cause}", file=sys.stderr)
        return 2
    return 0


def _configuration_error(err: BaseException) -> Optional[ConfigurationError]:
    """The ConfigurationError behind ``err`` (the config parser wraps errors raised while instantiating)."""
    return find_cause(err, ConfigurationError)
