"""DCGAN generator and critic (Radford et al. 2016) for square images of 16 to 128 pixels.

The generator projects ``z`` to a 4×4 map with a 4×4 transposed convolution, then doubles the size with
4×4 stride-2 transposed convolutions (BatchNorm + ReLU after each but the last) and ends in ``tanh``;
channels halve at each doubling down to ``width`` before the output layer. The critic mirrors it: 4×4
stride-2 convolutions with LeakyReLU(0.2) (no normalisation on the first, the chosen one on the others)
and a final 4×4 convolution to one logit.

Example (64 px, 3 channels, the paper's widths):

    ==========  ===================================  ==============================
    size        generator                            critic
    ==========  ===================================  ==============================
    4×4         ConvT(z → 8w), BN, ReLU              Conv(8w → 1) → logit
    8×8         ConvT(8w → 4w), BN, ReLU             Conv(4w → 8w), norm, LReLU
    16×16       ConvT(4w → 2w), BN, ReLU             Conv(2w → 4w), norm, LReLU
    32×32       ConvT(2w → w), BN, ReLU              Conv(w → 2w), norm, LReLU
    64×64       ConvT(w → C), tanh                   Conv(C → w), LReLU
    ==========  ===================================  ==============================
"""

from __future__ import annotations

from torch import Tensor, nn

from ganmods.errors import check_positive_int
from ganmods.nets.norm import (
    CRITIC_NORMS, INITS, apply_spectral_norm, check_choice, check_image_input, dcgan_init_, norm_layer,
)
from ganmods.spec import Recorded

__all__ = ["DCGAN_SIZES", "DCGANCritic", "DCGANGenerator"]

#: Image sizes the DCGAN networks support.
DCGAN_SIZES = (16, 32, 64, 128)


def _doublings(image_size: int) -> int:
    return image_size.bit_length() - 3  # 4 * 2**k == image_size


class DCGANGenerator(Recorded, nn.Module):
    """DCGAN generator: latents ``[B, latent_dim]`` to images ``[B, channels, image_size, image_size]``
    in ``[-1, 1]``.

    Args:
        latent_dim: Size of ``z``.
        image_size: Output height and width, one of :data:`DCGAN_SIZES`.
        channels: Image channels (1 grey, 3 RGB).
        width: Channels of the last hidden layer; the first has ``width * image_size / 8``.
        init: ``"dcgan"`` (weights N(0, 0.02), BatchNorm scales N(1, 0.02), biases 0) or ``"default"``
            (PyTorch's initialisation).

    Raises:
        ConfigurationError: If a size is not a positive integer, ``image_size`` is not supported or
            ``init`` is unknown.

    Example:
        >>> import torch
        >>> DCGANGenerator(latent_dim=16, image_size=16, channels=1, width=8)(torch.randn(2, 16)).shape
        torch.Size([2, 1, 16, 16])
    """

    def __init__(
        self, latent_dim: int = 128, image_size: int = 32, channels: int = 3, width: int = 64, init: str = "dcgan"
    ) -> None:
        super().__init__()
        self.latent_dim = check_positive_int("latent_dim", latent_dim)
        self.image_size = check_choice("image_size", image_size, DCGAN_SIZES)
        self.channels = check_positive_int("channels", channels)
        check_positive_int("width", width)
        check_choice("init", init, INITS)
        k = _doublings(image_size)
        ch = width * 2 ** (k - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim, ch, 4, 1, 0, bias=False), nn.BatchNorm2d(ch), nn.ReLU(),
        ]
        for _ in range(k - 1):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch // 2), nn.ReLU()]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        if init == "dcgan":
            dcgan_init_(self)

    def forward(self, z: Tensor) -> Tensor:
        """Map latents ``[B, latent_dim]`` to images ``[B, C, H, W]`` in ``[-1, 1]``."""
        return self.net(z.reshape(z.shape[0], -1, 1, 1))


class DCGANCritic(Recorded, nn.Module):
    """DCGAN critic: images ``[B, channels, image_size, image_size]`` to raw logits ``[B]``.

    Args:
        image_size: Input height and width, one of :data:`DCGAN_SIZES`.
        channels: Image channels.
        width: Channels of the first layer; they double at each halving of the size.
        norm: One of :data:`~ganmods.nets.norm.CRITIC_NORMS` (see :mod:`ganmods.nets.norm`), applied
            after every convolution but the first (``"spectral"``: on every convolution). The default,
            ``"layer"``, is the WGAN-GP paper's replacement for DCGAN's BatchNorm: it works with every
            loss and with a gradient penalty, so one critic serves every variant.
        init: ``"dcgan"`` or ``"default"`` (as for :class:`DCGANGenerator`).

    Raises:
        ConfigurationError: If a size is not a positive integer, ``image_size`` is not supported, or
            ``norm`` or ``init`` is unknown.

    Example:
        >>> import torch
        >>> DCGANCritic(image_size=16, channels=1, width=8)(torch.randn(2, 1, 16, 16)).shape
        torch.Size([2])
    """

    def __init__(
        self, image_size: int = 32, channels: int = 3, width: int = 64, norm: str = "layer", init: str = "dcgan"
    ) -> None:
        super().__init__()
        self.image_size = check_choice("image_size", image_size, DCGAN_SIZES)
        self.channels = check_positive_int("channels", channels)
        check_positive_int("width", width)
        check_choice("norm", norm, CRITIC_NORMS)
        check_choice("init", init, INITS)
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2)]
        ch = width
        for _ in range(_doublings(image_size) - 1):
            layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1), norm_layer(norm, ch * 2), nn.LeakyReLU(0.2)]
            ch *= 2
        layers.append(nn.Conv2d(ch, 1, 4, 1, 0))
        self.net = nn.Sequential(*layers)
        if init == "dcgan":
            dcgan_init_(self)
        if norm == "spectral":
            apply_spectral_norm(self)

    def forward(self, x: Tensor) -> Tensor:
        """Map images ``[B, C, H, W]`` to logits ``[B]``."""
        check_image_input(x, self.channels, self.image_size)
        return self.net(x).reshape(x.shape[0])
