"""``ganmods generate``: samples from any checkpoint, without the training data.

    ganmods generate --ckpt last.ckpt --n 1000 --out samples.npy          # 2-D data: .npy or .csv + scatter PNG
    ganmods generate --ckpt last.ckpt --n 64 --out grid.png --grid        # images: one grid PNG
    ganmods generate --ckpt last.ckpt --n 100 --out images/               # images: one PNG per sample
    ganmods generate --ckpt last.ckpt --n 100 --out samples.pt            # any data: the raw tensor

Outputs are never half-written: each file is written to a temporary file in its folder and renamed into
place when complete (a full disk leaves any previous file untouched), and a folder of PNGs is filled as a
temporary sibling folder and renamed into place whole. ``--out`` must not exist unless ``--overwrite`` is
given. Samples are generated and written in chunks (``.npy``, ``.csv``, PNG folders), so ``--n`` is bounded
by the disk, checked before starting, not by memory; ``.pt`` files and grid PNGs hold every sample at once
and are refused above :data:`IN_MEMORY_LIMIT` bytes. A scatter PNG shows at most :data:`SCATTER_MAX` points.

The same samples through Lightning's ``predict`` (e.g. on several devices)::

    samples = torch.cat(trainer.predict(module, LatentSeeds(n=1000, seed=0).dataloader()))  # == sample(1000, 0)
"""

from __future__ import annotations

import argparse
import inspect
import math
import os
import re
import shutil
import sys
from collections.abc import Iterator
from typing import Any, Optional

import torch
from torch import Tensor

from ganmods.checkpoint import load_checkpoint
from ganmods.checkpoint_io import atomic_directory, atomic_path, atomic_write
from ganmods.errors import ConfigurationError, check_positive_int
from ganmods.images import image_grid, scatter_figure, to_uint8, write_png
from ganmods.sampling import LatentSeeds, batch_latents

__all__ = ["IN_MEMORY_LIMIT", "SCATTER_MAX", "LatentSeeds", "batch_latents", "generate", "generate_main",
           "sample_chunks"]

_TENSOR_EXT = (".pt", ".npy", ".csv", ".png")

#: Largest output (bytes of samples) written from one in-memory tensor: ``.pt`` files and grid PNGs.
IN_MEMORY_LIMIT = 2 * 1024**3
#: Most points drawn in a scatter PNG (the first ones; the data file holds all of them).
SCATTER_MAX = 100_000
#: Samples generated and written at a time (rounded to a multiple of ``module.sample``'s batch size).
CHUNK = 65_536
# Files a PNG folder written by ``generate`` holds (an existing folder is replaced only if it holds nothing else).
_OWN_FILES = re.compile(r"^(\d+\.png|samples\.npy|samples\.png)$")


def _check_writable(out: str) -> None:
    parent = out if out.endswith(os.sep) or os.path.isdir(out) else (os.path.dirname(os.path.abspath(out)) or ".")
    probe = parent
    while not os.path.exists(probe):  # the nearest existing ancestor must be writable
        probe = os.path.dirname(probe) or "."
    if not os.path.isdir(probe) or not os.access(probe, os.W_OK):
        raise ConfigurationError(f"out must be in a writable directory; got {out!r} ({probe!r} is not writable).")


def _existing_ancestor(path: str) -> str:
    probe = os.path.abspath(path)
    while not os.path.isdir(probe):
        probe = os.path.dirname(probe)
    return probe


def _out_taken(out: str) -> Optional[str]:
    """Why ``out`` may not be written without overwrite (None: it does not exist or is an empty folder)."""
    if os.path.isdir(out):
        return f"{out} (a folder that is not empty)" if os.listdir(out) else None
    return out if os.path.lexists(out) else None


def _taken_error(out: str, why: str, cli: bool) -> ConfigurationError:
    flag, hint = ("--out", "pass --overwrite") if cli else ("out", "pass overwrite=True")
    return ConfigurationError(f"{flag} must be a path that does not exist (or {hint}); got {why}.")


def _human(nbytes: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if nbytes < 1000 or unit == "TB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1000
    return f"{nbytes:.1f} TB"  # pragma: no cover


def _batch_size(module: Any) -> int:
    """The batch size ``module.sample`` generates with by default (chunks follow it, so results match)."""
    try:
        default = inspect.signature(module.sample).parameters["batch_size"].default
    except (KeyError, TypeError, ValueError):
        default = None
    return default if isinstance(default, int) and default > 0 else 4096


def sample_chunks(module: Any, n: int, seed: Optional[int] = 0, chunk: int = CHUNK) -> Iterator[tuple[int, Tensor]]:
    """``module.sample(n, seed)`` in consecutive chunks of rows, without holding all ``n`` samples or latents.

    The latents are drawn chunk by chunk from one generator seeded with ``seed`` (on CPU the same numbers
    as one draw of all ``n``: every chunk but the last is a multiple of 16 values, the last at least 16),
    and passed through the sampling network in the batches ``module.sample`` uses, so the concatenated
    chunks equal ``module.sample(n, seed)``.

    Args:
        module: A :class:`~ganmods.GANModule` (in eval mode, as :func:`~ganmods.load_checkpoint` returns it).
        n: Number of samples (>= 1).
        seed: Seed of the latents; ``None`` for fresh randomness.
        chunk: Rows per chunk (>= 1), rounded up to a multiple of ``module.sample``'s batch size.

    Yields:
        ``(start, samples)``: rows ``start:start + len(samples)``, on the CPU.

    Raises:
        ConfigurationError: If ``n`` or ``chunk`` is not a positive integer.

    Example:
        >>> import torch, ganmods  # doctest: +SKIP
        >>> module = ganmods.load_checkpoint("last.ckpt")  # doctest: +SKIP
        >>> torch.equal(torch.cat([c for _, c in sample_chunks(module, 10_000, 0, 4096)]),
        ...             module.sample(10_000, seed=0))  # doctest: +SKIP
        True
    """
    check_positive_int("n", n)
    check_positive_int("chunk", chunk)
    batch = _batch_size(module)
    chunk = math.ceil(chunk / batch) * batch
    rng = None if seed is None else torch.Generator(device=module.device).manual_seed(int(seed))
    start = 0
    while start < n:
        stop = min(n, start + chunk)
        if 0 < (n - stop) * module.latent_dim < 16:  # a tiny last draw would not continue the same numbers
            stop = n
        z = module.sample_latent(stop - start, generator=rng)
        with torch.no_grad():
            out = torch.cat([module.predict_step(part, 0) for part in z.split(batch)])
        yield start, out.detach().cpu()
        start = stop


def _save_scatter(points: Tensor, path: str, total: Optional[int] = None) -> None:
    import matplotlib.pyplot as plt

    shown = len(points) if total is None or total == len(points) else f"first {len(points)} of {total}"
    fig = scatter_figure(points, title=f"{shown} generated samples")
    with atomic_path(path) as tmp:
        fig.savefig(tmp)
    plt.close(fig)


def _needed_bytes(kind: str, n: int, shape: tuple[int, ...], itemsize: int) -> int:
    """A lower bound of the bytes an output takes on disk."""
    values = n * math.prod(shape)
    if kind == ".npy":
        return values * itemsize + 128
    if kind == ".pt":
        return values * itemsize
    if kind == ".csv":
        return values * 25  # "%.18e" is 24 characters at least, plus a separator
    return values // 4 + 64 * (n if kind == "pngs" else 1)  # PNG: raw uint8 pixels, compressed (roughly)


def _write_npy(chunks: Iterator[tuple[int, Tensor]], first: Tensor, n: int, path: str) -> None:
    import numpy as np

    array = first.numpy()
    header = {"descr": np.lib.format.dtype_to_descr(array.dtype), "fortran_order": False,
              "shape": (n, *array.shape[1:])}
    with atomic_write(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, header)  # the header np.save writes
        f.write(np.ascontiguousarray(array).tobytes())
        for _, chunk in chunks:
            f.write(np.ascontiguousarray(chunk.numpy()).tobytes())


def _write_csv(chunks: Iterator[tuple[int, Tensor]], first: Tensor, path: str) -> None:
    import numpy as np

    with atomic_write(path, "w") as f:
        f.write(",".join(f"x{i}" for i in range(first.shape[1])) + "\n")  # as np.savetxt(header=, comments="")
        np.savetxt(f, first.numpy(), delimiter=",")
        for _, chunk in chunks:
            np.savetxt(f, chunk.numpy(), delimiter=",")


def generate(ckpt: str, n: int, out: str, seed: Optional[int] = 0, grid: bool = False, overwrite: bool = False,
             chunk: int = CHUNK) -> list[str]:
    """Write ``n`` samples of a checkpoint's generator (the EMA copy when the run kept one).

    Every file is written atomically (a temporary file in its folder, renamed into place when complete);
    a folder of PNGs is filled as a temporary sibling folder and renamed into place whole. The samples are
    generated and written ``chunk`` at a time (:func:`sample_chunks`; equal to ``module.sample(n, seed)``).

    Args:
        ckpt: Path of a ganmods checkpoint.
        n: Number of samples.
        out: A file (``.pt``, ``.npy``, ``.csv`` for 2-D data, ``.png`` for an image grid or a 2-D scatter)
            or a directory (2-D data: ``samples.npy`` and ``samples.png``; images: one PNG per sample).
        seed: Seed of the latents (same seed, same samples); ``None`` for fresh randomness.
        grid: Write one grid PNG (images only; ``out`` must end in ``.png``).
        overwrite: Replace an existing ``out`` (a PNG folder only if it holds nothing but such files).
        chunk: Samples generated and written at a time.

    Returns:
        The paths written.

    Raises:
        ConfigurationError: On a missing or unusable checkpoint, ``n < 1``, an unwritable or unsupported
            output, an existing ``out`` without ``overwrite``, an output larger than the free disk space
            (or, for ``.pt`` and grids, than :data:`IN_MEMORY_LIMIT`), or ``--grid`` with 2-D data.
        OSError: If writing fails (a full disk): nothing is replaced, no partial file is left.
    """
    return _generate(ckpt, n, out, seed, grid, overwrite, chunk, cli=False)


def _generate(ckpt: str, n: int, out: str, seed: Optional[int], grid: bool, overwrite: bool, chunk: int,
              cli: bool) -> list[str]:
    check_positive_int("n", n)
    check_positive_int("chunk", chunk)
    is_dir = out.endswith(os.sep) or os.path.isdir(out) or not os.path.splitext(out)[1]
    ext = "" if is_dir else os.path.splitext(out)[1].lower()
    if ext and ext not in _TENSOR_EXT:
        raise ConfigurationError(f"out must be a directory or end in one of {list(_TENSOR_EXT)}; got {out!r}.")
    if grid and ext != ".png":
        raise ConfigurationError(f"out must end in .png with --grid; got {out!r}.")
    taken = _out_taken(out)
    if taken and not overwrite:
        raise _taken_error(out, taken, cli)
    _check_writable(out)
    module = load_checkpoint(ckpt)
    chunks = sample_chunks(module, n, seed, chunk)
    _, first = next(chunks)
    images = first.dim() == 4
    if ext == ".csv" and images:
        raise ConfigurationError(f"out must not be .csv for image samples; got {out!r} (use .pt, .npy or .png).")
    if grid and not images:
        raise ConfigurationError("--grid needs image samples; this checkpoint generates 2-D points (use .npy/.csv/.png).")
    if is_dir and images:
        kind, target = "pngs", out
    elif is_dir:
        kind, target = ".npy", os.path.join(out, "samples.npy")
    else:
        kind, target = ext, out
    scatter = os.path.splitext(target)[0] + ".png" if not images and kind in (".npy", ".csv") else None
    if not overwrite and scatter and os.path.lexists(scatter):
        raise _taken_error(out, f"{out} ({scatter} would be overwritten)", cli)
    if kind == "pngs" and overwrite and os.path.isdir(out):
        others = sorted(f for f in os.listdir(out) if not _OWN_FILES.match(f))
        if others:
            raise ConfigurationError(f"out must be a folder of generated PNGs to be overwritten; got {out!r}, which "
                                     f"also holds {others[0]!r} (choose another folder).")
    shape, itemsize = tuple(first.shape[1:]), first.element_size()
    whole = n * math.prod(shape) * itemsize
    if (kind == ".pt" or (kind == ".png" and images)) and whole > IN_MEMORY_LIMIT:
        raise ConfigurationError(
            f"out must be .npy (written in chunks) for {n} samples: a {kind} file holds all of them in memory "
            f"({_human(whole)}, more than the {_human(IN_MEMORY_LIMIT)} limit); got {out!r}."
        )
    need = _needed_bytes(kind if kind != ".png" else "png", n, shape, itemsize)
    folder = _existing_ancestor(os.path.dirname(os.path.abspath(target)) if kind != "pngs" else
                                os.path.dirname(os.path.abspath(out.rstrip(os.sep))))
    free = shutil.disk_usage(folder).free
    if need > free:
        raise ConfigurationError(f"n must fit the free disk space: {n} samples of shape {list(shape)} as {kind} "
                                 f"need at least {_human(need)}, {_human(free)} free in {folder}; got {n}.")

    written: list[str] = []
    if kind == "pngs":
        from torchvision.io import write_png as write_png_file  # inside a folder written atomically as a whole

        width = max(4, int(math.log10(n)) + 1)
        parent = os.path.dirname(os.path.abspath(out.rstrip(os.sep)))
        os.makedirs(parent, exist_ok=True)
        if os.path.isdir(out) and not os.listdir(out):
            os.rmdir(out)  # an empty folder given as out: replaced by the complete one
        with atomic_directory(out, overwrite=overwrite) as tmp:
            for start, part in _with_first(first, chunks):
                for i, img in enumerate(to_uint8(part)):
                    write_png_file(img, os.path.join(tmp, f"{start + i:0{width}d}.png"))
        return [os.path.join(out, f"{i:0{width}d}.png") for i in range(n)]
    os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
    kept: list[Tensor] = []  # the first SCATTER_MAX points for the scatter plot

    def keep(stream: Iterator[tuple[int, Tensor]]) -> Iterator[tuple[int, Tensor]]:
        for start, part in stream:
            if scatter and start < SCATTER_MAX:
                kept.append(part[: SCATTER_MAX - start])
            yield start, part

    stream = keep(_with_first(first, chunks))
    if kind == ".npy":
        _, head = next(stream)
        _write_npy(stream, head, n, target)
    elif kind == ".csv":
        _, head = next(stream)
        _write_csv(stream, head, target)
    else:
        samples = torch.cat([part for _, part in stream])
        if kind == ".pt":
            with atomic_write(target, "wb") as f:
                torch.save(samples, f)
        elif images:
            write_png(image_grid(samples, nrow=max(1, int(math.sqrt(n))), padding=2), target)
        else:
            _save_scatter(samples[:SCATTER_MAX], target, total=n)
    written.append(target)
    if scatter:
        _save_scatter(torch.cat(kept), scatter, total=n)
        written.append(scatter)
    return written


def _with_first(first: Tensor, rest: Iterator[tuple[int, Tensor]]) -> Iterator[tuple[int, Tensor]]:
    yield 0, first
    yield from rest


def generate_main(argv: list[str]) -> int:
    """The ``ganmods generate`` subcommand.

    Args:
        argv: Arguments after ``generate``.

    Returns:
        Exit status: 0, or 1 when writing failed (e.g. a full disk; printed as one line, nothing replaced).

    Raises:
        ConfigurationError: As :func:`generate` (``--out`` existing without ``--overwrite`` is checked first).
    """
    parser = argparse.ArgumentParser(prog="ganmods generate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", required=True, help="checkpoint path (any ganmods variant)")
    parser.add_argument("--n", type=int, required=True, help="number of samples")
    parser.add_argument("--out", required=True, help="output file (.pt/.npy/.csv/.png) or directory")
    parser.add_argument("--seed", type=int, default=0, help="latent seed (default 0)")
    parser.add_argument("--grid", action="store_true", help="one image grid (out must end in .png)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    args = parser.parse_args(argv)
    try:
        paths = _generate(args.ckpt, args.n, args.out, args.seed, args.grid, args.overwrite, CHUNK, cli=True)
    except OSError as err:
        print(f"ganmods: error: {err}", file=sys.stderr)
        return 1
    for path in paths:
        print(path)
    return 0
