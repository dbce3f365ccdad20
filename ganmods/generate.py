"""``ganmods generate``: samples from any checkpoint, without the training data.

    ganmods generate --ckpt last.ckpt --n 1000 --out samples.npy          # 2-D data: .npy or .csv + scatter PNG
    ganmods generate --ckpt last.ckpt --n 64 --out grid.png --grid        # images: one grid PNG
    ganmods generate --ckpt last.ckpt --n 100 --out images/               # images: one PNG per sample
    ganmods generate --ckpt last.ckpt --n 100 --out samples.pt            # any data: the raw tensor
    ganmods generate --ckpt cyclegan.ckpt --direction AB --input photos/ --out translated/   # translate a folder
    ganmods generate --ckpt bigan.ckpt --encode images/ --out codes.npy   # encode a folder (BiGAN): [N, latent_dim]

Outputs are never half-written: each file is written to a temporary file in its folder and renamed into
place when complete (a full disk leaves any previous file untouched), and a folder of PNGs is filled as a
temporary sibling folder and renamed into place whole. ``--out`` must not exist unless ``--overwrite`` is
given. Samples are generated and written in chunks (``.npy``, ``.csv``, PNG folders), so ``--n`` is bounded
by the disk, checked before starting, not by memory; ``.pt`` files and grid PNGs hold every sample at once
and are refused above :data:`IN_MEMORY_LIMIT` bytes. A scatter PNG shows at most :data:`SCATTER_MAX` points.

Translation and encoding read every image file of a folder (:func:`~ganmods.data.folder.find_images`: flat or in
sub-folders, in sorted order), converted and resized to the checkpoint's data shape like the ``folder`` dataset.
``--direction AB|BA --input FOLDER`` needs a translation model (``translate(images, direction)``,
:class:`~ganmods.cyclegan.CycleGAN`) and writes one PNG per input into the ``--out`` folder, named after the input
(``x.jpg`` -> ``x.png``; ``sub/x.jpg`` -> ``sub__x.png``), the folder written whole (:func:`translate_folder`).
``--encode FOLDER`` needs an encoding model (``encode(x)``, :class:`~ganmods.bigan.BiGAN`) and writes the codes
``[N, latent_dim]`` as ``.npy`` or ``.pt``, or as ``.csv`` with the file (relative to the folder) in its first
column, rows in file order (:func:`encode_folder`).

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
from ganmods.errors import ConfigurationError, check_positive_int, invalid
from ganmods.images import from_uint8, image_grid, scatter_figure, to_uint8, write_png
from ganmods.sampling import LatentSeeds, batch_latents

__all__ = ["FOLDER_CHUNK", "IN_MEMORY_LIMIT", "SCATTER_MAX", "LatentSeeds", "batch_latents", "encode_folder",
           "generate", "generate_main", "sample_chunks", "translate_folder"]

_TENSOR_EXT = (".pt", ".npy", ".csv", ".png")

#: Largest output (bytes of samples) written from one in-memory tensor: ``.pt`` files and grid PNGs.
IN_MEMORY_LIMIT = 2 * 1024**3
#: Most points drawn in a scatter PNG (the first ones; the data file holds all of them).
SCATTER_MAX = 100_000
#: Samples generated and written at a time (rounded to a multiple of ``module.sample``'s batch size).
CHUNK = 65_536
#: Image files of a folder read, translated or encoded, and written at a time.
FOLDER_CHUNK = 256
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


def _image_folder(folder: Any, flag: str) -> list[Any]:
    """The image files of ``folder`` (sorted), refusing a missing folder or one without image files."""
    from ganmods.data.folder import IMAGE_EXTENSIONS, find_images
    from ganmods.data.two_domain import holds_images

    if not isinstance(folder, (str, os.PathLike)) or not os.path.isdir(folder):
        raise ConfigurationError(f"{flag} must be an existing folder of images; got {folder!r}.")
    if not holds_images(folder):
        endings = ", ".join(IMAGE_EXTENSIONS)
        raise ConfigurationError(f"{flag} must be a folder holding image files ({endings}), flat or in sub-folders; "
                                 f"got {os.fspath(folder)!r}, which holds none.")
    return find_images(folder)


def _checkpoint_image_shape(ckpt: str, flag: str) -> tuple[int, int, int]:
    """``(C, S, S)``: the image shape a checkpoint's model was trained on (its ``ganmods`` record)."""
    record = torch.load(ckpt, map_location="cpu", weights_only=True, mmap=True)
    shape = (record.get("ganmods") or {}).get("data_shape") if isinstance(record, dict) else None
    if not (isinstance(shape, (list, tuple)) and len(shape) == 3 and shape[0] in (1, 3) and shape[1] == shape[2]):
        raise ConfigurationError(f"{flag} needs a checkpoint of a model trained on square images with 1 or 3 channels "
                                 f"(the folder's images are converted to that shape); got one recording data shape "
                                 f"{None if shape is None else tuple(shape)} ({ckpt}).")
    return int(shape[0]), int(shape[1]), int(shape[2])


def _read_folder_images(files: list[Any], shape: tuple[int, int, int]) -> Tensor:
    from ganmods.data.folder import read_images

    return from_uint8(read_images(files, shape[1], shape[0]))


def translate_folder(ckpt: str, folder: str, out: str, direction: str = "AB", overwrite: bool = False,
                     chunk: int = FOLDER_CHUNK) -> list[str]:
    """Translate every image of a folder with a translation checkpoint (:class:`~ganmods.cyclegan.CycleGAN`) and
    write one PNG per image into the folder ``out``, written whole (a temporary sibling folder renamed into place).

    Args:
        ckpt: Path of a checkpoint of a model with ``translate(images, direction)``.
        folder: The images to translate (flat or in sub-folders; any size, converted to the checkpoint's image
            shape as the ``folder`` dataset does).
        out: The output folder: ``x.jpg`` becomes ``x.png``, ``sub/x.jpg`` becomes ``sub__x.png``.
        direction: ``"AB"`` (the images are of domain A) or ``"BA"``.
        overwrite: Replace an existing ``out`` (only a folder holding nothing but PNG files).
        chunk: Images read, translated and written at a time.

    Returns:
        The paths written, in the folder's file order.

    Raises:
        ConfigurationError: For an unknown ``direction``, an ``out`` that is not a folder path or exists without
            ``overwrite``, a missing or empty ``folder``, two inputs that would give one output name, or a
            checkpoint without ``translate`` or of non-image data.
        OSError: If writing fails (nothing is replaced, no partial folder is left).

    Example:
        >>> translate_folder("cyclegan.ckpt", "photos", "translated", direction="AB")  # doctest: +SKIP
        ['translated/0001.png', ...]
    """
    return _translate_folder(ckpt, folder, out, direction, overwrite, chunk, cli=False)


def _translate_folder(ckpt: str, folder: str, out: str, direction: str, overwrite: bool, chunk: int,
                      cli: bool) -> list[str]:
    from ganmods.nets.translation import check_direction

    check_direction(direction)
    check_positive_int("chunk", chunk)
    flag_out, flag_in = ("--out", "--input") if cli else ("out", "folder")
    if os.path.splitext(out.rstrip(os.sep))[1] and not os.path.isdir(out):
        raise ConfigurationError(f"{flag_out} must be a folder for the translations (one PNG per input image); got "
                                 f"{out!r}.")
    taken = _out_taken(out)
    if taken and not overwrite:
        raise _taken_error(out, taken, cli)
    if overwrite and os.path.isdir(out):
        others = sorted(f for f in os.listdir(out) if not f.lower().endswith(".png"))
        if others:
            raise ConfigurationError(f"{flag_out} must be a folder of PNG files to be overwritten; got {out!r}, which "
                                     f"also holds {others[0]!r} (choose another folder).")
    _check_writable(out)
    files = _image_folder(folder, flag_in)
    root = os.path.abspath(folder)
    names = ["__".join(os.path.splitext(os.path.relpath(os.path.abspath(f), root))[0].split(os.sep)) + ".png"
             for f in files]
    seen: dict[str, Any] = {}
    for name, f in zip(names, files):
        if name in seen:
            raise ConfigurationError(f"{flag_in} must not hold two images that give one output name; got "
                                     f"{str(seen[name])!r} and {str(f)!r} (both would be written as {name!r}).")
        seen[name] = f
    module = load_checkpoint(ckpt)
    translate = getattr(module, "translate", None)
    if not callable(translate):
        raise ConfigurationError(f"--ckpt must be a checkpoint of a translation model (with translate(images, "
                                 f"direction), e.g. ganmods.cyclegan.CycleGAN) to translate a folder; got one of "
                                 f"{type(module).__name__} ({ckpt}).")
    shape = _checkpoint_image_shape(ckpt, "--direction" if cli else "translate_folder")
    need = _needed_bytes("pngs", len(files), shape, 1)
    parent = os.path.dirname(os.path.abspath(out.rstrip(os.sep)))
    free = shutil.disk_usage(_existing_ancestor(parent)).free
    if need > free:
        raise ConfigurationError(f"{flag_in} must fit the free disk space once translated: {len(files)} images need at "
                                 f"least {_human(need)}, {_human(free)} free; got {folder!r}.")
    from torchvision.io import write_png as write_png_file

    os.makedirs(parent, exist_ok=True)
    if os.path.isdir(out) and not os.listdir(out):
        os.rmdir(out)  # an empty folder given as out: replaced by the complete one
    with atomic_directory(out, overwrite=overwrite) as tmp:
        for start in range(0, len(files), chunk):
            images = _read_folder_images(files[start:start + chunk], shape)
            for name, img in zip(names[start:start + chunk], to_uint8(translate(images, direction).cpu())):
                write_png_file(img, os.path.join(tmp, name))
    return [os.path.join(out, name) for name in names]


def encode_folder(ckpt: str, folder: str, out: str, overwrite: bool = False, chunk: int = FOLDER_CHUNK) -> list[str]:
    """Encode every image of a folder with an encoding checkpoint (:class:`~ganmods.bigan.BiGAN`'s ``encode``) and
    write the codes, one row per image in the folder's file order, atomically.

    Args:
        ckpt: Path of a checkpoint of a model with ``encode(x) -> [N, latent_dim]``.
        folder: The images (flat or in sub-folders; converted to the checkpoint's image shape as the ``folder``
            dataset does).
        out: ``.npy`` or ``.pt`` (the ``[N, latent_dim]`` float32 codes), or ``.csv`` (header ``file,z0,z1,...``;
            the file's path relative to ``folder`` first).
        overwrite: Replace an existing ``out``.
        chunk: Images read and encoded at a time.

    Returns:
        ``[out]``.

    Raises:
        ConfigurationError: For an ``out`` of another kind or existing without ``overwrite``, a missing or empty
            ``folder``, or a checkpoint without ``encode`` or of non-image data.
        OSError: If writing fails (nothing is replaced, no partial file is left).

    Example:
        >>> encode_folder("bigan.ckpt", "images", "codes.npy")  # doctest: +SKIP
        ['codes.npy']
    """
    return _encode_folder(ckpt, folder, out, overwrite, chunk, cli=False)


def _encode_folder(ckpt: str, folder: str, out: str, overwrite: bool, chunk: int, cli: bool) -> list[str]:
    import numpy as np

    check_positive_int("chunk", chunk)
    flag_out, flag_in = ("--out", "--encode") if cli else ("out", "folder")
    ext = os.path.splitext(out)[1].lower()
    if ext not in (".npy", ".pt", ".csv") or os.path.isdir(out):
        raise ConfigurationError(f"{flag_out} must end in .npy, .pt or .csv for the codes of a folder; got {out!r}.")
    taken = _out_taken(out)
    if taken and not overwrite:
        raise _taken_error(out, taken, cli)
    _check_writable(out)
    files = _image_folder(folder, flag_in)
    module = load_checkpoint(ckpt)
    encode = getattr(module, "encode", None)
    if not callable(encode):
        raise ConfigurationError(f"--ckpt must be a checkpoint of an encoding model (with encode(x), e.g. "
                                 f"ganmods.bigan.BiGAN) to encode a folder; got one of {type(module).__name__} "
                                 f"({ckpt}).")
    shape = _checkpoint_image_shape(ckpt, "--encode" if cli else "encode_folder")
    with torch.no_grad():
        codes = torch.cat([encode(_read_folder_images(files[start:start + chunk], shape)).detach().float().cpu()
                           for start in range(0, len(files), chunk)])
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    if ext == ".pt":
        with atomic_write(out, "wb") as f:
            torch.save(codes, f)
    elif ext == ".npy":
        with atomic_write(out, "wb") as f:
            np.save(f, codes.numpy())
    else:
        flat = codes.reshape(codes.shape[0], -1).numpy()
        root = os.path.abspath(folder)
        with atomic_write(out, "w") as f:
            f.write(",".join(["file"] + [f"z{i}" for i in range(flat.shape[1])]) + "\n")
            for path, row in zip(files, flat):
                rel = os.path.relpath(os.path.abspath(path), root).replace(os.sep, "/")
                f.write(",".join([_csv_field(rel)] + [repr(float(v)) for v in row]) + "\n")
    return [out]


def _csv_field(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\n') else text


def generate_main(argv: list[str]) -> int:
    """The ``ganmods generate`` subcommand.

    Args:
        argv: Arguments after ``generate``.

    Returns:
        Exit status: 0, or 1 when writing failed (e.g. a full disk; printed as one line, nothing replaced).

    Raises:
        ConfigurationError: As :func:`generate`, :func:`translate_folder` (``--direction``) or :func:`encode_folder`
            (``--encode``) (``--out`` existing without ``--overwrite`` is checked first); or for options of one mode
            given with another (``--n`` with ``--direction``, ``--input`` without it, ...) or a missing ``--n``.
    """
    parser = argparse.ArgumentParser(prog="ganmods generate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", required=True, help="checkpoint path (any ganmods variant)")
    parser.add_argument("--n", type=int, default=None, help="number of samples (not with --direction or --encode)")
    parser.add_argument("--out", required=True, help="output file (.pt/.npy/.csv/.png) or directory")
    parser.add_argument("--seed", type=int, default=None, help="latent seed (default 0)")
    parser.add_argument("--grid", action="store_true", help="one image grid (out must end in .png)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    parser.add_argument("--direction", default=None, help="translate --input with a translation checkpoint "
                        "(CycleGAN): AB (the images are of domain A) or BA; --out is a folder of PNGs")
    parser.add_argument("--input", default=None, metavar="FOLDER", help="the images to translate (with --direction)")
    parser.add_argument("--encode", default=None, metavar="FOLDER",
                        help="encode the images of FOLDER with an encoding checkpoint (BiGAN); --out .npy/.pt/.csv")
    args = parser.parse_args(argv)
    _check_mode(args)
    try:
        if args.direction is not None:
            paths = _translate_folder(args.ckpt, args.input, args.out, args.direction, args.overwrite, FOLDER_CHUNK,
                                      cli=True)
        elif args.encode is not None:
            paths = _encode_folder(args.ckpt, args.encode, args.out, args.overwrite, FOLDER_CHUNK, cli=True)
        else:
            seed = 0 if args.seed is None else args.seed
            paths = _generate(args.ckpt, args.n, args.out, seed, args.grid, args.overwrite, CHUNK, cli=True)
    except OSError as err:
        print(f"ganmods: error: {err}", file=sys.stderr)
        return 1
    for path in paths:
        print(path)
    return 0


def _check_mode(args: argparse.Namespace) -> None:
    """One of: sampling (``--n``), translating (``--direction`` with ``--input``) or encoding (``--encode``); the
    options of one refused with another."""
    if args.direction is not None and args.encode is not None:
        raise ConfigurationError(f"--encode must not be given with --direction (translate or encode, not both); got "
                                 f"--encode {args.encode!r}.")
    folder_mode = "--direction" if args.direction is not None else "--encode" if args.encode is not None else None
    if folder_mode is None:
        if args.input is not None:
            raise ConfigurationError(f"--direction must be given with --input (AB: the images are of domain A, or BA); "
                                     f"got none (--input {args.input!r}).")
        if args.n is None:
            raise ConfigurationError("--n must be given (the number of samples), unless --direction or --encode is; "
                                     "got none.")
        return
    for flag, value in (("--n", args.n), ("--seed", args.seed), ("--grid", args.grid or None)):
        if value is not None:
            raise invalid(flag, f"left out with {folder_mode} (every image of the folder is used, nothing is drawn)",
                          value)
    if folder_mode == "--direction" and args.input is None:
        raise ConfigurationError("--input must be given with --direction (the folder of images to translate); got "
                                 "none.")
    if folder_mode == "--encode" and args.input is not None:
        raise ConfigurationError(f"--input must be left out with --encode (--encode names the folder); got "
                                 f"{args.input!r}.")
