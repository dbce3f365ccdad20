"""Multi-layer perceptrons for low-dimensional data (the 2-D toy mixtures)."""

from __future__ import annotations

from torch import Tensor, nn

from ganmods.errors import check_positive_int, invalid
from ganmods.spec import Recorded

__all__ = ["MLPCritic", "MLPGenerator", "NORMS"]

#: Critic normalisations. "batch" couples samples and is refused with a gradient penalty.
NORMS = ("none", "layer", "batch", "spectral")


def _norm_layer(norm: str, width: int) -> list[nn.Module]:
    if norm == "layer":
        return [nn.LayerNorm(width)]
    if norm == "batch":
        return [nn.BatchNorm1d(width)]
    return []


class MLPGenerator(Recorded, nn.Module):
    """``latent_dim -> [hidden]*depth (ReLU) -> out_dim``, linear output (data space is unbounded).

    Args:
        latent_dim: Size of the latent vector ``z``.
        out_dim: Size of a data point (2 for the toy mixtures).
        hidden: Width of each hidden layer (WGAN-GP toy experiments: 512).
        depth: Number of hidden layers.

    Raises:
        ConfigurationError: If a size is not a positive integer.
    """

    def __init__(self, latent_dim: int = 2, out_dim: int = 2, hidden: int = 512, depth: int = 3) -> None:
        super().__init__()
        self.latent_dim = check_positive_int("latent_dim", latent_dim)
        check_positive_int("out_dim", out_dim)
        check_positive_int("hidden", hidden)
        check_positive_int("depth", depth)
        layers: list[nn.Module] = []
        width = latent_dim
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        layers.append(nn.Linear(width, out_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        """Map latents ``[B, latent_dim]`` to samples ``[B, out_dim]``."""
        return self.net(z)


class MLPCritic(Recorded, nn.Module):
    """``in_dim -> [hidden]*depth (ReLU) -> 1``, returning raw logits ``[B]``.

    Args:
        in_dim: Size of a data point.
        hidden: Width of each hidden layer.
        depth: Number of hidden layers.
        norm: One of :data:`NORMS`: ``"none"``, ``"layer"``, ``"batch"`` or ``"spectral"`` (spectral
            normalisation of every linear layer).

    Raises:
        ConfigurationError: If a size is not a positive integer or ``norm`` is unknown.
    """

    def __init__(self, in_dim: int = 2, hidden: int = 512, depth: int = 3, norm: str = "none") -> None:
        super().__init__()
        check_positive_int("in_dim", in_dim)
        check_positive_int("hidden", hidden)
        check_positive_int("depth", depth)
        if norm not in NORMS:
            raise invalid("norm", f"one of {list(NORMS)}", norm)
        wrap = nn.utils.parametrizations.spectral_norm if norm == "spectral" else (lambda m: m)
        layers: list[nn.Module] = []
        width = in_dim
        for _ in range(depth):
            layers += [wrap(nn.Linear(width, hidden)), *_norm_layer(norm, hidden), nn.ReLU()]
            width = hidden
        layers.append(wrap(nn.Linear(width, 1)))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """Map samples ``[B, in_dim]`` to logits ``[B]``."""
        return self.net(x).squeeze(-1)
