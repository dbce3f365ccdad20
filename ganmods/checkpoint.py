"""Loading any ganmods checkpoint without the training code or data."""

from __future__ import annotations

import os
from typing import Any, Optional, Union

import torch
from torch import nn

from ganmods.errors import ConfigurationError
from ganmods.module import GANModule
from ganmods.spec import from_spec, import_class

__all__ = ["load_checkpoint"]

# Factories for training only: not needed (and not buildable without parameters) for inference.
_TRAINING_ONLY = ("optimizer_g", "optimizer_d", "scheduler_g", "scheduler_d")


def load_checkpoint(
    path: Union[str, os.PathLike],
    map_location: Union[str, torch.device] = "cpu",
    generator: Optional[nn.Module] = None,
    discriminator: Optional[nn.Module] = None,
) -> GANModule:
    """Load a ganmods checkpoint, whatever its variant class, in eval mode.

    The module is rebuilt from the construction record stored in the checkpoint (class, networks, loss,
    regularizers, ...), its weights and loop counters restored. Optimizers are not rebuilt.

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
        checkpoint: dict[str, Any] = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unpickling failure means an unusable file
        raise ConfigurationError(
            f"path must be a readable ganmods checkpoint; got {path!r}, which could not be read "
            f"(truncated or corrupt?): {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
        ) from None
    state = checkpoint.get("ganmods") if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict) or "state_dict" not in checkpoint:
        raise ConfigurationError(f"path must be a checkpoint written by ganmods; got {path!r}, which has no ganmods record.")
    cls = import_class(state["class_path"])
    if not (isinstance(cls, type) and issubclass(cls, GANModule)):
        raise ConfigurationError(f"checkpoint class must be a GANModule subclass; got {state['class_path']!r}.")
    init_args = {k: v for k, v in state["init_args"].items() if k not in _TRAINING_ONLY}
    kwargs = {k: from_spec(v) for k, v in init_args.items()}
    for name, given in (("generator", generator), ("discriminator", discriminator)):
        if given is not None:
            kwargs[name] = given
        elif name not in kwargs:
            raise ConfigurationError(
                f"{name} must be passed to load_checkpoint for {path!r}: the checkpoint does not record how to "
                f"build it (a network ganmods cannot record); got none."
            )
    module = cls(**kwargs)
    module.load_state_dict(checkpoint["state_dict"])
    module.on_load_checkpoint(checkpoint)
    return module.to(map_location).eval()
