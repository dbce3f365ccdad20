"""Image-to-image networks for CycleGAN (Zhu et al. 2017), sized for small images on a CPU.

:class:`ResNetTranslator` is the paper's ResNet generator at a chosen width: with ``w = width`` and ``R`` residual
blocks,

    ``c7s1-w, d2w, d4w, R4w x R, u2w, uw, c7s1-C, tanh``

(``c7s1-k``: reflection padding 3, 7x7 convolution with ``k`` filters, normalisation, ReLU; ``dk``: 3x3
convolution with stride 2; ``Rk``: a residual block of two reflection-padded 3x3 convolutions; ``uk``: 3x3
transposed convolution with stride 1/2; the paper: ``w = 64``, ``R = 9`` at 256 px). Instance normalisation,
as in the paper; ``image_size`` must be a multiple of 4 (two halvings).

:class:`PatchCritic` is the pix2pix / CycleGAN PatchGAN critic at a chosen depth: ``layers`` 4x4 convolutions
with stride 2 (``w, 2w, 4w, ...``; no normalisation on the first), one 4x4 convolution with stride 1 and one
4x4 convolution to a single channel: a map of logits, each seeing one patch of the image (the paper's
``layers = 3`` sees 70x70 patches; ``layers = 2``, 34x34 patches, covers a 32 px digit, ``layers = 1`` sees
16x16). No BatchNorm by default (instance normalisation, as the paper), so gradient penalties apply.

**Patch logits.** The critic returns the mean of its patch logits, one value per image (``[B]``), the output
every loss and regularizer of ganmods is defined for (a gradient penalty then constrains the averaged critic).
The paper's least-squares loss is taken over every patch; on the mean instead, it no longer adds each image's
spread of patch logits (``mean_p (D_p - 1)^2 = (mean_p D_p - 1)^2 + var_p D_p``).

:class:`TranslatorPair` and :class:`CriticPair` hold the two networks of each side, so that
:class:`~ganmods.cyclegan.CycleGAN` trains each side with one optimizer over both networks, as the paper does.
"""

from __future__ import annotations

from typing import Optional

from torch import Tensor, nn

from ganmods.errors import ConfigurationError, check_positive_int, invalid
from ganmods.nets.norm import CRITIC_NORMS, apply_spectral_norm, check_choice, check_image_input, norm_layer
from ganmods.spec import Recorded

__all__ = ["DIRECTIONS", "DOMAINS", "TRANSLATOR_NORMS", "CriticPair", "PatchCritic", "ResNetTranslator",
           "TranslatorPair", "check_direction", "check_domain"]

#: Normalisations of :class:`ResNetTranslator`.
TRANSLATOR_NORMS = ("instance", "none")
#: Translation directions: ``"AB"`` (domain A to domain B) and ``"BA"``.
DIRECTIONS = ("AB", "BA")
#: The two domains.
DOMAINS = ("A", "B")


def _translator_norm(norm: str, channels: int) -> nn.Module:
    # the reference code's instance norm: no affine parameters, no running statistics
    return nn.InstanceNorm2d(channels) if norm == "instance" else nn.Identity()


class _Residual(nn.Module):
    """``x + conv(relu(norm(conv(x))))`` with reflection padding (the paper's ``Rk`` block)."""

    def __init__(self, channels: int, norm: str) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), _translator_norm(norm, channels), nn.ReLU(),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), _translator_norm(norm, channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


def _check_images(x: Tensor, channels: int, image_size: int, what: str) -> None:
    if not isinstance(x, Tensor) or x.dim() != 4 or tuple(x.shape[1:]) != (channels, image_size, image_size):
        shape = list(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ConfigurationError(f"{what} input must have shape [B, {channels}, {image_size}, {image_size}]; "
                                 f"got {shape}.")


class ResNetTranslator(Recorded, nn.Module):
    """The CycleGAN ResNet generator (layer table in :mod:`ganmods.nets.translation`): images
    ``[B, channels, S, S]`` to images of the same shape in ``[-1, 1]``.

    Args:
        channels: Image channels (input and output), 1 to 3 typically.
        image_size: Side ``S`` of the images, a multiple of 4 and >= 8.
        width: Filters ``w`` of the first convolution (the paper: 64).
        blocks: Residual blocks at ``4w`` filters (the paper: 6 at 128 px, 9 at 256 px).
        norm: ``"instance"`` (the paper) or ``"none"``.

    Raises:
        ConfigurationError: If a size is not a positive integer, ``image_size`` is not a multiple of 4 (>= 8) or
            ``norm`` is unknown.

    Example:
        >>> import torch
        >>> net = ResNetTranslator(channels=1, image_size=16, width=4, blocks=1)
        >>> net(torch.zeros(2, 1, 16, 16)).shape
        torch.Size([2, 1, 16, 16])
    """

    def __init__(self, channels: int = 3, image_size: int = 32, width: int = 16, blocks: int = 3,
                 norm: str = "instance") -> None:
        super().__init__()
        self.channels = check_positive_int("channels", channels)
        self.image_size = check_positive_int("image_size", image_size, 8)
        if image_size % 4:
            raise invalid("image_size", "a multiple of 4 (the generator halves the image twice)", image_size)
        self.width = check_positive_int("width", width)
        self.blocks = check_positive_int("blocks", blocks, 0)
        self.norm = check_choice("norm", norm, TRANSLATOR_NORMS)
        w = width
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(channels, w, 7), _translator_norm(norm, w),
                                   nn.ReLU()]
        for c_in, c_out in ((w, 2 * w), (2 * w, 4 * w)):
            layers += [nn.Conv2d(c_in, c_out, 3, 2, 1), _translator_norm(norm, c_out), nn.ReLU()]
        layers += [_Residual(4 * w, norm) for _ in range(blocks)]
        for c_in, c_out in ((4 * w, 2 * w), (2 * w, w)):
            layers += [nn.ConvTranspose2d(c_in, c_out, 3, 2, 1, output_padding=1), _translator_norm(norm, c_out),
                       nn.ReLU()]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(w, channels, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """Translate images ``[B, C, S, S]`` to images ``[B, C, S, S]`` in ``[-1, 1]``.

        Args:
            x: Images of the source domain, in ``[-1, 1]``.

        Returns:
            The translated images.

        Raises:
            ConfigurationError: If ``x`` is not ``[B, channels, image_size, image_size]``.
        """
        _check_images(x, self.channels, self.image_size, "translator")
        return self.net(x)


class PatchCritic(Recorded, nn.Module):
    """The PatchGAN critic (see :mod:`ganmods.nets.translation`): images ``[B, channels, S, S]`` to the mean of
    the patch logits ``[B]``.

    Args:
        channels: Image channels.
        image_size: Side ``S`` of the images; ``S / 2**layers`` must be at least 3.
        width: Filters ``w`` of the first convolution (the paper: 64).
        layers: Convolutions with stride 2 (the paper: 3, 70x70 patches; 2 sees 34x34, 1 sees 16x16).
        norm: One of :data:`~ganmods.nets.norm.CRITIC_NORMS` after every convolution but the first and the last
            (default ``"instance"``, the paper's; ``"batch"`` is refused by ganmods together with a gradient
            penalty).

    Raises:
        ConfigurationError: If a size is not a positive integer, the image is too small for ``layers`` or
            ``norm`` is unknown.

    Example:
        >>> import torch
        >>> PatchCritic(channels=1, image_size=16, width=4, layers=1)(torch.zeros(2, 1, 16, 16)).shape
        torch.Size([2])
    """

    def __init__(self, channels: int = 3, image_size: int = 32, width: int = 16, layers: int = 2,
                 norm: str = "instance") -> None:
        super().__init__()
        self.channels = check_positive_int("channels", channels)
        self.image_size = check_positive_int("image_size", image_size, 8)
        self.width = check_positive_int("width", width)
        self.layers = check_positive_int("layers", layers)
        if image_size // 2**layers < 3:
            raise invalid("layers", f"at most {max(1, (image_size // 3).bit_length() - 1)} for {image_size} px "
                          "images (each halves the image; two more 4x4 convolutions need 3 px left)", layers)
        self.norm = check_choice("norm", norm, CRITIC_NORMS)
        w = width
        convs: list[nn.Module] = [nn.Conv2d(channels, w, 4, 2, 1), nn.LeakyReLU(0.2)]
        c = w
        for i in range(1, layers):
            c_out = w * min(2**i, 8)
            convs += [nn.Conv2d(c, c_out, 4, 2, 1), norm_layer(norm, c_out), nn.LeakyReLU(0.2)]
            c = c_out
        c_out = w * min(2**layers, 8)
        convs += [nn.Conv2d(c, c_out, 4, 1, 1), norm_layer(norm, c_out), nn.LeakyReLU(0.2),
                  nn.Conv2d(c_out, 1, 4, 1, 1)]
        self.net = nn.Sequential(*convs)
        if norm == "spectral":
            apply_spectral_norm(self)

    def patch_logits(self, x: Tensor) -> Tensor:
        """The map of patch logits.

        Args:
            x: Images ``[B, channels, S, S]``.

        Returns:
            ``[B, P, Q]`` logits, one per patch.

        Raises:
            ConfigurationError: If ``x`` is not ``[B, channels, image_size, image_size]``.
        """
        check_image_input(x, self.channels, self.image_size)
        return self.net(x).squeeze(1)

    def forward(self, x: Tensor) -> Tensor:
        """The mean patch logit of each image.

        Args:
            x: Images ``[B, channels, S, S]``.

        Returns:
            ``[B]`` logits.

        Raises:
            ConfigurationError: If ``x`` is not ``[B, channels, image_size, image_size]``.
        """
        return self.patch_logits(x).mean(dim=(1, 2))


def check_direction(direction: object) -> str:
    """Return ``direction`` if it is one of :data:`DIRECTIONS`.

    Args:
        direction: The value given.

    Returns:
        ``"AB"`` or ``"BA"``.

    Raises:
        ConfigurationError: Otherwise.
    """
    if not isinstance(direction, str) or direction not in DIRECTIONS:
        raise invalid("direction", "'AB' (domain A to domain B) or 'BA' (B to A)", direction)
    return direction


def check_domain(domain: object) -> str:
    """Return ``domain`` if it is one of :data:`DOMAINS`.

    Args:
        domain: The value given.

    Returns:
        ``"A"`` or ``"B"``.

    Raises:
        ConfigurationError: Otherwise.
    """
    if not isinstance(domain, str) or domain not in DOMAINS:
        raise invalid("domain", "'A' or 'B'", domain)
    return domain


class TranslatorPair(Recorded, nn.Module):
    """The two generators of CycleGAN: ``ab`` maps domain A to B (the paper's ``G``), ``ba`` maps B to A
    (``F``). One module, so one optimizer (and one EMA) covers both.

    Args:
        ab: The A -> B network (images to images of the same shape).
        ba: The B -> A network.

    Raises:
        ConfigurationError: If either is not an ``nn.Module``, or both declare image shapes that differ.

    Attributes:
        latent_dim: What plays the latent's part: the source image, flattened (``channels * image_size**2``);
            ``None`` when the networks do not declare ``channels`` and ``image_size``.

    Example:
        >>> import torch
        >>> pair = TranslatorPair(ResNetTranslator(1, 16, 4, 1), ResNetTranslator(1, 16, 4, 1))
        >>> pair(torch.zeros(2, 1, 16, 16), "BA").shape, pair.latent_dim
        (torch.Size([2, 1, 16, 16]), 256)
    """

    def __init__(self, ab: nn.Module, ba: nn.Module) -> None:
        super().__init__()
        for name, net in (("ab", ab), ("ba", ba)):
            if not isinstance(net, nn.Module):
                raise invalid(name, "a torch.nn.Module", type(net).__name__)
        shapes = {name: _declared_shape(net) for name, net in (("ab", ab), ("ba", ba))}
        if None not in shapes.values() and shapes["ab"] != shapes["ba"]:
            raise invalid("ba", f"a network for images of the shape ab takes, {shapes['ab']}", shapes["ba"])
        self.ab = ab
        self.ba = ba
        self.image_shape: Optional[tuple[int, int, int]] = shapes["ab"] or shapes["ba"]
        self.latent_dim: Optional[int] = (None if self.image_shape is None
                                          else self.image_shape[0] * self.image_shape[1] * self.image_shape[2])

    def forward(self, x: Tensor, direction: str) -> Tensor:
        """Translate ``x`` in one direction.

        Args:
            x: Images of the source domain ``[B, C, H, W]``.
            direction: ``"AB"`` or ``"BA"``.

        Returns:
            The translated images.

        Raises:
            ConfigurationError: For an unknown ``direction``.
        """
        return (self.ab if check_direction(direction) == "AB" else self.ba)(x)


class CriticPair(Recorded, nn.Module):
    """The two critics of CycleGAN: ``a`` judges domain A (real A against ``ba``'s translations; the paper's
    ``D_X``), ``b`` judges domain B (``D_Y``). One module, so one optimizer covers both.

    Args:
        a: The critic of domain A (raw logits ``[B]`` or ``[B, 1]``).
        b: The critic of domain B.

    Raises:
        ConfigurationError: If either is not an ``nn.Module``.

    Example:
        >>> import torch
        >>> pair = CriticPair(PatchCritic(1, 16, 4, 1), PatchCritic(1, 16, 4, 1))
        >>> pair(torch.zeros(2, 1, 16, 16), "B").shape
        torch.Size([2])
    """

    def __init__(self, a: nn.Module, b: nn.Module) -> None:
        super().__init__()
        for name, net in (("a", a), ("b", b)):
            if not isinstance(net, nn.Module):
                raise invalid(name, "a torch.nn.Module", type(net).__name__)
        self.a = a
        self.b = b

    def forward(self, x: Tensor, domain: str) -> Tensor:
        """The logits of the critic of ``domain``.

        Args:
            x: Images ``[B, C, H, W]``.
            domain: ``"A"`` or ``"B"``.

        Returns:
            That critic's logits.

        Raises:
            ConfigurationError: For an unknown ``domain``.
        """
        return (self.a if check_domain(domain) == "A" else self.b)(x)


def _declared_shape(net: nn.Module) -> Optional[tuple[int, int, int]]:
    """``(channels, image_size, image_size)`` when the network declares both, else None."""
    channels, size = getattr(net, "channels", None), getattr(net, "image_size", None)
    if isinstance(channels, int) and isinstance(size, int):
        return (channels, size, size)
    return None

