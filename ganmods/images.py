"""Pixels and pictures: the one home of the ``[-1, 1]`` <-> ``uint8`` conversion and of the drawings
(image grids, 2-D scatter plots) that callbacks, comparisons and scripts save.

The conversion is the one an image writer applies (PITFALLS.md §15): ``uint8 = clamp(round((x + 1) *
127.5), 0, 255)``, so ``-1 -> 0``, ``0 -> 128`` (round half to even: 127.5 -> 128), ``1 -> 255``, values
outside ``[-1, 1]`` clamped; back, ``x = u / 127.5 - 1``. Images are ``[..., C, H, W]`` tensors.

Matplotlib is imported only when a figure is drawn, with the non-interactive ``Agg`` backend.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Optional, Sequence

import torch
from torch import Tensor

from ganmods.errors import check_positive_int, invalid

__all__ = ["from_uint8", "grid_figure", "image_grid", "save_figure", "scatter_figure", "to_uint8", "write_png"]


def to_uint8(images: Tensor) -> Tensor:
    """Images in ``[-1, 1]`` as the ``uint8`` pixels a PNG would hold.

    Args:
        images: Floating-point tensor of any shape, nominally in ``[-1, 1]`` (on any device).

    Returns:
        ``clamp(round((x + 1) * 127.5), 0, 255)`` as ``uint8``, same shape and device, detached.

    Raises:
        ConfigurationError: If ``images`` is not a floating-point tensor.

    Example:
        >>> to_uint8(torch.tensor([-1.0, 0.0, 1.0, 2.0])).tolist()
        [0, 128, 255, 255]
    """
    if not isinstance(images, Tensor) or not images.is_floating_point():
        raise invalid("images", "a floating-point tensor in [-1, 1]",
                      images.dtype if isinstance(images, Tensor) else type(images).__name__)
    return ((images.detach().float() + 1.0) * 127.5).round_().clamp_(0, 255).to(torch.uint8)


def from_uint8(images: Tensor) -> Tensor:
    """``uint8`` pixels (0..255) as float32 in ``[-1, 1]``; the inverse of :func:`to_uint8` on its grid.

    Args:
        images: ``uint8`` tensor of any shape.

    Returns:
        ``u / 127.5 - 1`` as float32 (``0 -> -1``, ``255 -> 1``), same shape and device.

    Raises:
        ConfigurationError: If ``images`` is not a ``uint8`` tensor.

    Example:
        >>> from_uint8(torch.tensor([0, 255], dtype=torch.uint8)).tolist()
        [-1.0, 1.0]
    """
    if not isinstance(images, Tensor) or images.dtype != torch.uint8:
        raise invalid("images", "a uint8 tensor", images.dtype if isinstance(images, Tensor) else type(images).__name__)
    return images.float().div_(127.5).sub_(1.0)


def image_grid(images: Tensor, nrow: int = 8, padding: int = 2) -> Tensor:
    """Tile images in ``[-1, 1]`` into one ``uint8`` RGB grid.

    Values become pixels by :func:`to_uint8`; one-channel images become grey RGB. The grid has
    ``ceil(n / nrow)`` rows of ``min(n, nrow)`` images, with ``padding`` black pixels between and around them.

    Args:
        images: ``[n, C, H, W]`` tensor, ``n >= 1``, ``C`` 1 or 3.
        nrow: Images per row.
        padding: Pixels between images and at the border (>= 0).

    Returns:
        ``[3, rows * (H + padding) + padding, min(n, nrow) * (W + padding) + padding]`` ``uint8`` tensor
        on the CPU.

    Raises:
        ConfigurationError: If ``images`` is not ``[n, 1 or 3, H, W]``, or ``nrow`` or ``padding`` is bad.

    Example:
        >>> image_grid(torch.zeros(5, 1, 4, 4), nrow=4, padding=1).shape
        torch.Size([3, 11, 21])
    """
    if not isinstance(images, Tensor) or images.dim() != 4 or images.shape[1] not in (1, 3) or images.shape[0] == 0:
        shape = list(images.shape) if isinstance(images, Tensor) else type(images).__name__
        raise invalid("images", "a [n, C, H, W] tensor with n >= 1 and C 1 or 3", shape)
    check_positive_int("nrow", nrow)
    check_positive_int("padding", padding, 0)
    from torchvision.utils import make_grid

    return make_grid(to_uint8(images.cpu()), nrow=nrow, padding=padding, pad_value=0)


def write_png(grid: Tensor, path: str) -> str:
    """Write a ``uint8`` ``[C, H, W]`` image (``C`` 1 or 3) as a PNG, through a temporary file so that no
    half-written PNG is ever seen; parent folders are created.

    Args:
        grid: The image, e.g. from :func:`image_grid`.
        path: The file to write.

    Returns:
        ``path``.

    Raises:
        ConfigurationError: If ``grid`` is not a ``uint8`` ``[1 or 3, H, W]`` tensor.
    """
    if not isinstance(grid, Tensor) or grid.dtype != torch.uint8 or grid.dim() != 3 or grid.shape[0] not in (1, 3):
        what = (grid.dtype, list(grid.shape)) if isinstance(grid, Tensor) else type(grid).__name__
        raise invalid("grid", "a uint8 [C, H, W] tensor with C 1 or 3", what)
    from torchvision.io import write_png as _write

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp.{os.getpid()}"
    _write(grid.cpu().contiguous(), tmp)
    os.replace(tmp, path)
    return path


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _points(name: str, points: Any) -> Tensor:
    if not isinstance(points, Tensor) or points.dim() != 2 or points.shape[1] != 2:
        shape = list(points.shape) if isinstance(points, Tensor) else type(points).__name__
        raise invalid(name, "a [N, 2] tensor of 2-D points", shape)
    return points.detach().float().cpu()


def scatter_figure(
    fake: Tensor,
    real: Optional[Tensor] = None,
    critic: Optional[Callable[[Tensor], Tensor]] = None,
    bounds: Optional[Sequence[float]] = None,
    title: str = "",
    resolution: int = 128,
) -> Any:
    """Draw generated 2-D points, optionally over real points and the critic's output as filled contours.

    Args:
        fake: ``[M, 2]`` generated points (orange-red).
        real: ``[N, 2]`` real points (white, black edge), or None.
        critic: Maps ``[K, 2]`` to ``[K]`` (or ``[K, 1]``) outputs, drawn as 20 contour levels over ``bounds``
            (needs ``bounds``), or None.
        bounds: ``(xmin, xmax, ymin, ymax)``; None lets matplotlib choose (equal aspect either way).
        title: Figure title.
        resolution: Grid points per axis for the contour.

    Returns:
        A 5 x 5 inch matplotlib ``Figure`` (save it with :func:`save_figure`).

    Raises:
        ConfigurationError: If the points are not ``[N, 2]``, ``bounds`` is not four numbers, a critic is
            given without ``bounds``, or ``resolution`` is not a positive integer.
    """
    fake = _points("fake", fake)
    real = None if real is None else _points("real", real)
    check_positive_int("resolution", resolution)
    if bounds is not None and len(tuple(bounds)) != 4:
        raise invalid("bounds", "(xmin, xmax, ymin, ymax)", bounds)
    if critic is not None and bounds is None:
        raise invalid("bounds", "(xmin, xmax, ymin, ymax) when a critic is drawn", bounds)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    if critic is not None and bounds is not None:
        xmin, xmax, ymin, ymax = (float(b) for b in bounds)
        gx, gy = torch.meshgrid(torch.linspace(xmin, xmax, resolution), torch.linspace(ymin, ymax, resolution),
                                indexing="xy")
        with torch.no_grad():
            values = critic(torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1))
        values = values.reshape(resolution, resolution).float().cpu()
        cs = ax.contourf(gx.numpy(), gy.numpy(), values.numpy(), levels=20, cmap="viridis", alpha=0.6)
        fig.colorbar(cs, ax=ax, fraction=0.046, pad=0.04, label="critic output")
    if real is not None:
        ax.scatter(real[:, 0], real[:, 1], s=2, c="white", edgecolors="black", linewidths=0.2, label="real")
    ax.scatter(fake[:, 0], fake[:, 1], s=2, c="orangered", label="generated")
    if bounds is not None:
        ax.set_xlim(float(bounds[0]), float(bounds[1]))
        ax.set_ylim(float(bounds[2]), float(bounds[3]))
    ax.set_aspect("equal")
    if real is not None:
        ax.legend(loc="upper right", markerscale=4, fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def grid_figure(images: Tensor, title: str = "", nrow: int = 8) -> Any:
    """A titled figure of an image grid (:func:`image_grid` of ``images``, or a ready ``uint8`` grid).

    Args:
        images: ``[n, C, H, W]`` floats in ``[-1, 1]``, or a ``uint8`` ``[3, H, W]`` grid.
        title: Figure title (may hold several lines).
        nrow: Images per row when ``images`` is a batch.

    Returns:
        A 5 x 5.4 inch matplotlib ``Figure`` without axes.

    Raises:
        ConfigurationError: For images :func:`image_grid` refuses.
    """
    is_grid = isinstance(images, Tensor) and images.dtype == torch.uint8 and images.dim() == 3
    grid = images.cpu() if is_grid else image_grid(images, nrow=nrow)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 5.4), dpi=100)
    ax.imshow(grid.permute(1, 2, 0).numpy(), interpolation="nearest")
    ax.axis("off")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def save_figure(fig: Any, path: str) -> str:
    """Save a matplotlib figure (format from the file name) and close it; parent folders are created.

    Args:
        fig: The figure.
        path: The file to write.

    Returns:
        ``path``.
    """
    plt = _pyplot()
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path
