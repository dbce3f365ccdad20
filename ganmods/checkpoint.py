"""Loading any ganmods checkpoint without the training code or data."""

from __future__ import annotations

import os
from typing import Any, Optional, Union

import torch
from torch import nn

from ganmods.errors import ConfigurationError
from ganmods.module import TRAINING_ONLY, GANModule
from ganmods.spec import import_class

__all__ = ["load_checkpoint"]


def load_checkpoint(
    path: Union[str, os.PathLike],
    map_location: Union[str, torch.device] = "cpu",
    generator: Optional[nn.Module] = None,
    discriminator: Optional[nn.Module] = None,
) -> GANModule:
    """Load a ganmods checkpoint, whatever its variant class, in eval mode.

    The module is rebuilt by :meth:`GANModule.load_from_checkpoint` from Lightning's hyperparameters (the
    construction record: class, networks, loss, regularizers, ...), its weights and loop counters restored.
    Optimizer and scheduler factories are not rebuilt.

    Args:
        path: Path of a ``.ckpt`` file written during ``fit``.
        map_location: Where to put the tensors.
        generator: A generator to use instead of the recorded one (needed when the checkpoint was
            written by a module built in Python with a network ganmods cannot record).
        discriminator: Likewise for the critic.

    Returns:
        The module, in eval mode, with ``generator_steps`` etc. as saved.

    Raises:
        ConfigurationError: If the file is missing, unreadable or truncated, not written by ganmods, or
            lacks a network record and no replacement was given.

    Example:
        >>> module = load_checkpoint("runs/toy/wgan_gp/last.ckpt")  # doctest: +SKIP
        >>> module.sample(1000, seed=0).shape  # doctest: +SKIP
        torch.Size([1000, 2])
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ConfigurationError(f"path must be an existing checkpoint file; got {path!r} (no such file).")
    try:
        checkpoint: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unpickling failure means an unusable file
        raise ConfigurationError(
            f"path must be a readable ganmods checkpoint; got {path!r}, which could not be read "
            f"(truncated or corrupt?): {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
        ) from None
    state = checkpoint.get("ganmods") if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict) or "state_dict" not in checkpoint:
        raise ConfigurationError(f"path must be a checkpoint written by ganmods; got {path!r}, which has no ganmods record.")
    try:
        cls = import_class(state["class_path"])
    except ImportError:
        raise ConfigurationError(
            f"checkpoint class must be importable; got {state['class_path']!r} in {path!r} (import the module "
            f"that defines it, or install its package)."
        ) from None
    if not (isinstance(cls, type) and issubclass(cls, GANModule)):
        raise ConfigurationError(f"checkpoint class must be a GANModule subclass; got {state['class_path']!r}.")
    hparams = checkpoint.get("hyper_parameters") or {}
    overrides: dict[str, Any] = {k: None for k in TRAINING_ONLY if k in hparams}
    for name, given in (("generator", generator), ("discriminator", discriminator)):
        if given is not None:
            overrides[name] = given
        elif name not in hparams:
            raise ConfigurationError(
                f"{name} must be passed to load_checkpoint for {path!r}: the checkpoint does not record how to "
                f"build it (a network ganmods cannot record); got none."
            )
    module = cls.load_from_checkpoint(path, map_location=map_location, **overrides)
    return module.eval()
