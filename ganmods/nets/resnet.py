"""The residual generator and critic of the WGAN-GP CIFAR-10 experiment (Gulrajani et al. 2017, Appendix
"CIFAR-10 ResNet architecture"), for 32 px images, extended to 16 and 64 px by one block less or more.

With ``width = w`` (the paper: 128) and ``M`` the image size:

- Generator: ``z`` → dense → ``w × 4 × 4``; ``log2(M / 4)`` up blocks (3 at 32 px); BN, ReLU,
  3×3 conv to ``C``, ``tanh``. An up block is ``BN, ReLU, upsample ×2, conv 3×3, BN, ReLU, conv 3×3``
  plus the shortcut ``upsample ×2, conv 1×1`` (nearest-neighbour upsampling, as the reference code's
  depth-to-space of copies).
- Critic: the "optimized" first block ``conv 3×3, ReLU, conv 3×3, mean-pool`` with shortcut
  ``mean-pool, conv 1×1`` (no activation or normalisation before its first convolution); down blocks
  ``norm, ReLU, conv 3×3, norm, ReLU, conv 3×3, mean-pool`` (shortcut ``conv 1×1, mean-pool``) until the
  map is 8×8; two blocks without resampling (identity shortcut); ReLU, global mean over positions,
  dense → 1. At 32 px: optimized (32→16), down (16→8), two plain blocks at 8×8.

The reference critic has no normalisation; the chosen ``norm`` goes where the reference code's optional
layer norm goes (before each ReLU of the blocks after the first).
"""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn import functional as F

from ganmods.errors import check_positive_int
from ganmods.nets.norm import CRITIC_NORMS, apply_spectral_norm, check_choice, check_image_input, norm_layer
from ganmods.spec import Recorded

__all__ = ["RESNET_SIZES", "ResNetCritic", "ResNetGenerator"]

#: Image sizes the residual networks support (the paper: 32).
RESNET_SIZES = (16, 32, 64)


class _UpBlock(nn.Module):
    def __init__(self, ch: int) -> None:
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(ch), nn.Conv2d(ch, ch, 3, 1, 1)
        self.bn2, self.conv2 = nn.BatchNorm2d(ch), nn.Conv2d(ch, ch, 3, 1, 1)
        self.shortcut = nn.Conv2d(ch, ch, 1)

    def forward(self, x: Tensor) -> Tensor:
        h = F.interpolate(F.relu(self.bn1(x)), scale_factor=2.0, mode="nearest")
        h = self.conv2(F.relu(self.bn2(self.conv1(h))))
        return h + self.shortcut(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class _OptimizedBlock(nn.Module):
    def __init__(self, c_in: int, ch: int) -> None:
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(c_in, ch, 3, 1, 1), nn.Conv2d(ch, ch, 3, 1, 1)
        self.shortcut = nn.Conv2d(c_in, ch, 1)

    def forward(self, x: Tensor) -> Tensor:
        h = F.avg_pool2d(self.conv2(F.relu(self.conv1(x))), 2)
        return h + self.shortcut(F.avg_pool2d(x, 2))


class _CriticBlock(nn.Module):
    def __init__(self, ch: int, norm: str, down: bool) -> None:
        super().__init__()
        self.down = down
        self.norm1, self.conv1 = norm_layer(norm, ch), nn.Conv2d(ch, ch, 3, 1, 1)
        self.norm2, self.conv2 = norm_layer(norm, ch), nn.Conv2d(ch, ch, 3, 1, 1)
        self.shortcut = nn.Conv2d(ch, ch, 1) if down else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv2(F.relu(self.norm2(self.conv1(F.relu(self.norm1(x))))))
        s = self.shortcut(x)
        if self.down:
            h, s = F.avg_pool2d(h, 2), F.avg_pool2d(s, 2)
        return h + s


class ResNetGenerator(Recorded, nn.Module):
    """The WGAN-GP CIFAR-10 residual generator: latents ``[B, latent_dim]`` to images
    ``[B, channels, M, M]`` in ``[-1, 1]`` (architecture in :mod:`ganmods.nets.resnet`).

    Args:
        latent_dim: Size of ``z`` (the paper: 128).
        image_size: Output height and width ``M``, one of :data:`RESNET_SIZES`.
        channels: Image channels.
        width: Channels of every block (the paper: 128).

    Raises:
        ConfigurationError: If a size is not a positive integer or ``image_size`` is not supported.

    Example:
        >>> import torch
        >>> ResNetGenerator(latent_dim=8, image_size=32, channels=3, width=8)(torch.randn(2, 8)).shape
        torch.Size([2, 3, 32, 32])
    """

    def __init__(self, latent_dim: int = 128, image_size: int = 32, channels: int = 3, width: int = 128) -> None:
        super().__init__()
        self.latent_dim = check_positive_int("latent_dim", latent_dim)
        self.image_size = check_choice("image_size", image_size, RESNET_SIZES)
        self.channels = check_positive_int("channels", channels)
        self.width = check_positive_int("width", width)
        self.dense = nn.Linear(latent_dim, 4 * 4 * width)
        n_up = image_size.bit_length() - 3  # 4 * 2**n_up == image_size
        self.blocks = nn.Sequential(*[_UpBlock(width) for _ in range(n_up)])
        self.out = nn.Sequential(nn.BatchNorm2d(width), nn.ReLU(), nn.Conv2d(width, channels, 3, 1, 1), nn.Tanh())

    def forward(self, z: Tensor) -> Tensor:
        """Map latents ``[B, latent_dim]`` to images ``[B, C, M, M]`` in ``[-1, 1]``."""
        h = self.dense(z).reshape(z.shape[0], self.width, 4, 4)
        return self.out(self.blocks(h))


class ResNetCritic(Recorded, nn.Module):
    """The WGAN-GP CIFAR-10 residual critic: images ``[B, channels, M, M]`` to raw logits ``[B]``
    (architecture in :mod:`ganmods.nets.resnet`).

    Args:
        image_size: Input height and width ``M``, one of :data:`RESNET_SIZES`.
        channels: Image channels.
        width: Channels of every block (the paper: 128).
        norm: One of :data:`~ganmods.nets.norm.CRITIC_NORMS`, before each ReLU of the blocks after the
            optimized first one (``"spectral"``: on every convolution and the dense layer). Default
            ``"none"``, as the paper's critic.

    Raises:
        ConfigurationError: If a size is not a positive integer, ``image_size`` is not supported or
            ``norm`` is unknown.

    Example:
        >>> import torch
        >>> ResNetCritic(image_size=32, channels=3, width=8)(torch.randn(2, 3, 32, 32)).shape
        torch.Size([2])
    """

    def __init__(self, image_size: int = 32, channels: int = 3, width: int = 128, norm: str = "none") -> None:
        super().__init__()
        self.image_size = check_choice("image_size", image_size, RESNET_SIZES)
        self.channels = check_positive_int("channels", channels)
        check_positive_int("width", width)
        check_choice("norm", norm, CRITIC_NORMS)
        n_down = image_size.bit_length() - 5  # down blocks after the optimized one, to reach 8×8
        blocks: list[nn.Module] = [_OptimizedBlock(channels, width)]
        blocks += [_CriticBlock(width, norm, down=True) for _ in range(n_down)]
        blocks += [_CriticBlock(width, norm, down=False) for _ in range(2)]
        self.blocks = nn.Sequential(*blocks)
        self.dense = nn.Linear(width, 1)
        if norm == "spectral":
            apply_spectral_norm(self)

    def forward(self, x: Tensor) -> Tensor:
        """Map images ``[B, C, M, M]`` to logits ``[B]``."""
        check_image_input(x, self.channels, self.image_size)
        h = F.relu(self.blocks(x)).mean(dim=(2, 3))
        return self.dense(h).squeeze(1)
