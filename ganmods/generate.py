"""``ganmods generate``: samples from any checkpoint, without the training data.

    ganmods generate --ckpt last.ckpt --n 1000 --out samples.npy          # 2-D data: .npy or .csv + scatter PNG
    ganmods generate --ckpt last.ckpt --n 64 --out grid.png --grid        # images: one grid PNG
    ganmods generate --ckpt last.ckpt --n 100 --out images/               # images: one PNG per sample
    ganmods generate --ckpt last.ckpt --n 100 --out samples.pt            # any data: the raw tensor

The same samples through Lightning's ``predict`` (e.g. on several devices)::

    samples = torch.cat(trainer.predict(module, LatentSeeds(n=1000, seed=0).dataloader()))  # == sample(1000, 0)
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Mapping
from typing import Any, Optional

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from ganmods.checkpoint import load_checkpoint
from ganmods.errors import ConfigurationError, check_positive_int

__all__ = ["LatentSeeds", "batch_latents", "generate", "generate_main"]

_TENSOR_EXT = (".pt", ".npy", ".csv", ".png")


class LatentSeeds(Dataset):
    """The latents of ``module.sample(n, seed)`` in batches, for ``trainer.predict``.

    Each item is one batch, ``{"n": n, "seed": seed, "start": a, "stop": b}``; ``GANModule.predict_step``
    turns it into rows ``a:b`` of the latents ``sample(n, seed)`` draws, so the concatenated predictions
    equal ``sample(n, seed)`` (whatever the latent size or distribution, which the module knows).

    Args:
        n: Number of samples (>= 1).
        seed: Seed of the latents (an integer).
        batch_size: Samples per batch (>= 1).

    Raises:
        ConfigurationError: If ``n`` or ``batch_size`` is not a positive integer or ``seed`` not an integer.

    Example:
        >>> seeds = LatentSeeds(n=10, seed=3, batch_size=4)
        >>> len(seeds), seeds[2]
        (3, {'n': 10, 'seed': 3, 'start': 8, 'stop': 10})
    """

    def __init__(self, n: int, seed: int = 0, batch_size: int = 256) -> None:
        self.n = check_positive_int("n", n)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ConfigurationError(f"seed must be an integer; got {seed!r}.")
        self.seed = seed
        self.batch_size = check_positive_int("batch_size", batch_size)

    def __len__(self) -> int:
        """Number of batches."""
        return math.ceil(self.n / self.batch_size)

    def __getitem__(self, index: int) -> dict[str, int]:
        """Batch ``index`` as ``{"n", "seed", "start", "stop"}``.

        Args:
            index: Batch index in ``[0, len)``.

        Returns:
            The batch description.

        Raises:
            IndexError: Past the last batch.
        """
        if not 0 <= index < len(self):
            raise IndexError(f"batch index {index} out of range for {len(self)} batches")
        start = index * self.batch_size
        return {"n": self.n, "seed": self.seed, "start": start, "stop": min(self.n, start + self.batch_size)}

    def dataloader(self, **kwargs: Any) -> DataLoader:
        """A loader that yields the batches in order (``batch_size=None``: each item is a batch).

        Args:
            **kwargs: Further ``DataLoader`` arguments (e.g. ``num_workers``).

        Returns:
            The loader.
        """
        return DataLoader(self, batch_size=None, shuffle=False, **kwargs)


_LATENT_CACHE: dict[tuple[Any, ...], Tensor] = {}


def batch_latents(module: Any, batch: Any) -> Tensor:
    """The latents a predict batch stands for (used by ``GANModule.predict_step``).

    Args:
        module: A :class:`~ganmods.GANModule`.
        batch: Latents ``[B, latent_dim]`` (moved to the module's device), or an item of
            :class:`LatentSeeds` (rows ``start:stop`` of the latents ``sample(n, seed)`` draws; the full
            draw is kept for the following batches until the last one is served).

    Returns:
        ``[B, latent_dim]`` latents on the module's device.

    Raises:
        ConfigurationError: If ``batch`` is neither, or its latent size is wrong.
    """
    if isinstance(batch, Tensor):
        if not batch.is_floating_point() or batch.dim() != 2 or batch.shape[1] != module.latent_dim:
            raise ConfigurationError(
                f"batch must be float latents [B, {module.latent_dim}] or an item of LatentSeeds; got a "
                f"{batch.dtype} tensor of shape {list(batch.shape)}."
            )
        return batch.to(module.device)
    keys = ("n", "seed", "start", "stop")
    if not isinstance(batch, Mapping) or any(not isinstance(batch.get(k), int) for k in keys) or not (
        0 <= batch["start"] < batch["stop"] <= batch["n"]
    ):
        shown = dict(batch) if isinstance(batch, Mapping) else type(batch).__name__
        raise ConfigurationError(
            f"batch must be float latents [B, {module.latent_dim}] or an item of LatentSeeds "
            f"({{'n', 'seed', 'start', 'stop'}} with 0 <= start < stop <= n); got {shown!r}."
        )
    key = (batch["n"], batch["seed"], module.latent_dim, module.latent_distribution, str(module.device))
    if key not in _LATENT_CACHE:
        _LATENT_CACHE.clear()
        rng = torch.Generator(device=module.device).manual_seed(int(batch["seed"]))
        _LATENT_CACHE[key] = module.sample_latent(batch["n"], generator=rng)
    z = _LATENT_CACHE[key][batch["start"] : batch["stop"]]
    if batch["stop"] == batch["n"]:  # the last batch: let the draw go
        _LATENT_CACHE.pop(key)
    return z


def _check_writable(out: str) -> None:
    parent = out if out.endswith(os.sep) or os.path.isdir(out) else (os.path.dirname(os.path.abspath(out)) or ".")
    probe = parent
    while not os.path.exists(probe):  # the nearest existing ancestor must be writable
        probe = os.path.dirname(probe) or "."
    if not os.path.isdir(probe) or not os.access(probe, os.W_OK):
        raise ConfigurationError(f"out must be in a writable directory; got {out!r} ({probe!r} is not writable).")


def _save_scatter(points: Tensor, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    ax.scatter(points[:, 0], points[:, 1], s=2, c="orangered")
    ax.set_aspect("equal")
    ax.set_title(f"{len(points)} generated samples", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _to_uint8(images: Tensor) -> Tensor:
    return ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def generate(ckpt: str, n: int, out: str, seed: Optional[int] = 0, grid: bool = False) -> list[str]:
    """Write ``n`` samples of a checkpoint's generator (the EMA copy when the run kept one).

    Args:
        ckpt: Path of a ganmods checkpoint.
        n: Number of samples.
        out: A file (``.pt``, ``.npy``, ``.csv`` for 2-D data, ``.png`` for an image grid or a 2-D scatter)
            or a directory (2-D data: ``samples.npy`` and ``samples.png``; images: one PNG per sample).
        seed: Seed of the latents (same seed, same samples); ``None`` for fresh randomness.
        grid: Write one grid PNG (images only; ``out`` must end in ``.png``).

    Returns:
        The paths written.

    Raises:
        ConfigurationError: On a missing or unusable checkpoint, ``n < 1``, an unwritable or unsupported
            output, or ``--grid`` with 2-D data.
    """
    check_positive_int("n", n)
    is_dir = out.endswith(os.sep) or os.path.isdir(out) or not os.path.splitext(out)[1]
    ext = "" if is_dir else os.path.splitext(out)[1].lower()
    if ext and ext not in _TENSOR_EXT:
        raise ConfigurationError(f"out must be a directory or end in one of {list(_TENSOR_EXT)}; got {out!r}.")
    if grid and ext != ".png":
        raise ConfigurationError(f"out must end in .png with --grid; got {out!r}.")
    _check_writable(out)
    module = load_checkpoint(ckpt)
    samples = module.sample(n, seed=seed).detach().cpu()
    images = samples.dim() == 4
    if ext == ".csv" and images:
        raise ConfigurationError(f"out must not be .csv for image samples; got {out!r} (use .pt, .npy or .png).")
    if grid and not images:
        raise ConfigurationError("--grid needs image samples; this checkpoint generates 2-D points (use .npy/.csv/.png).")
    written: list[str] = []
    if is_dir:
        os.makedirs(out, exist_ok=True)
        if images:
            from torchvision.io import write_png

            width = max(4, int(math.log10(n)) + 1)
            for i, img in enumerate(_to_uint8(samples)):
                path = os.path.join(out, f"{i:0{width}d}.png")
                write_png(img, path)
                written.append(path)
            return written
        ext, out = ".npy", os.path.join(out, "samples.npy")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    if ext == ".pt":
        torch.save(samples, out)
    elif ext == ".npy":
        import numpy as np

        np.save(out, samples.numpy())
    elif ext == ".csv":
        import numpy as np

        header = ",".join(f"x{i}" for i in range(samples.shape[1]))
        np.savetxt(out, samples.numpy(), delimiter=",", header=header, comments="")
    elif images:
        from torchvision.utils import save_image

        save_image((samples + 1) / 2, out, nrow=max(1, int(math.sqrt(n))), padding=2)
    else:
        _save_scatter(samples, out)
    written.append(out)
    if not images and ext in (".npy", ".csv"):
        png = os.path.splitext(out)[0] + ".png"
        _save_scatter(samples, png)
        written.append(png)
    return written


def generate_main(argv: list[str]) -> int:
    """The ``ganmods generate`` subcommand.

    Args:
        argv: Arguments after ``generate``.

    Returns:
        Exit status (0).

    Raises:
        ConfigurationError: As :func:`generate`.
    """
    parser = argparse.ArgumentParser(prog="ganmods generate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", required=True, help="checkpoint path (any ganmods variant)")
    parser.add_argument("--n", type=int, required=True, help="number of samples")
    parser.add_argument("--out", required=True, help="output file (.pt/.npy/.csv/.png) or directory")
    parser.add_argument("--seed", type=int, default=0, help="latent seed (default 0)")
    parser.add_argument("--grid", action="store_true", help="one image grid (out must end in .png)")
    args = parser.parse_args(argv)
    for path in generate(args.ckpt, args.n, args.out, seed=args.seed, grid=args.grid):
        print(path)
    return 0
