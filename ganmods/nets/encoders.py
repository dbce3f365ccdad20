"""Encoders for BiGAN / ALI: data ``[B, *data_shape]`` to latent vectors ``[B, latent_dim]``.

* :class:`MLPEncoder` for low-dimensional data (the 2-D toy mixtures), the mirror of
  :class:`~ganmods.nets.MLPGenerator`.
* :class:`ConvEncoder` for square images, the mirror of :class:`~ganmods.nets.DCGANGenerator`: 4×4 stride-2
  convolutions with LeakyReLU(0.2) down to 4×4, then a 4×4 convolution to ``latent_dim`` values.

The output is linear (unbounded), matching a normal latent distribution; the encoder is deterministic
(``E(x)`` is a point, as in BiGAN, not a distribution).
"""

from __future__ import annotations

from torch import Tensor, nn

from ganmods.errors import ConfigurationError, check_positive_int
from ganmods.nets.dcgan import DCGAN_SIZES
from ganmods.nets.norm import CRITIC_NORMS, INITS, apply_spectral_norm, check_choice, dcgan_init_, norm_layer
from ganmods.spec import Recorded

__all__ = ["ConvEncoder", "MLPEncoder"]


class MLPEncoder(Recorded, nn.Module):
    """``in_dim -> [hidden]*depth (ReLU) -> latent_dim``, linear output.

    Args:
        in_dim: Size of a data point (2 for the toy mixtures).
        latent_dim: Size of the code ``E(x)``.
        hidden: Width of each hidden layer.
        depth: Number of hidden layers.

    Raises:
        ConfigurationError: If a size is not a positive integer.

    Example:
        >>> import torch
        >>> MLPEncoder(in_dim=2, latent_dim=3, hidden=8)(torch.randn(4, 2)).shape
        torch.Size([4, 3])
    """

    def __init__(self, in_dim: int = 2, latent_dim: int = 2, hidden: int = 256, depth: int = 3) -> None:
        super().__init__()
        self.in_dim = check_positive_int("in_dim", in_dim)
        self.latent_dim = check_positive_int("latent_dim", latent_dim)
        check_positive_int("hidden", hidden)
        check_positive_int("depth", depth)
        layers: list[nn.Module] = []
        width = in_dim
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        layers.append(nn.Linear(width, latent_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """Map data ``[B, in_dim]`` to codes ``[B, latent_dim]``.

        Raises:
            ConfigurationError: If ``x`` is not ``[B, in_dim]``.
        """
        if x.dim() != 2 or x.shape[1] != self.in_dim:
            raise ConfigurationError(f"encoder input must have shape [B, {self.in_dim}]; got {list(x.shape)}.")
        return self.net(x)


class ConvEncoder(Recorded, nn.Module):
    """DCGAN-style image encoder: ``[B, channels, image_size, image_size]`` to codes ``[B, latent_dim]``.

    Layers: ``Conv(C → width)``, LeakyReLU(0.2); then, per halving down to 4×4, ``Conv(ch → 2ch)``, the chosen
    normalisation, LeakyReLU(0.2); then ``Conv(ch → latent_dim, 4×4)`` (linear). At 32 px and ``width`` 16:
    32 → 16 (16 ch) → 8 (32 ch) → 4 (64 ch) → ``latent_dim``.

    Args:
        image_size: Input height and width, one of :data:`~ganmods.nets.DCGAN_SIZES`.
        channels: Image channels.
        latent_dim: Size of the code.
        width: Channels of the first convolution (doubling at each halving).
        norm: One of :data:`~ganmods.nets.norm.CRITIC_NORMS`, after every convolution but the first and the
            last (``"batch"``, the BiGAN paper's choice, is allowed here: the encoder is never differentiated
            for a gradient penalty).
        init: ``"dcgan"`` or ``"default"``.

    Raises:
        ConfigurationError: If a size is not a positive integer, or ``image_size``, ``norm`` or ``init`` is not
            allowed.

    Example:
        >>> import torch
        >>> ConvEncoder(image_size=16, channels=1, latent_dim=8, width=4)(torch.randn(2, 1, 16, 16)).shape
        torch.Size([2, 8])
    """

    def __init__(self, image_size: int = 32, channels: int = 1, latent_dim: int = 64, width: int = 16,
                 norm: str = "batch", init: str = "dcgan") -> None:
        super().__init__()
        self.image_size = check_choice("image_size", image_size, DCGAN_SIZES)
        self.channels = check_positive_int("channels", channels)
        self.latent_dim = check_positive_int("latent_dim", latent_dim)
        check_positive_int("width", width)
        check_choice("norm", norm, CRITIC_NORMS)
        check_choice("init", init, INITS)
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2)]
        ch, size = width, image_size // 2
        while size > 4:
            layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1), norm_layer(norm, ch * 2), nn.LeakyReLU(0.2)]
            ch, size = ch * 2, size // 2
        layers.append(nn.Conv2d(ch, latent_dim, 4, 1, 0))
        self.net = nn.Sequential(*layers)
        if init == "dcgan":
            dcgan_init_(self)
        if norm == "spectral":
            apply_spectral_norm(self)

    def forward(self, x: Tensor) -> Tensor:
        """Map images ``[B, C, H, W]`` to codes ``[B, latent_dim]``.

        Raises:
            ConfigurationError: If ``x`` is not ``[B, channels, image_size, image_size]``.
        """
        if x.dim() != 4 or tuple(x.shape[1:]) != (self.channels, self.image_size, self.image_size):
            raise ConfigurationError(
                f"encoder input must have shape [B, {self.channels}, {self.image_size}, {self.image_size}]; "
                f"got {list(x.shape)}."
            )
        return self.net(x).reshape(x.shape[0], -1)
