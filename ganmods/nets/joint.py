"""Joint critics for BiGAN / ALI: one critic ``D(x, z)`` on a data point and a latent vector together.

The joint input is one tensor, ``join(x, z) = cat([x.flatten(1), z], 1)`` of shape ``[B, D + latent_dim]``
(``D`` the number of values in one data point), so everything the training loop does to a critic input works
on it unchanged: the gradient penalty interpolates joint inputs and takes the norm over both parts, R1 / R2
differentiate with respect to both parts. :func:`split_joint` undoes :func:`join`.

* :class:`JointMLPCritic` (low-dimensional data, the 2-D toy mixtures): an MLP on the joint vector.
* :class:`JointConvCritic` (square images): embeds ``x`` with DCGAN-style strided convolutions and ``z`` with
  an MLP, concatenates both embeddings and maps them to one logit with an MLP (Donahue et al. 2017, Dumoulin
  et al. 2017). No BatchNorm is offered, so every gradient penalty is allowed.

Both refuse an input of the wrong width with an error naming the expected and the given shape.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ganmods.errors import ConfigurationError, check_positive_int
from ganmods.nets.dcgan import DCGAN_SIZES
from ganmods.nets.norm import INITS, apply_spectral_norm, check_choice, dcgan_init_, norm_layer
from ganmods.spec import Recorded

__all__ = ["JOINT_CONV_NORMS", "JOINT_MLP_NORMS", "JointConvCritic", "JointMLPCritic", "join", "split_joint"]

#: Normalisations of :class:`JointMLPCritic` (no BatchNorm: it couples samples and breaks a gradient penalty).
JOINT_MLP_NORMS = ("none", "layer", "spectral")
#: Normalisations of :class:`JointConvCritic` (no BatchNorm, as above).
JOINT_CONV_NORMS = ("none", "layer", "instance", "spectral")


def join(x: Tensor, z: Tensor) -> Tensor:
    """The joint critic input of data points and latent vectors: ``cat([x.flatten(1), z], 1)``.

    Args:
        x: Data ``[B, *data_shape]``.
        z: Latent vectors ``[B, latent_dim]``.

    Returns:
        ``[B, prod(data_shape) + latent_dim]``, with the graph of both parts.

    Raises:
        ConfigurationError: If the batch sizes differ or ``z`` is not ``[B, latent_dim]``.

    Example:
        >>> join(torch.zeros(3, 1, 2, 2), torch.ones(3, 5)).shape
        torch.Size([3, 9])
    """
    if z.dim() != 2 or x.shape[0] != z.shape[0]:
        raise ConfigurationError(
            f"join needs data [B, ...] and latents [B, latent_dim] with the same B; got {list(x.shape)} and "
            f"{list(z.shape)}."
        )
    return torch.cat([x.flatten(1), z.to(x.dtype)], 1)


def split_joint(joint: Tensor, data_shape: tuple[int, ...], latent_dim: int) -> tuple[Tensor, Tensor]:
    """Undo :func:`join`: the data part reshaped to ``[B, *data_shape]`` and the latent part.

    Args:
        joint: ``[B, prod(data_shape) + latent_dim]``.
        data_shape: Shape of one data point.
        latent_dim: Size of the latent part.

    Returns:
        ``(x, z)``: views of ``joint`` (gradients flow to it).

    Raises:
        ConfigurationError: If ``joint`` is not ``[B, prod(data_shape) + latent_dim]``.
    """
    width = math.prod(data_shape)
    if joint.dim() != 2 or joint.shape[1] != width + latent_dim:
        raise ConfigurationError(
            f"joint critic input must have shape [B, {width + latent_dim}] (a data point of shape "
            f"{tuple(data_shape)} flattened to {width} values, then {latent_dim} latent values); got "
            f"{list(joint.shape)}."
        )
    return joint[:, :width].reshape(joint.shape[0], *data_shape), joint[:, width:]


class JointMLPCritic(Recorded, nn.Module):
    """``D(x, z)`` for low-dimensional data: ``x_dim + latent_dim -> [hidden]*depth (LeakyReLU 0.2) -> 1``.

    Args:
        x_dim: Size of a data point (2 for the toy mixtures).
        latent_dim: Size of ``z``.
        hidden: Width of each hidden layer.
        depth: Number of hidden layers; 0 gives a linear critic ``w·(x, z) + b``.
        norm: One of :data:`JOINT_MLP_NORMS` (``"none"``, ``"layer"``, ``"spectral"``).

    Raises:
        ConfigurationError: If a size is not a positive integer (``depth`` may be 0) or ``norm`` is unknown.

    Example:
        >>> JointMLPCritic(x_dim=2, latent_dim=3, hidden=8)(torch.randn(4, 5)).shape
        torch.Size([4])
    """

    def __init__(self, x_dim: int = 2, latent_dim: int = 2, hidden: int = 256, depth: int = 3,
                 norm: str = "none") -> None:
        super().__init__()
        self.x_dim = check_positive_int("x_dim", x_dim)
        self.latent_dim = check_positive_int("latent_dim", latent_dim)
        check_positive_int("hidden", hidden)
        check_positive_int("depth", depth, 0)
        check_choice("norm", norm, JOINT_MLP_NORMS)
        self.data_shape = (x_dim,)
        wrap = nn.utils.parametrizations.spectral_norm if norm == "spectral" else (lambda m: m)
        layers: list[nn.Module] = []
        width = x_dim + latent_dim
        for _ in range(depth):
            layers += [wrap(nn.Linear(width, hidden)), *([nn.LayerNorm(hidden)] if norm == "layer" else []), nn.LeakyReLU(0.2)]
            width = hidden
        layers.append(wrap(nn.Linear(width, 1)))
        self.net = nn.Sequential(*layers)

    def forward(self, joint: Tensor) -> Tensor:
        """Map joint inputs ``[B, x_dim + latent_dim]`` (:func:`join`) to logits ``[B]``.

        Raises:
            ConfigurationError: If the input is not ``[B, x_dim + latent_dim]``.
        """
        split_joint(joint, self.data_shape, self.latent_dim)  # the shape check
        return self.net(joint).squeeze(-1)


class JointConvCritic(Recorded, nn.Module):
    """``D(x, z)`` for square images: ``x`` embedded by DCGAN-style convolutions, ``z`` by an MLP, joined by an
    MLP to one logit.

    ``x`` path: 4×4 stride-2 convolutions with LeakyReLU(0.2) from ``image_size`` down to 4×4, channels ``width``
    doubling at each halving (normalisation ``norm`` after every convolution but the first), flattened. ``z`` path:
    two linear layers of ``z_hidden`` units with LeakyReLU(0.2). Joint path: one linear layer of ``joint_hidden``
    units with LeakyReLU(0.2), then a linear layer to the logit. Dropout (as in the ALI / BiGAN critics) is
    optional and applied after every hidden layer of the ``z`` and joint paths.

    Args:
        image_size: Height and width of ``x``, one of :data:`~ganmods.nets.DCGAN_SIZES`.
        channels: Channels of ``x``.
        latent_dim: Size of ``z``.
        width: Channels of the first convolution.
        z_hidden: Width of the ``z`` embedding.
        joint_hidden: Width of the joint hidden layer.
        norm: One of :data:`JOINT_CONV_NORMS` (``"spectral"``: spectral normalisation of every convolution and
            linear layer, no normalisation layer).
        dropout: Dropout probability in ``[0, 1)`` (0: none).
        init: ``"dcgan"`` (N(0, 0.02) weights) or ``"default"`` (PyTorch's).

    Raises:
        ConfigurationError: If a size is not a positive integer, ``image_size``, ``norm`` or ``init`` is not
            allowed, or ``dropout`` is not in ``[0, 1)``.

    Example:
        >>> critic = JointConvCritic(image_size=16, channels=1, latent_dim=8, width=4, z_hidden=8, joint_hidden=8)
        >>> critic(torch.randn(2, 16 * 16 + 8)).shape
        torch.Size([2])
    """

    def __init__(self, image_size: int = 32, channels: int = 1, latent_dim: int = 64, width: int = 16,
                 z_hidden: int = 256, joint_hidden: int = 512, norm: str = "layer", dropout: float = 0.0,
                 init: str = "dcgan") -> None:
        super().__init__()
        self.image_size = check_choice("image_size", image_size, DCGAN_SIZES)
        self.channels = check_positive_int("channels", channels)
        self.latent_dim = check_positive_int("latent_dim", latent_dim)
        check_positive_int("width", width)
        check_positive_int("z_hidden", z_hidden)
        check_positive_int("joint_hidden", joint_hidden)
        check_choice("norm", norm, JOINT_CONV_NORMS)
        check_choice("init", init, INITS)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
            raise ConfigurationError(f"dropout must be a number in [0, 1); got {dropout!r}.")
        self.data_shape = (channels, image_size, image_size)
        conv: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2)]
        ch, size = width, image_size // 2
        while size > 4:
            conv += [nn.Conv2d(ch, ch * 2, 4, 2, 1), norm_layer(norm, ch * 2), nn.LeakyReLU(0.2)]
            ch, size = ch * 2, size // 2
        self.x_net = nn.Sequential(*conv, nn.Flatten())
        drop = [nn.Dropout(dropout)] if dropout > 0 else []
        self.z_net = nn.Sequential(nn.Linear(latent_dim, z_hidden), nn.LeakyReLU(0.2), *drop,
                                   nn.Linear(z_hidden, z_hidden), nn.LeakyReLU(0.2), *drop)
        self.joint_net = nn.Sequential(nn.Linear(ch * 16 + z_hidden, joint_hidden), nn.LeakyReLU(0.2), *drop,
                                       nn.Linear(joint_hidden, 1))
        if init == "dcgan":
            dcgan_init_(self)
        if norm == "spectral":
            apply_spectral_norm(self)

    def forward(self, joint: Tensor) -> Tensor:
        """Map joint inputs ``[B, C·H·W + latent_dim]`` (:func:`join`) to logits ``[B]``.

        Raises:
            ConfigurationError: If the input is not ``[B, C·H·W + latent_dim]``.
        """
        x, z = split_joint(joint, self.data_shape, self.latent_dim)
        return self.joint_net(torch.cat([self.x_net(x), self.z_net(z)], 1)).squeeze(-1)
