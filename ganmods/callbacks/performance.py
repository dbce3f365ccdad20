"""Performance options for GPU training, as callbacks: compiled networks and the channels-last memory format.

Both change how the networks run, never what they compute: the state dict keys, the checkpoints and the
loop are those of an unchanged run, so a checkpoint written with them loads into a module without them.

* :class:`CompileNetworks` compiles the generator and the critic in place (``nn.Module.compile``). A critic
  trained with a penalty on its input gradient (gradient penalty, R1, R2) needs a double backward, which
  ``torch.compile`` does not support; by default such a critic stays uncompiled and the callback says so.
* :class:`ChannelsLast` stores the image networks' weights in the channels-last (NHWC) memory format and hands
  the critic its inputs (real batches, fakes, penalty points) in that format, which tensor-core convolutions
  prefer under mixed precision.
"""

from __future__ import annotations

from typing import Any, Optional, Union

import lightning.pytorch as pl
import torch
from lightning.pytorch.utilities import rank_zero_info
from torch import Tensor, nn

from ganmods.errors import ConfigurationError, invalid

__all__ = ["COMPILE_CHOICES", "ChannelsLast", "CompileNetworks", "double_backward_regularizers"]

#: What :class:`CompileNetworks` takes for ``generator`` and ``discriminator``.
COMPILE_CHOICES = ("auto", True, False)

#: Why a critic with an input-gradient penalty is not compiled.
DOUBLE_BACKWARD_REASON = (
    "its penalty ({names}) differentiates the critic's input gradient (a double backward), which torch.compile "
    "does not support (aot_autograd); it runs uncompiled"
)


def double_backward_regularizers(module: Any) -> list[str]:
    """The names of a module's regularizers that differentiate the critic's input gradient.

    Args:
        module: A :class:`~ganmods.GANModule` (anything with a ``regularizers`` list).

    Returns:
        The names (e.g. ``["gp"]``); empty when none does.
    """
    return [getattr(r, "name", type(r).__name__) for r in getattr(module, "regularizers", [])
            if getattr(r, "per_sample_gradients", False)]


def _check_choice(name: str, value: Any) -> Union[str, bool]:
    if not (isinstance(value, bool) or value == "auto"):
        raise invalid(name, "'auto', true or false", value)
    return value


class CompileNetworks(pl.Callback):
    """Compile the generator and the critic with ``torch.compile`` when fitting starts (in place, so state dict
    keys and checkpoints are unchanged).

    The first steps then take the compilation time. A critic whose regularizers need a double backward (the
    gradient penalty, R1, R2) cannot be compiled: with ``discriminator="auto"`` it stays uncompiled and the
    reason is printed and kept in :attr:`skipped`; with ``discriminator=True`` that is an error. The EMA copy
    of the generator is never compiled (it only samples).

    Args:
        generator: ``"auto"`` or True: compile the generator; False: leave it.
        discriminator: ``"auto"``: compile the critic unless a regularizer needs a double backward; True:
            compile it (an error when a regularizer needs a double backward); False: leave it.
        backend: ``torch.compile``'s backend (``"inductor"``; ``"aot_eager"`` traces without generating code).
        mode: ``torch.compile``'s mode (None, ``"default"``, ``"reduce-overhead"``, ``"max-autotune"``, ...).
        fullgraph: ``torch.compile``'s ``fullgraph`` (fail on any graph break).
        dynamic: ``torch.compile``'s ``dynamic`` (None: decide from the shapes seen).

    Raises:
        ConfigurationError: If ``generator`` or ``discriminator`` is not ``"auto"``, True or False, ``backend`` is
            not a non-empty string, ``mode`` not a string or None, ``fullgraph`` not a bool or ``dynamic`` not a
            bool or None; at set-up, if ``discriminator=True`` and a regularizer needs a double backward.

    Attributes:
        compiled: The names of the networks compiled (``"generator"``, ``"discriminator"``).
        skipped: Network name -> why it was not compiled.

    Example:
        >>> callback = CompileNetworks(mode="max-autotune")
        >>> callback.compiled, callback.compile_kwargs["backend"]
        ([], 'inductor')
    """

    def __init__(self, generator: Union[str, bool] = "auto", discriminator: Union[str, bool] = "auto",
                 backend: str = "inductor", mode: Optional[str] = None, fullgraph: bool = False,
                 dynamic: Optional[bool] = None) -> None:
        self.generator = _check_choice("generator", generator)
        self.discriminator = _check_choice("discriminator", discriminator)
        if not isinstance(backend, str) or not backend:
            raise invalid("backend", "a torch.compile backend name", backend)
        if mode is not None and not isinstance(mode, str):
            raise invalid("mode", "a torch.compile mode name or null", mode)
        if not isinstance(fullgraph, bool):
            raise invalid("fullgraph", "true or false", fullgraph)
        if dynamic is not None and not isinstance(dynamic, bool):
            raise invalid("dynamic", "true, false or null", dynamic)
        #: The keyword arguments given to ``torch.compile``.
        self.compile_kwargs: dict[str, Any] = {"backend": backend, "mode": mode, "fullgraph": fullgraph,
                                               "dynamic": dynamic}
        self.compiled: list[str] = []
        self.skipped: dict[str, str] = {}

    def plan(self, module: Any) -> dict[str, Optional[str]]:
        """What will be compiled for ``module``: network name -> None (compiled) or the reason it is not.

        Args:
            module: A :class:`~ganmods.GANModule`.

        Returns:
            ``{"generator": ..., "discriminator": ...}``.

        Raises:
            ConfigurationError: If ``discriminator=True`` and a regularizer needs a double backward.
        """
        plan: dict[str, Optional[str]] = {"generator": None if self.generator else "generator=False",
                                          "discriminator": None if self.discriminator else "discriminator=False"}
        double = double_backward_regularizers(module)
        if double and self.discriminator:
            reason = DOUBLE_BACKWARD_REASON.format(names=", ".join(double))
            if self.discriminator is True:
                raise ConfigurationError(
                    f"discriminator must not be compiled when a regularizer needs a double backward "
                    f"({', '.join(double)}): torch.compile does not support it; allowed: 'auto' (leave the critic "
                    f"uncompiled) or false; got True."
                )
            plan["discriminator"] = reason
        return plan

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """Check the plan before any work (fitting only).

        Args:
            trainer: The trainer.
            pl_module: The :class:`~ganmods.GANModule`.
            stage: Lightning stage.

        Raises:
            ConfigurationError: As :meth:`plan`.
        """
        if stage == "fit":
            self.plan(pl_module)

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Compile the networks in place, on their device, after the shape check of set-up (which would otherwise
        compile an evaluation-mode graph that training never uses).

        Args:
            trainer: The trainer.
            pl_module: The :class:`~ganmods.GANModule`.
        """
        self.compiled, self.skipped = [], {}
        for name, reason in self.plan(pl_module).items():
            if reason is not None:
                self.skipped[name] = reason
                continue
            net: nn.Module = getattr(pl_module, name)
            net.compile(**self.compile_kwargs)
            self.compiled.append(name)
        for name, reason in self.skipped.items():
            if "double backward" in reason:
                rank_zero_info(f"ganmods: CompileNetworks leaves the {name} uncompiled: {reason}.")


def _channels_last_input(module: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
    if args and isinstance(args[0], Tensor) and args[0].dim() == 4:
        return (args[0].contiguous(memory_format=torch.channels_last), *args[1:])
    return args


class ChannelsLast(pl.Callback):
    """Run the image networks in the channels-last (NHWC) memory format.

    At set-up the generator's and the critic's 4-D weights (and the EMA generator's) are converted in place (the
    parameters stay the same objects, so optimizers are unaffected and state dicts keep their keys and
    values); during fitting every 4-D input of the critic (the real batches, the fakes, the penalty's
    interpolates) is handed to it channels-last. The values computed are those of the default format up to
    floating-point summation order. The input conversion is removed when fitting ends; the weights stay
    channels-last (which any code accepts).

    Example:
        >>> callback = ChannelsLast()
        >>> callback.active
        False
    """

    def __init__(self) -> None:
        self._handle: Optional[Any] = None

    @property
    def active(self) -> bool:
        """Whether the critic's inputs are being converted now."""
        return self._handle is not None

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """Convert the networks' weights and start converting the critic's inputs (fitting only).

        Args:
            trainer: The trainer.
            pl_module: The :class:`~ganmods.GANModule`.
            stage: Lightning stage; only ``"fit"`` converts.
        """
        if stage != "fit":
            return
        for name in ("generator", "discriminator", "ema_generator"):
            net = getattr(pl_module, name, None)
            if isinstance(net, nn.Module):
                net.to(memory_format=torch.channels_last)
        if self._handle is None:
            self._handle = pl_module.discriminator.register_forward_pre_hook(_channels_last_input)

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """Stop converting the critic's inputs.

        Args:
            trainer: The trainer.
            pl_module: The module.
            stage: Lightning stage.
        """
        if self._handle is not None:
            self._handle.remove()
            self._handle = None
