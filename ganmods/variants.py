"""The paper variants: thin subclasses of :class:`~ganmods.module.GANModule` that only change defaults.

None of them overrides the training step; each docstring cites the settings it pre-fills.
"""

from __future__ import annotations

from typing import Any, Optional

from lightning.pytorch.cli import OptimizerCallable
from torch import nn

from ganmods.errors import invalid
from ganmods.losses import FGAN_DIVERGENCES, LOSSES
from ganmods.module import GANModule

__all__ = ["ADAM_WGANGP", "FGAN", "RAGAN_KINDS", "RMSPROP_WGAN", "RaGAN", "SGAN", "VARIANTS", "WGAN", "WGANGP"]

#: WGAN's paper optimizer (RMSprop lr 5e-5), the default of its ``optimizer_g`` and ``optimizer_d``.
RMSPROP_WGAN: dict[str, Any] = {"class_path": "torch.optim.RMSprop", "init_args": {"lr": 5e-5}}
#: WGAN-GP's paper optimizer (Adam lr 1e-4, betas (0, 0.9)), the default of its ``optimizer_g`` and ``optimizer_d``.
ADAM_WGANGP: dict[str, Any] = {"class_path": "torch.optim.Adam", "init_args": {"lr": 1e-4, "betas": [0.0, 0.9]}}


class SGAN(GANModule):
    """Standard GAN (Goodfellow et al. 2014): binary cross-entropy from logits.

    Defaults: non-saturating ``-log D`` generator loss (``saturating=True`` gives the original minimax
    loss, whose gradient vanishes as D improves), ``n_critic = 1``, Adam lr 2e-4, β = (0.5, 0.999)
    (the DCGAN settings).

    Args:
        generator: The generator network.
        discriminator: The discriminator network (raw logits).
        saturating: Use the saturating generator loss ``-E[sp(C(xf))]``.
        **kwargs: Any other :class:`GANModule` argument.
    """

    def __init__(self, generator: nn.Module, discriminator: nn.Module, saturating: bool = False, **kwargs: Any) -> None:
        if not isinstance(saturating, bool):
            raise invalid("saturating", "true or false", saturating)
        super().__init__(generator, discriminator, loss="saturating" if saturating else "non_saturating", **kwargs)


class WGAN(GANModule):
    """Wasserstein GAN with weight clipping (Arjovsky et al. 2017).

    Defaults (the paper's): critic loss ``E[C(xf)] - E[C(xr)]``, clip ``c = 0.01`` after every critic
    step, ``n_critic = 5``, RMSprop lr 5e-5. ``reference_warmup=True`` reproduces the reference code's
    100 critic iterations for the first 25 generator iterations and every 500th one.

    Args:
        generator: The generator network.
        discriminator: The critic network.
        clip: Clipping constant ``c``.
        n_critic: Critic steps per generator step.
        reference_warmup: Use the reference code's critic warm-up schedule.
        optimizer_g: The generator's optimizer (default: RMSprop lr 5e-5, :data:`RMSPROP_WGAN`).
        optimizer_d: The critic's optimizer (same default).
        **kwargs: Any other :class:`GANModule` argument.
    """

    default_optimizer = RMSPROP_WGAN

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        clip: float = 0.01,
        n_critic: int = 5,
        reference_warmup: bool = False,
        optimizer_g: Optional[OptimizerCallable] = RMSPROP_WGAN,  # type: ignore[assignment]
        optimizer_d: Optional[OptimizerCallable] = RMSPROP_WGAN,  # type: ignore[assignment]
        **kwargs: Any,
    ) -> None:
        if not isinstance(reference_warmup, bool):
            raise invalid("reference_warmup", "true or false", reference_warmup)
        if reference_warmup:
            kwargs["warmup_n_critic"] = kwargs.get("warmup_n_critic") or 100
        super().__init__(generator, discriminator, loss="wasserstein", clip=clip, n_critic=n_critic,
                         optimizer_g=optimizer_g, optimizer_d=optimizer_d, **kwargs)


class WGANGP(GANModule):
    """WGAN with gradient penalty (Gulrajani et al. 2017).

    Defaults (the paper's): Wasserstein loss, two-sided penalty with λ = 10 (the paper's 2-D toy
    experiments use λ = 0.1), ``n_critic = 5``, Adam lr 1e-4, β = (0, 0.9) (the reference code uses
    β = (0.5, 0.9)). The critic must not use BatchNorm.

    Args:
        generator: The generator network.
        discriminator: The critic network (no BatchNorm).
        gp_weight: λ.
        n_critic: Critic steps per generator step.
        optimizer_g: The generator's optimizer (default: Adam lr 1e-4, betas (0, 0.9), :data:`ADAM_WGANGP`).
        optimizer_d: The critic's optimizer (same default).
        **kwargs: Any other :class:`GANModule` argument.
    """

    default_optimizer = ADAM_WGANGP

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        gp_weight: float = 10.0,
        n_critic: int = 5,
        optimizer_g: Optional[OptimizerCallable] = ADAM_WGANGP,  # type: ignore[assignment]
        optimizer_d: Optional[OptimizerCallable] = ADAM_WGANGP,  # type: ignore[assignment]
        **kwargs: Any,
    ) -> None:
        super().__init__(generator, discriminator, loss="wasserstein", gp_weight=gp_weight, n_critic=n_critic,
                         optimizer_g=optimizer_g, optimizer_d=optimizer_d, **kwargs)


#: Relativistic loss kinds accepted by :class:`RaGAN`.
RAGAN_KINDS = ("rsgan", "rasgan", "ralsgan", "rahinge")


class RaGAN(GANModule):
    """Relativistic GANs (Jolicoeur-Martineau 2018): RSGAN, RaSGAN, RaLSGAN, RaHinge.

    Defaults: the paper's CIFAR-10 setup 1, Adam lr 2e-4, β = (0.5, 0.999), ``n_critic = 1``; setup 2 is
    lr 1e-4, β = (0.5, 0.9), ``n_critic = 5``. Any kind takes a gradient penalty with ``gp_weight``
    (RSGAN-GP was the paper's best CIFAR-10 setting).

    Args:
        generator: The generator network.
        discriminator: The critic network (raw logits).
        kind: One of :data:`RAGAN_KINDS`.
        gp_weight: If set, add a gradient penalty with this λ.
        **kwargs: Any other :class:`GANModule` argument.

    Raises:
        ConfigurationError: If ``kind`` is unknown.
    """

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        kind: str = "rasgan",
        gp_weight: Optional[float] = None,
        **kwargs: Any,
    ) -> None:
        if kind not in RAGAN_KINDS:
            raise invalid("kind", f"one of {list(RAGAN_KINDS)}", kind)
        super().__init__(generator, discriminator, loss=kind, gp_weight=gp_weight, **kwargs)


class FGAN(GANModule):
    """f-GAN (Nowozin et al. 2016): variational divergence minimisation for one f-divergence.

    The critic maximises ``F = E_P[g_f(v)] - E_Q[f*(g_f(v))]``; ``F`` is logged as the divergence estimate.
    Defaults: the paper's recommended generator loss ``-E_Q[g_f(v(xf))]``, Adam lr 2e-4, β = (0.5, 0.999),
    ``n_critic = 1``.

    Args:
        generator: The generator network.
        discriminator: The critic network (raw output ``v``).
        divergence: One of ``kl``, ``reverse_kl``, ``pearson``, ``neyman``, ``hellinger``, ``js``, ``gan``,
            ``tv``.
        saturating: Generator minimises ``F`` instead (the saturating form).
        **kwargs: Any other :class:`GANModule` argument.

    Raises:
        ConfigurationError: If ``divergence`` is unknown.
    """

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        divergence: str = "js",
        saturating: bool = False,
        **kwargs: Any,
    ) -> None:
        if divergence not in FGAN_DIVERGENCES:
            raise invalid("divergence", f"one of {sorted(FGAN_DIVERGENCES)}", divergence)
        loss = LOSSES[f"fgan_{divergence}"](saturating=saturating)
        super().__init__(generator, discriminator, loss=loss, **kwargs)


#: The variants by class name (``ganmods list variants``).
VARIANTS: dict[str, type[GANModule]] = {c.__name__: c for c in (GANModule, SGAN, WGAN, WGANGP, RaGAN, FGAN)}
