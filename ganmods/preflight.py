"""Checks run before any work starts: each refuses bad input with one
``<argument> must be <allowed>; got <given>.`` line (a :class:`~ganmods.errors.ConfigurationError`).

Every function takes plain values or mappings (a parsed ``ganmods fit`` config section, with jsonargparse
``Namespace`` objects accepted wherever a mapping is), so each can be called on its own;
:func:`check_fit_config` runs the ones that need only the config.
"""

from __future__ import annotations

import math
import os
from typing import Any, Mapping, Optional, Sequence

from ganmods.errors import ConfigurationError, invalid

__all__ = [
    "MAX_SEED",
    "SUPPORTED_PRECISIONS",
    "available_memory",
    "check_ckpt_path",
    "check_fit_config",
    "check_image_memory",
    "check_optimizers",
    "check_output_folder",
    "check_seed",
    "check_trainer_options",
]

#: The largest seed ``seed_everything`` accepts (numpy's seeds are 32-bit unsigned).
MAX_SEED = 2**32 - 1
#: Precisions ganmods trains with (and Lightning's aliases ``32``, ``16``, ``bf16``); ``64``, ``16-true`` and
#: ``bf16-true`` are refused: the held-out critic gap and the metrics assume float32 parameters.
SUPPORTED_PRECISIONS = ("32-true", "16-mixed", "bf16-mixed")
_REFUSED_PRECISIONS = {"64", "64-true", "16-true", "bf16-true"}
_PLAIN_DDP = {"ddp", "ddp_spawn", "ddp_fork", "ddp_notebook", "ddp_find_unused_parameters_true",
              "ddp_find_unused_parameters_false", "ddp_spawn_find_unused_parameters_true",
              "ddp_fork_find_unused_parameters_true", "ddp_notebook_find_unused_parameters_true"}
_SPECIAL_CKPT = ("best", "hpc", "registry")


def _plain(value: Any) -> Any:
    """A jsonargparse ``Namespace`` (or anything with ``as_dict``) as a dict; anything else unchanged."""
    as_dict = getattr(value, "as_dict", None)
    return as_dict() if callable(as_dict) else value


def _get(mapping: Any, key: str, default: Any = None) -> Any:
    mapping = _plain(mapping)
    return mapping.get(key, default) if isinstance(mapping, Mapping) else default


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float))


def check_optimizers(model_init_args: Mapping[str, Any]) -> None:
    """Learning rates must be positive and schedulers' step sizes at least 1.

    Reads ``optimizer_g`` / ``optimizer_d`` (``{class_path, init_args: {lr: ...}}``) and ``scheduler_g`` /
    ``scheduler_d`` (``init_args.step_size``, ``step_size_up``, ``step_size_down``) of a model's init args.

    Args:
        model_init_args: The model's ``init_args`` (a mapping or ``Namespace``).

    Raises:
        ConfigurationError: Naming the argument (e.g. ``optimizer_g.lr``) for a learning rate that is not a
            finite number > 0, or a step size that is not an integer >= 1.
    """
    for name in ("optimizer_g", "optimizer_d"):
        init = _get(_get(model_init_args, name), "init_args")
        lr = _get(init, "lr")
        if lr is not None and not (_is_number(lr) and math.isfinite(lr) and lr > 0):
            raise invalid(f"{name}.lr", "a finite number > 0", lr)
    for name in ("scheduler_g", "scheduler_d"):
        init = _get(_get(model_init_args, name), "init_args")
        for key in ("step_size", "step_size_up", "step_size_down"):
            size = _get(init, key)
            if size is not None and (not _is_number(size) or size < 1 or size != int(size)):
                raise invalid(f"{name}.{key}", "an integer >= 1", size)


def _cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def check_trainer_options(trainer_config: Mapping[str, Any], cuda_available: Optional[bool] = None) -> None:
    """Trainer options that would crash later, or train nothing, are refused.

    Args:
        trainer_config: The ``trainer`` section (a mapping or ``Namespace``).
        cuda_available: Whether a GPU is usable (``None``: ask torch).

    Raises:
        ConfigurationError: For ``precision`` 64 / ``16-true`` / ``bf16-true`` (see
            :data:`SUPPORTED_PRECISIONS`); ``accelerator`` ``gpu``/``cuda`` without a GPU; a plain DDP
            ``strategy`` (it cannot train a GAN: ``gan_ddp`` can); ``max_steps`` 0 or below -1;
            ``max_epochs`` 0 or below -1; ``limit_train_batches`` 0.
    """
    precision = _get(trainer_config, "precision")
    if precision is not None and str(precision) in _REFUSED_PRECISIONS:
        raise invalid("trainer.precision", f"one of {list(SUPPORTED_PRECISIONS)} (64-bit and true half "
                      "precision are not supported)", precision)
    accelerator = _get(trainer_config, "accelerator")
    if isinstance(accelerator, str) and accelerator.lower() in ("gpu", "cuda"):
        if not (_cuda_available() if cuda_available is None else cuda_available):
            raise invalid("trainer.accelerator", "'cpu' or 'auto' on this machine (no GPU found)", accelerator)
    strategy = _get(trainer_config, "strategy")
    if isinstance(strategy, str) and strategy.lower() in _PLAIN_DDP:
        raise invalid("trainer.strategy", "'gan_ddp' for several processes (plain DDP cannot train a GAN: its "
                      "gradient hooks average one optimizer's step across the critic and the generator)", strategy)
    for key in ("max_steps", "max_epochs"):
        value = _get(trainer_config, key)
        if _is_number(value) and (value == 0 or value < -1):
            raise invalid(f"trainer.{key}", "-1 (no limit) or an integer >= 1", value)
    limit = _get(trainer_config, "limit_train_batches")
    if _is_number(limit) and limit <= 0:
        raise invalid("trainer.limit_train_batches", "an integer >= 1 or a fraction in (0, 1]", limit)


def check_seed(seed: Any, argument: str = "seed_everything") -> None:
    """A seed must fit ``seed_everything``: an integer in ``[0, 2**32 - 1]`` (or true/false/null).

    Args:
        seed: The seed.
        argument: Its name in the message.

    Raises:
        ConfigurationError: If it is an integer out of range, or not an integer, bool or None.
    """
    if seed is None or isinstance(seed, bool):
        return
    if not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise invalid(argument, f"an integer in [0, {MAX_SEED}] (or true for a random seed)", seed)


def _writable(path: str) -> bool:
    return os.access(path, os.W_OK | os.X_OK)


def check_output_folder(path: Any, argument: str = "out") -> None:
    """An output folder must be a writable folder, or a path where one can be created. Nothing is created.

    Args:
        path: The folder.
        argument: Its name in the message (e.g. ``"trainer.default_root_dir"``).

    Raises:
        ConfigurationError: If ``path`` is a file, lies under a file, or is (or would be created in) a
            folder this process cannot write to.
    """
    text = os.fspath(path)
    if os.path.exists(text) and not os.path.isdir(text):
        raise ConfigurationError(f"{argument} must be a folder (or a path where one can be created); got {text!r}, "
                                 "which is a file.")
    parent = os.path.abspath(text)
    while not os.path.exists(parent):
        up = os.path.dirname(parent)
        if up == parent:
            break
        parent = up
    if not os.path.isdir(parent):
        raise ConfigurationError(f"{argument} must be a folder (or a path where one can be created); got {text!r}, "
                                 f"which lies under the file {parent!r}.")
    if not _writable(parent):
        where = "" if parent == os.path.abspath(text) else f", which would be created in {parent!r}"
        raise ConfigurationError(f"{argument} must be a writable folder; got {text!r}{where} (read-only).")


def check_ckpt_path(path: Any, model_class: Optional[str] = None,
                    data_shape: Optional[Sequence[int]] = None) -> None:
    """A checkpoint to resume from or to load: an existing, readable ganmods checkpoint of ``model_class``,
    written for data of ``data_shape``.

    ``None`` and ``"last"`` pass (Lightning resolves ``last``); ``"best"``, ``"hpc"`` and ``"registry"`` are
    refused (a run resumes from a file; give the path of ``best.ckpt`` to start from it).

    Args:
        path: The ``ckpt_path``.
        model_class: The configured model's class path (``None``: not checked).
        data_shape: The configured data's shape per sample (``None``: not checked).

    Raises:
        ConfigurationError: For a special name other than ``last``, a missing path, a folder, an unreadable
            file, a file without the ganmods record, a class defined in ``__main__``, another model class, or
            another data shape (the message names the checkpoint).
    """
    if path is None or path == "last":
        return
    text = os.fspath(path)
    if text in _SPECIAL_CKPT:
        raise invalid("ckpt_path", "a checkpoint file, 'last' or null (to start from the best checkpoint give "
                      "its path, e.g. <log_dir>/checkpoints/best.ckpt)", text)
    if os.path.isdir(text):
        raise ConfigurationError(f"ckpt_path must be a checkpoint file, not a folder (e.g. "
                                 f"<log_dir>/checkpoints/last.ckpt); got {text!r}, which is a folder.")
    if not os.path.isfile(text):
        raise ConfigurationError(f"ckpt_path must be an existing checkpoint file; got {text!r} (no such file).")
    import torch

    try:
        checkpoint = torch.load(text, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unpickling failure means an unusable file
        raise ConfigurationError(f"ckpt_path must be a readable ganmods checkpoint; got {text!r}, which could not be "
                                 f"read (truncated or corrupt?): {type(err).__name__}") from None
    state = checkpoint.get("ganmods") if isinstance(checkpoint, dict) else None
    written = state.get("class_path") if isinstance(state, dict) else None
    if written is None:
        raise ConfigurationError(f"ckpt_path must be a checkpoint written by ganmods; got {text!r}, which has no "
                                 "ganmods model record.")
    if written.startswith("__main__."):
        raise ConfigurationError(
            f"ckpt_path must be a checkpoint of a model class importable from a module; got {text!r}, written by "
            f"{written}, a class defined in a script (move the class into a module and train again, or load "
            f"the checkpoint inside that script with {written.split('.', 1)[1]}.load_from_checkpoint).")
    if model_class is not None:
        from ganmods.spec import import_class

        try:
            same = import_class(written) is import_class(model_class)
        except ImportError:
            same = False
        if not same:
            raise ConfigurationError(
                f"ckpt_path must be a checkpoint of the configured model {model_class}; got {text!r}, written by "
                f"{written} (resume with that model's config).")
    stored = state.get("data_shape")
    if data_shape is not None and stored is not None and tuple(stored) != tuple(data_shape):
        raise ConfigurationError(
            f"ckpt_path must be a checkpoint of data shaped {tuple(data_shape)} (the configured data); got "
            f"{text!r}, written for data shaped {tuple(stored)}.")


def available_memory() -> Optional[int]:
    """Bytes of memory available to a new allocation (``MemAvailable`` on Linux), or None when unknown.

    Returns:
        The byte count, or None.
    """
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def check_image_memory(n_images: int, channels: int, image_size: int, chunk: int = 1024,
                       available: Optional[int] = None) -> int:
    """Images of ``image_size`` must fit in memory, checked before allocating them.

    The need counted is the uint8 images (``n × C × S × S`` bytes) plus one chunk of float32 working copies
    (two of ``min(chunk, n) × C × S × S × 4`` bytes); at most 80 % of the available memory may be used.

    Args:
        n_images: Number of images.
        channels: Channels per image.
        image_size: Side in pixels.
        chunk: Images converted at once.
        available: Available bytes (``None``: :func:`available_memory`; unknown means no check).

    Returns:
        The bytes needed.

    Raises:
        ConfigurationError: Naming ``image_size`` when the images would not fit.
    """
    pixels = channels * image_size * image_size
    need = n_images * pixels + 2 * min(chunk, max(n_images, 0)) * pixels * 4
    free = available_memory() if available is None else available
    if free is not None and need > 0.8 * free:
        raise invalid("image_size", f"small enough for {n_images} images × {channels} channel(s) to fit in memory "
                      f"({need / 1e9:.1f} GB needed, {free / 1e9:.1f} GB available)", image_size)
    return need


def _loggers(trainer_config: Any) -> list[Any]:
    logger = _plain(_get(trainer_config, "logger"))
    if isinstance(logger, (list, tuple)):
        return [_plain(x) for x in logger]
    return [logger] if isinstance(logger, Mapping) else []


def check_fit_config(config: Mapping[str, Any], cuda_available: Optional[bool] = None) -> None:
    """Every config-only check of a ``ganmods fit`` run: optimizers, trainer options, the seed, the
    ``ckpt_path`` (its kind; the file itself is checked by :func:`check_ckpt_path` with the model and data)
    and the output folders (``trainer.default_root_dir`` and each logger's ``save_dir``).

    Args:
        config: The subcommand's config (keys ``model``, ``trainer``, ``seed_everything``, ``ckpt_path``).
        cuda_available: Whether a GPU is usable (``None``: ask torch).

    Raises:
        ConfigurationError: From the first check that fails.
    """
    check_optimizers(_get(_get(config, "model"), "init_args") or {})
    trainer = _get(config, "trainer") or {}
    check_trainer_options(trainer, cuda_available)
    check_seed(_get(config, "seed_everything"))
    path = _get(config, "ckpt_path")
    if path is not None and (os.fspath(path) in _SPECIAL_CKPT or os.path.isdir(os.fspath(path))):
        check_ckpt_path(path)
    root = _get(trainer, "default_root_dir")
    if root:
        check_output_folder(root, "trainer.default_root_dir")
    for logger in _loggers(trainer):
        save_dir = _get(_get(logger, "init_args"), "save_dir")
        if save_dir:
            check_output_folder(save_dir, "trainer.logger.init_args.save_dir")
