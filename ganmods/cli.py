"""The ``ganmods`` command line: LightningCLI with ganmods' modules, data and defaults.

``ganmods fit -c configs/toy/wgan_gp.yaml`` trains; ``validate``, ``test`` and ``predict`` work as in
LightningCLI; ``ganmods generate --ckpt PATH --n N --out OUT`` samples from any checkpoint;
``ganmods compare -c CONFIG.yaml [--out DIR]`` runs variants × seeds under one budget (:mod:`ganmods.compare`). Bad input prints one line, ``ganmods: error: ...``, and exits with status 2.
"""

from __future__ import annotations

import sys
from typing import Any, Optional

from lightning.fabric.plugins.io import CheckpointIO
from lightning.pytorch import Trainer
from lightning.pytorch.cli import ArgsType, LightningArgumentParser, LightningCLI

from ganmods.callbacks import GANCheckpoint, HealthMonitor
from ganmods.checkpoint_io import AtomicCheckpointIO
from ganmods.data import GANDataModule
from ganmods.errors import ConfigurationError
from ganmods.module import GANModule
from ganmods.yaml_checks import check_config_args

__all__ = ["GANArgumentParser", "GANCLI", "main", "with_atomic_checkpoint_io"]

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


class GANCLI(LightningCLI):
    """LightningCLI for GAN modules: any :class:`~ganmods.GANModule` subclass as ``model`` (``class_path``),
    :class:`~ganmods.GANDataModule` as ``data``, the config saved beside the logs (overwritten on rerun),
    :class:`~ganmods.callbacks.GANCheckpoint` (``last.ckpt`` and ``best.ckpt``, never a non-finite state),
    :class:`~ganmods.callbacks.HealthMonitor`, checkpoints written atomically
    (:class:`~ganmods.checkpoint_io.AtomicCheckpointIO` added to ``trainer.plugins`` unless the config
    names another ``CheckpointIO``), ``--ckpt_path`` checked before use, and every ``-c/--config`` file
    refused if it repeats a key.

    Args:
        args: Command-line arguments (``None``: ``sys.argv[1:]``).
        run: Run the subcommand (``False``: only instantiate).

    Raises:
        ConfigurationError: If a config file repeats a key (``<file>: duplicate key 'name' at line N.``).
    """

    def __init__(self, args: ArgsType = None, run: bool = True) -> None:
        check_config_args(sys.argv[1:] if args is None else args)
        super().__init__(
            GANModule,
            GANDataModule,
            subclass_mode_model=True,
            save_config_kwargs={"overwrite": True},
            trainer_defaults={"callbacks": [GANCheckpoint(), HealthMonitor()]},
            auto_configure_optimizers=False,
            parser_class=GANArgumentParser,
            args=args,
            run=run,
        )

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        """LightningCLI's trainer, with :class:`~ganmods.checkpoint_io.AtomicCheckpointIO` added to
        ``trainer.plugins`` unless the config names another ``CheckpointIO``.

        Args:
            **kwargs: Trainer arguments overriding the config.

        Returns:
            The trainer.
        """
        plugins = kwargs.get("plugins", self._get(self.config_init, "trainer", default={}).get("plugins"))
        kwargs["plugins"] = with_atomic_checkpoint_io(plugins)
        return super().instantiate_trainer(**kwargs)

    def _parse_ckpt_path(self) -> None:
        """Refuse an unusable ``--ckpt_path`` as one line, then read the model's construction arguments from the
        checkpoint's hyperparameters into the config, under the configured (and checked) model class.

        LightningCLI's own hook of this (private) name does the reading; it is replaced here because ganmods'
        hyperparameters hold no class entry (the class is checked against the ``ganmods`` record instead).
        ``tests/test_resume.py::test_resume_through_the_cli`` fails if LightningCLI stops calling it.
        """
        sub = self.config.get("subcommand")
        path = self.config[sub].get("ckpt_path") if sub else None
        if not path or path in ("last", "best", "hpc", "registry"):
            return
        class_path = self.config[sub]["model"]["class_path"]
        _check_ckpt_path(str(path), class_path)
        import torch

        hparams = torch.load(str(path), map_location="cpu", weights_only=True).get("hyper_parameters") or {}
        if hparams:
            model = {"class_path": class_path, "init_args": dict(hparams)}
            self.config = self.parser.parse_object({sub: {"model": model}}, self.config)

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
            metrics = evaluate(model)
            if metrics:
                lines.append("ganmods: final " + ", ".join(f"{k} {v:.4g}" for k, v in metrics.items()))
        if trainer.checkpoint_callback is not None and trainer.checkpoint_callback.dirpath:
            lines.append(f"ganmods: checkpoints in {trainer.checkpoint_callback.dirpath}")
        if log_dir:
            lines.append(f"ganmods: logs and plots in {log_dir}")
        print("\n".join(lines), flush=True)


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


def main(args: Optional[list[str]] = None) -> int:
    """Entry point of the ``ganmods`` console script and ``python -m ganmods``.

    Args:
        args: Command-line arguments (``None``: ``sys.argv[1:]``).

    Returns:
        The exit status: 0 on success, 2 on bad input (printed as one line on stderr).
    """
    argv = sys.argv[1:] if args is None else list(args)
    try:
        if argv[:1] == ["generate"]:
            from ganmods.generate import generate_main

            return generate_main(argv[1:])
        if argv[:1] == ["compare"]:
            from ganmods.compare import compare_main

            return compare_main(argv[1:])
        GANCLI(args=args)
    except Exception as err:  # noqa: BLE001 - only ganmods' own bad-input errors are turned into one line
        cause = _configuration_error(err)
        if cause is None:
            raise
        print(f"ganmods: error: {cause}", file=sys.stderr)
        return 2
    return 0


def _check_ckpt_path(path: str, model_class: str) -> None:
    """``path`` must be a readable ganmods checkpoint of the configured model class."""
    import os

    import torch

    from ganmods.spec import import_class

    if not os.path.isfile(path):
        raise ConfigurationError(f"ckpt_path must be an existing checkpoint file; got {path!r} (no such file).")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unpickling failure means an unusable file
        raise ConfigurationError(f"ckpt_path must be a readable ganmods checkpoint; got {path!r}, which could not be "
                                 f"read (truncated or corrupt?): {type(err).__name__}") from None
    state = checkpoint.get("ganmods") if isinstance(checkpoint, dict) else None
    written = state.get("class_path") if isinstance(state, dict) else None
    if written is None:
        raise ConfigurationError(f"ckpt_path must be a checkpoint written by ganmods; got {path!r}, which has no "
                                 "ganmods model record.")
    try:
        same = import_class(written) is import_class(model_class)
    except ImportError:
        same = False
    if not same:
        raise ConfigurationError(f"ckpt_path must be a checkpoint of the configured model {model_class}; got {path!r}, "
                                 f"written by {written} (resume with that model's config).")


def _configuration_error(err: BaseException) -> Optional[ConfigurationError]:
    """The ConfigurationError behind ``err`` (the config parser wraps errors raised while instantiating)."""
    seen: set[int] = set()
    current: Optional[BaseException] = err
    while current is not None and id(current) not in seen:
        if isinstance(current, ConfigurationError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
