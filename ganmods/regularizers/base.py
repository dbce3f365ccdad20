"""The regularizer interface: hooks the training loop calls at fixed points of its steps."""

from __future__ import annotations

from typing import Any, Optional

from torch import Tensor, nn

from ganmods.errors import check_positive_int
from ganmods.spec import Recorded

__all__ = ["Regularizer"]


class Regularizer(Recorded):
    """Base class of every regularizer; every hook is a no-op.

    The loop calls, on every object of the module's ``regularizers`` list:

    * :meth:`transform` on every critic input, real and fake, in both steps (instance noise, augmentation);
    * :meth:`penalty` in the critic step: a term added to the critic loss (gradient penalty, R1, R2);
    * :meth:`after_critic_step` after every critic optimizer step (weight clipping);
    * :meth:`generator_penalty` in the generator step: a term added to the generator loss.

    **Lazy interval** (StyleGAN2's lazy regularization). The loop calls :meth:`penalty` only on critic
    steps whose index (the 0-based count of critic steps done before this one) is a multiple of
    :attr:`every`, and multiplies the returned term by ``every``, so the average strength of the penalty
    is unchanged while its cost is paid once every ``every`` steps. :meth:`generator_penalty` is treated
    the same way with the generator step's index. :meth:`due` tells the loop whether a step is one of
    them. The logs returned with a term are not scaled.

    ``name`` prefixes what the regularizer logs. Subclasses with their own ``__init__`` that take no
    ``every`` keep the class default, 1 (a call on every step).

    Args:
        every: The interval ``k`` of lazy regularization: penalties are computed on every ``k``-th step
            and weighted by ``k``.

    Raises:
        ConfigurationError: If ``every`` is not an integer >= 1.
    """

    name: str = "reg"
    #: True if :meth:`penalty` needs double backward through the critic (no BatchNorm allowed).
    per_sample_gradients: bool = False
    #: The gradient scaler of a ``16-mixed`` run (set by the module when fitting starts), else None.
    grad_scaler: Optional[Any] = None
    #: The lazy interval: penalties are computed on steps whose index is a multiple of it.
    every: int = 1

    def __init__(self, every: int = 1) -> None:
        self.every = check_positive_int("every", every)

    def due(self, step: int) -> bool:
        """Whether the penalties are computed on a step (the loop calls this before each hook call).

        Args:
            step: The step's index: critic steps (for :meth:`penalty`) or generator steps (for
                :meth:`generator_penalty`) done before this one.

        Returns:
            ``step % every == 0``.
        """
        return step % self.every == 0

    def use_scaler(self, scaler: Optional[Any]) -> None:
        """Set (or, with None, clear) :attr:`grad_scaler`; the module calls this when fitting starts.

        Args:
            scaler: The run's gradient scaler (``16-mixed``), or None.
        """
        if scaler is None:
            self.__dict__.pop("grad_scaler", None)
        else:
            self.grad_scaler = scaler

    def penalty(self, critic: nn.Module, real: Tensor, fake: Tensor) -> Optional[tuple[Tensor, dict[str, Tensor]]]:
        """A term to add to the critic loss (the loop calls it on critic steps where :meth:`due` holds
        and multiplies the term by :attr:`every`).

        Args:
            critic: The critic network.
            real: The real batch (after :meth:`transform`).
            fake: The fake batch, detached from the generator (after :meth:`transform`).

        Returns:
            ``(term, logs)`` where ``term`` is the weighted scalar added to the loss and ``logs`` maps names
            to detached scalars worth logging; or ``None`` for no term.
        """
        return None

    def generator_penalty(
        self, critic: nn.Module, fake: Tensor, latents: Tensor
    ) -> Optional[tuple[Tensor, dict[str, Tensor]]]:
        """A term to add to the generator loss.

        The loop calls it on generator steps whose index (generator steps done before this one) is a
        multiple of :attr:`every` (see :meth:`due`), with the critic's parameters frozen, adds the
        returned term times ``every`` to the generator loss, and backpropagates it into the generator.

        Args:
            critic: The critic network (parameters frozen; gradients still flow through it to ``fake``).
            fake: The generator's raw output for ``latents``, *before* any :meth:`transform`, with its
                graph to the generator.
            latents: The latent batch ``fake`` was generated from.

        Returns:
            ``(term, logs)`` where ``term`` is the weighted scalar added to the generator loss and ``logs``
            maps names to detached scalars worth logging; or ``None`` (the default) for no term.
        """
        return None

    def check_input(self, shape: tuple[int, ...]) -> None:
        """Check the shape of a batch of critic inputs before training starts (no-op by default).

        Args:
            shape: Shape of a batch of critic inputs (the generator's output in the dry run).

        Raises:
            ConfigurationError: If the regularizer cannot handle such inputs.
        """

    def after_critic_step(self, critic: nn.Module) -> None:
        """Runs after every critic optimizer step.

        Args:
            critic: The critic network.
        """

    def transform(self, x: Tensor, generator_step: int) -> Tensor:
        """Transforms a critic input (real or fake, in both the critic and the generator step).

        Args:
            x: A batch of critic inputs.
            generator_step: Generator steps taken so far (for schedules).

        Returns:
            The transformed batch.
        """
        return x
