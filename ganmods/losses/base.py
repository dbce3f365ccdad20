"""The loss interface, the registry and the shared helpers.

Each loss is a small object with ``discriminator_loss(real_logits, fake_logits)`` and
``generator_loss(fake_logits, real_logits)``, both returning scalar tensors, and ``divergence`` returning
the divergence its critic estimates (or ``None``). :data:`LOSSES` maps the public names to classes.
Adding a loss is one small class and one :func:`register` line; the training loop does not change.

Example:
    >>> import torch
    >>> from ganmods.losses import LOSSES
    >>> loss = LOSSES["wasserstein"]()
    >>> float(loss.discriminator_loss(torch.tensor([1.0, 3.0]), torch.tensor([0.0, 0.0])))
    -2.0
"""

from __future__ import annotations

from typing import Callable, Optional, TypeVar

from torch import Tensor

from ganmods.errors import ConfigurationError
from ganmods.spec import Recorded

__all__ = ["LOSSES", "AdversarialLoss", "get_loss", "register"]

LOSSES: dict[str, type["AdversarialLoss"]] = {}
_L = TypeVar("_L", bound=type)


def register(name: str) -> Callable[[_L], _L]:
    """Class decorator adding a loss class to :data:`LOSSES` under ``name``.

    Args:
        name: The public name (what YAML configs and ``get_loss`` accept).

    Returns:
        The decorator, which returns the class unchanged.

    Raises:
        ValueError: If ``name`` is already registered.
    """

    def decorator(cls: _L) -> _L:
        if name in LOSSES:
            raise ValueError(f"loss name {name!r} is already registered to {LOSSES[name].__name__}")
        LOSSES[name] = cls  # type: ignore[assignment]
        cls.name = name  # type: ignore[attr-defined]
        return cls

    return decorator


def _mean(x: Tensor) -> Tensor:
    return x.float().mean()


def _flat(x: Tensor) -> Tensor:
    """Logits ``[B]`` or ``[B, 1]`` as float32 ``[B]`` (so paired differences never broadcast to ``[B, B]``)."""
    return x.float().reshape(x.shape[0], -1).squeeze(1) if x.dim() > 1 else x.float()


def _paired(real_logits: Tensor, fake_logits: Tensor) -> tuple[Tensor, Tensor]:
    real, fake = _flat(real_logits), _flat(fake_logits)
    if real.shape != fake.shape:
        raise ConfigurationError(
            f"real and fake logits must pair up one to one ([B] or [B, 1] each, same B); "
            f"got {tuple(real_logits.shape)} and {tuple(fake_logits.shape)}."
        )
    return real, fake


class AdversarialLoss(Recorded):
    """Base class of adversarial losses.

    Subclasses implement :meth:`discriminator_loss` and :meth:`generator_loss`; relativistic losses set
    ``needs_real_logits = True`` so the loop recomputes the real logits (with the updated critic) in the
    generator step, and losses whose critic is only defined up to an additive constant set
    ``offset_free = True``. Logits may be ``[B]`` or ``[B, 1]``; everything is computed in float32.
    """

    name: str = "custom"
    needs_real_logits: bool = False
    divergence_name: Optional[str] = "margin"
    #: The loss levels carry an arbitrary additive offset of the critic (e.g. Wasserstein: ``C`` and
    #: ``C + c`` give the same gradients), so absolute loss levels mean nothing and monitors must not
    #: compare them to fixed thresholds. Precisely: adding one constant ``c`` to every real and fake logit
    #: changes each of the two losses by an amount that depends on ``c`` only (never on the logits), so no
    #: gradient changes and the critic's output level is free to drift. Relativistic losses are
    #: offset-free with a zero change (their losses stay comparable; their raw logits do not). Losses that
    #: pin the logit level (a sigmoid, a margin at ±1, regression targets, an f-GAN activation) are not.
    offset_free: bool = False

    def discriminator_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        """The critic's loss (to minimise).

        Args:
            real_logits: Critic outputs on real data, ``[B]`` or ``[B, 1]``.
            fake_logits: Critic outputs on generated data.

        Returns:
            A scalar float32 tensor.
        """
        raise NotImplementedError

    def generator_loss(self, fake_logits: Tensor, real_logits: Optional[Tensor] = None) -> Tensor:
        """The generator's loss (to minimise).

        Args:
            fake_logits: Critic outputs on generated data (with graph to the generator).
            real_logits: Critic outputs on real data; required when ``needs_real_logits`` is true.

        Returns:
            A scalar float32 tensor.
        """
        raise NotImplementedError

    def divergence(self, real_logits: Tensor, fake_logits: Tensor, d_loss: Tensor) -> Optional[Tensor]:
        """The divergence the critic currently estimates, for logging.

        The default, for losses without a closed-form link to a divergence (least squares, hinge, the
        relativistic family), is the critic's *margin* ``E[C(xr)] - E[C(xf)]``: how much more real the
        critic finds real data than fake data, the quantity relativistic critics estimate (and, for a
        1-Lipschitz critic, a lower bound on the Wasserstein-1 distance).

        Args:
            real_logits: Critic outputs on real data.
            fake_logits: Critic outputs on generated data.
            d_loss: The adversarial part of the critic loss on these logits.

        Returns:
            A scalar tensor, or ``None`` for no estimate.
        """
        return _mean(real_logits.detach()) - _mean(fake_logits.detach())

    def _real(self, real_logits: Optional[Tensor]) -> Tensor:
        if real_logits is None:
            raise ConfigurationError(
                f"real_logits must be given to the generator loss of {self.name!r} (a relativistic loss); got None."
            )
        return real_logits


def get_loss(loss: "str | AdversarialLoss") -> AdversarialLoss:
    """Resolve a loss name or instance.

    Args:
        loss: A name in :data:`LOSSES` or an :class:`AdversarialLoss` instance.

    Returns:
        An :class:`AdversarialLoss` instance.

    Raises:
        ConfigurationError: If the name is unknown (the message lists the valid names) or the object is
            not an :class:`AdversarialLoss`.
    """
    if isinstance(loss, AdversarialLoss):
        return loss
    if isinstance(loss, str):
        if loss not in LOSSES:
            raise ConfigurationError(f"loss must be one of {sorted(LOSSES)}; got {loss!r}.")
        return LOSSES[loss]()
    raise ConfigurationError(
        f"loss must be a loss name ({sorted(LOSSES)}) or an AdversarialLoss instance; got {type(loss).__name__}."
    )
