"""Shared pieces of the image networks: critic normalisation chosen by name, the DCGAN weight
initialisation, and argument and input checks.

Every image critic takes ``norm`` in :data:`CRITIC_NORMS` and builds its normalisation through
:func:`norm_layer` and :func:`apply_spectral_norm`, so the options mean the same thing in every network:

- ``"none"``: no normalisation.
- ``"layer"``: layer normalisation over ``(C, H, W)`` of each sample, implemented as ``GroupNorm(1, C)``.
  It normalises with one mean and one variance per sample, computed over all channels and positions,
  then applies a per-channel scale and shift. This is the layer norm of the WGAN-GP reference critics.
  ``nn.LayerNorm([C, H, W])`` normalises the same way, but its scale and shift are per position, which
  fixes the spatial size at construction and gives ``C·H·W`` affine parameters instead of ``C``.
- ``"instance"``: ``InstanceNorm2d(C, affine=True)``, per sample and channel.
- ``"batch"``: ``BatchNorm2d(C)``. It couples the samples of a batch, so
  :class:`~ganmods.GANModule` refuses it together with a gradient penalty.
- ``"spectral"``: spectral normalisation
  (``torch.nn.utils.parametrizations.spectral_norm``) of every convolution and linear layer, with no
  normalisation layer.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from ganmods.errors import ConfigurationError, invalid

__all__ = [
    "CRITIC_NORMS", "INITS", "apply_spectral_norm", "check_choice", "check_image_input", "dcgan_init_", "norm_layer",
]

#: Critic normalisations accepted by every image critic.
CRITIC_NORMS = ("none", "layer", "instance", "batch", "spectral")

#: Weight initialisations: ``"dcgan"`` (N(0, 0.02)) or ``"default"`` (PyTorch's own).
INITS = ("dcgan", "default")

_WEIGHTED = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)
_NORMS = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.modules.instancenorm._InstanceNorm, nn.LayerNorm)


def check_choice(name: str, value: Any, allowed: tuple[Any, ...]) -> Any:
    """Return ``value`` if it is one of ``allowed``.

    Args:
        name: The argument's name, used in the error.
        value: The value to check.
        allowed: The allowed values.

    Returns:
        ``value`` unchanged.

    Raises:
        ConfigurationError: If ``value`` is not in ``allowed``.
    """
    if isinstance(value, bool) or not isinstance(value, (str, int)) or value not in allowed:
        raise invalid(name, f"one of {list(allowed)}", value)
    return value


def norm_layer(norm: str, channels: int) -> nn.Module:
    """The normalisation layer for ``channels`` feature maps under the critic option ``norm``.

    Args:
        norm: One of :data:`CRITIC_NORMS`.
        channels: Number of feature maps it normalises.

    Returns:
        ``GroupNorm(1, C)`` for ``"layer"``, ``InstanceNorm2d(C, affine=True)`` for ``"instance"``,
        ``BatchNorm2d(C)`` for ``"batch"``; ``nn.Identity()`` for ``"none"`` and ``"spectral"``.

    Raises:
        ConfigurationError: If ``norm`` is not in :data:`CRITIC_NORMS`.
    """
    check_choice("norm", norm, CRITIC_NORMS)
    if norm == "layer":
        return nn.GroupNorm(1, channels)
    if norm == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    return nn.Identity()


def apply_spectral_norm(module: nn.Module) -> nn.Module:
    """Put spectral normalisation on every convolution and linear layer inside ``module`` (in place).

    Args:
        module: The network.

    Returns:
        ``module`` itself, each ``Conv2d``, ``ConvTranspose2d`` and ``Linear`` now holding a
        ``parametrizations.weight`` spectral-norm parametrization.
    """
    for layer in [m for m in module.modules() if isinstance(m, _WEIGHTED)]:
        nn.utils.parametrizations.spectral_norm(layer)
    return module


def dcgan_init_(module: nn.Module) -> nn.Module:
    """The DCGAN initialisation (Radford et al. 2016), in place: convolution and linear weights from
    N(0, 0.02), normalisation scales from N(1, 0.02), all biases 0.

    Call it before :func:`apply_spectral_norm` (the parametrization takes over the weights).

    Args:
        module: The network.

    Returns:
        ``module`` itself.
    """
    for m in module.modules():
        if isinstance(m, _WEIGHTED):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, _NORMS) and getattr(m, "weight", None) is not None:
            nn.init.normal_(m.weight, 1.0, 0.02)
        if isinstance(m, _WEIGHTED + _NORMS) and getattr(m, "bias", None) is not None:
            nn.init.zeros_(m.bias)
    return module


def check_image_input(x: Tensor, channels: int, image_size: int) -> None:
    """Check that a critic input is ``[B, channels, image_size, image_size]``.

    Args:
        x: The input batch.
        channels: Expected channels.
        image_size: Expected height and width.

    Raises:
        ConfigurationError: If the shape differs (both shapes are named).
    """
    if x.dim() != 4 or tuple(x.shape[1:]) != (channels, image_size, image_size):
        raise ConfigurationError(
            f"discriminator input must have shape [B, {channels}, {image_size}, {image_size}]; "
            f"got {list(x.shape)}."
        )
