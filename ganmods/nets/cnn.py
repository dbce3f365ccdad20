"""The "standard CNN" of the spectral-normalisation paper (Miyato et al. 2018, Table 3), also the CIFAR-10
network of the relativistic GAN paper (Jolicoeur-Martineau 2018).

Layer table with ``width = w`` (the papers: ``w = 64``), ``M`` the image size and ``M_g = M / 8``
(``M = 32`` for CIFAR-10, 48 for STL-10); every convolution has padding 1 ("same" for 3×3, halving or
doubling for 4×4 stride 2):

    ================================================  ================================================
    generator                                         critic
    ================================================  ================================================
    z ∈ R^latent_dim ~ N(0, I)                        image ∈ R^(M×M×C)
    dense → M_g × M_g × 8w, BN, ReLU                  3×3 stride 1 conv w, LReLU(0.1)
    4×4 stride 2 deconv 4w, BN, ReLU                  4×4 stride 2 conv w, LReLU
    4×4 stride 2 deconv 2w, BN, ReLU                  3×3 stride 1 conv 2w, LReLU
    4×4 stride 2 deconv w, BN, ReLU                   4×4 stride 2 conv 2w, LReLU
    3×3 stride 1 conv C, tanh                         3×3 stride 1 conv 4w, LReLU
                                                      4×4 stride 2 conv 4w, LReLU
                                                      3×3 stride 1 conv 8w, LReLU
                                                      dense → 1
    ================================================  ================================================

The papers' critic has no normalisation layer (spectral normalisation being their subject); here the
chosen ``norm`` goes after every convolution but the first.
"""

from __future__ import annotations

from torch import Tensor, nn

from ganmods.errors import check_positive_int
from ganmods.nets.norm import CRITIC_NORMS, apply_spectral_norm, check_choice, check_image_input, norm_layer
from ganmods.spec import Recorded

__all__ = ["CNN_SIZES", "StandardCNNCritic", "StandardCNNGenerator"]

#: Image sizes the standard CNN supports (the papers: 32 for CIFAR-10, 48 for STL-10).
CNN_SIZES = (16, 32, 48, 64)


class StandardCNNGenerator(Recorded, nn.Module):
    """The standard CNN generator: latents ``[B, latent_dim]`` to images ``[B, channels, M, M]`` in
    ``[-1, 1]`` (layer table in :mod:`ganmods.nets.cnn`).

    Args:
        latent_dim: Size of ``z`` (the papers: 128).
        image_size: Output height and width ``M``, one of :data:`CNN_SIZES`.
        channels: Image channels.
        width: Channels of the last hidden layer ``w``; the dense layer has ``8w`` (papers: 64, 512).

    Raises:
        ConfigurationError: If a size is not a positive integer or ``image_size`` is not supported.

    Example:
        >>> import torch
        >>> StandardCNNGenerator(latent_dim=8, image_size=32, channels=3, width=4)(torch.randn(2, 8)).shape
        torch.Size([2, 3, 32, 32])
    """

    def __init__(self, latent_dim: int = 128, image_size: int = 32, channels: int = 3, width: int = 64) -> None:
        super().__init__()
        self.latent_dim = check_positive_int("latent_dim", latent_dim)
        self.image_size = check_choice("image_size", image_size, CNN_SIZES)
        self.channels = check_positive_int("channels", channels)
        self.width = check_positive_int("width", width)
        self.bottom = image_size // 8
        w = width
        units = self.bottom**2 * 8 * w
        self.dense = nn.Sequential(nn.Linear(latent_dim, units), nn.BatchNorm1d(units), nn.ReLU())
        self.net = nn.Sequential(
            nn.ConvTranspose2d(8 * w, 4 * w, 4, 2, 1), nn.BatchNorm2d(4 * w), nn.ReLU(),
            nn.ConvTranspose2d(4 * w, 2 * w, 4, 2, 1), nn.BatchNorm2d(2 * w), nn.ReLU(),
            nn.ConvTranspose2d(2 * w, w, 4, 2, 1), nn.BatchNorm2d(w), nn.ReLU(),
            nn.Conv2d(w, channels, 3, 1, 1), nn.Tanh(),
        )

    def forward(self, z: Tensor) -> Tensor:
        """Map latents ``[B, latent_dim]`` to images ``[B, C, M, M]`` in ``[-1, 1]``."""
        h = self.dense(z).reshape(z.shape[0], 8 * self.width, self.bottom, self.bottom)
        return self.net(h)


class StandardCNNCritic(Recorded, nn.Module):
    """The standard CNN critic: images ``[B, channels, M, M]`` to raw logits ``[B]`` (layer table in
    :mod:`ganmods.nets.cnn`).

    Args:
        image_size: Input height and width ``M``, one of :data:`CNN_SIZES`.
        channels: Image channels.
        width: Channels of the first convolution ``w``; the last has ``8w`` (papers: 64, 512).
        norm: One of :data:`~ganmods.nets.norm.CRITIC_NORMS`, after every convolution but the first
            (``"spectral"``: on every convolution and the dense layer, the SN-GAN setting). Default
            ``"none"``, the papers' unnormalised baseline.

    Raises:
        ConfigurationError: If a size is not a positive integer, ``image_size`` is not supported or
            ``norm`` is unknown.

    Example:
        >>> import torch
        >>> StandardCNNCritic(image_size=32, channels=3, width=4)(torch.randn(2, 3, 32, 32)).shape
        torch.Size([2])
    """

    def __init__(self, image_size: int = 32, channels: int = 3, width: int = 64, norm: str = "none") -> None:
        super().__init__()
        self.image_size = check_choice("image_size", image_size, CNN_SIZES)
        self.channels = check_positive_int("channels", channels)
        check_positive_int("width", width)
        check_choice("norm", norm, CRITIC_NORMS)
        w = width
        # (in, out, kernel, stride) of each convolution, as in the layer table
        convs = [(channels, w, 3, 1), (w, w, 4, 2), (w, 2 * w, 3, 1), (2 * w, 2 * w, 4, 2),
                 (2 * w, 4 * w, 3, 1), (4 * w, 4 * w, 4, 2), (4 * w, 8 * w, 3, 1)]
        layers: list[nn.Module] = []
        for i, (c_in, c_out, k, s) in enumerate(convs):
            layers.append(nn.Conv2d(c_in, c_out, k, s, 1))
            if i > 0:
                layers.append(norm_layer(norm, c_out))
            layers.append(nn.LeakyReLU(0.1))
        self.net = nn.Sequential(*layers, nn.Flatten())
        self.dense = nn.Linear((image_size // 8) ** 2 * 8 * w, 1)
        if norm == "spectral":
            apply_spectral_norm(self)

    def forward(self, x: Tensor) -> Tensor:
        """Map images ``[B, C, M, M]`` to logits ``[B]``."""
        check_image_input(x, self.channels, self.image_size)
        return self.dense(self.net(x)).squeeze(1)
