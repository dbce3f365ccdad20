"""Image files on disk: find them in a folder, decode them with PIL, centre-crop and resize them.

Pixel conversions (the same for folders and CelebA): grey images become RGB by replicating the grey
value into the three channels; RGB images become grey by ITU-R 601-2 luminance,
``L = 0.299 R + 0.587 G + 0.114 B`` (PIL's ``"L"`` conversion); an alpha channel is dropped and palette
images are expanded. Every PNG bit depth is read: 1, 2 and 4-bit grey are scaled to 0-255, 16-bit
channels are rounded to 8 bits (``v / 257``). A non-square image is centre-cropped to a square of its
shorter side, then resized (bilinear, antialiased) to ``image_size``.

Refused with one line (a :class:`~ganmods.errors.ConfigurationError` naming the file): a file that cannot be
read (permissions, truncation, not an image), a broken link, something that is not a regular file (a pipe,
a device), a folder that cannot be listed, and an image of more than ``PIL.Image.MAX_IMAGE_PIXELS`` pixels
(PIL's guard against decompression bombs). Linked folders are followed, each real folder once (a link
loop ends there). The decoded images' memory is checked before it is allocated
(:func:`~ganmods.preflight.check_image_memory`).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from ganmods.errors import ConfigurationError, invalid
from ganmods.preflight import check_image_memory

__all__ = ["FOLDER_SPLIT_SEED", "IMAGE_EXTENSIONS", "find_images", "fit_images", "folder_split", "read_images"]

#: File name endings read as images (case-insensitive).
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
#: Seed of the fixed train / held-out split of a folder.
FOLDER_SPLIT_SEED = 0
_LUMA = (0.299, 0.587, 0.114)


def find_images(root: str | os.PathLike[str]) -> list[Path]:
    """Every image file under ``root`` (flat, or in class sub-folders at any depth), sorted by relative path.
    Hidden files and folders (names starting with ``.``) are skipped; linked folders are followed, each real
    folder once (so a link loop ends).

    Args:
        root: The folder.

    Returns:
        The paths, in a fixed order.

    Raises:
        ConfigurationError: If ``root`` is not a folder or holds no image file, if a folder under it cannot be
            listed, or if an image file name is a broken link or not a regular file.
    """
    base = Path(root)
    if not base.is_dir():
        raise invalid("root", "an existing folder of images for dataset 'folder'", str(root))

    def unlistable(err: OSError) -> None:
        raise ConfigurationError(f"image folder {err.filename!r} could not be listed: {err.strerror}.")

    found: list[Path] = []
    seen: set[tuple[int, int]] = set()
    for folder, dirs, files in os.walk(base, followlinks=True, onerror=unlistable):
        info = os.stat(folder)
        if (info.st_dev, info.st_ino) in seen:  # reached again through a link: already read
            dirs[:] = []
            continue
        seen.add((info.st_dev, info.st_ino))
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if name.startswith(".") or not name.lower().endswith(IMAGE_EXTENSIONS):
                continue
            path = Path(folder, name)
            _check_file(path)
            found.append(path)
    if not found:
        raise ConfigurationError(
            f"root must be a folder holding image files ({', '.join(IMAGE_EXTENSIONS)}), flat or in class "
            f"sub-folders, for dataset 'folder'; got {str(root)!r}, which holds none."
        )
    return sorted(found, key=lambda p: p.relative_to(base).as_posix())


def _check_file(path: Path) -> None:
    """A listed image file must be (a link to) a regular file."""
    import stat

    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise ConfigurationError(f"image file {str(path)!r} could not be read: it is a broken link (to "
                                 f"{os.readlink(path)!r}).") from None
    except OSError as err:  # a link loop, a permission on the way
        raise ConfigurationError(f"image file {str(path)!r} could not be read: {err.strerror}.") from None
    if not stat.S_ISREG(mode):
        raise ConfigurationError(f"image file {str(path)!r} could not be read: it is not a regular file.")


def folder_split(n: int, held_out_fraction: float) -> tuple[Tensor, Tensor]:
    """The fixed train / held-out split of ``n`` files (seeded with :data:`FOLDER_SPLIT_SEED`).

    Args:
        n: Number of files.
        held_out_fraction: Fraction held out, in ``(0, 1)``; the held-out count is ``round(fraction * n)``.

    Returns:
        ``(train_indices, held_out_indices)``.

    Raises:
        ConfigurationError: If the training part would be empty or fewer than two images would be held out (the
            held-out part is halved into the validation and test references, :mod:`ganmods.data.splits`).
    """
    n_held = int(round(held_out_fraction * n))
    if not 2 <= n_held < n:
        raise ConfigurationError(
            f"dataset_options.held_out_fraction must leave at least one training image and two held-out images "
            f"(one validation, one test); got {held_out_fraction!r} of {n} images ({n_held} held out)."
        )
    order = torch.randperm(n, generator=torch.Generator().manual_seed(FOLDER_SPLIT_SEED))
    return order[n_held:], order[:n_held]


def fit_images(images: Tensor, image_size: int, channels: int, chunk: int = 1024) -> Tensor:
    """Convert channels, centre-crop to a square and resize uint8 images.

    Args:
        images: uint8 ``[N, C, H, W]`` with ``C`` 1 or 3.
        image_size: Output side.
        channels: Output channels, 1 or 3 (see the module docstring for the conversions).
        chunk: Images processed at once (bounds the float memory).

    Returns:
        uint8 ``[N, channels, image_size, image_size]``.

    Raises:
        ConfigurationError: If the output (and one chunk's float copies) would not fit in memory.
    """
    check_image_memory(len(images), channels, image_size, chunk)
    out = []
    for part in images.split(chunk):
        x = part.float()
        if x.shape[1] == 1 and channels == 3:
            x = x.repeat(1, 3, 1, 1)
        elif x.shape[1] == 3 and channels == 1:
            x = torch.tensordot(x, torch.tensor(_LUMA), dims=([1], [0])).unsqueeze(1)
        h, w = x.shape[-2:]
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        x = x[..., top : top + side, left : left + side]
        if side != image_size:
            x = F.interpolate(x, size=(image_size, image_size), mode="bilinear", antialias=True, align_corners=False)
        out.append(x.round_().clamp_(0, 255).to(torch.uint8))
    if not out:
        return torch.empty(0, channels, image_size, image_size, dtype=torch.uint8)
    return torch.cat(out)


def _to_8bit(img: "Image.Image") -> "Image.Image":
    """32-bit integer and 16-bit grey images (PIL modes ``I``, ``I;16*``) as 8-bit grey (``v / 257``)."""
    import numpy as np
    from PIL import Image

    if not img.mode.startswith("I"):
        return img
    values = np.asarray(img, dtype=np.float64)
    return Image.fromarray(np.clip(np.rint(values / 257.0), 0, 255).astype(np.uint8), "L")


def _read_one(path: Path, image_size: int, channels: int) -> Tensor:
    from PIL import Image

    try:
        with Image.open(path) as img:
            limit = Image.MAX_IMAGE_PIXELS
            if limit is not None and img.width * img.height > limit:
                raise ConfigurationError(
                    f"image file {str(path)!r} must have at most {limit} pixels (PIL.Image.MAX_IMAGE_PIXELS, a "
                    f"guard against decompression bombs); got {img.width}x{img.height}.")
            img = _to_8bit(img).convert("L" if channels == 1 else "RGB")
    except Image.DecompressionBombError as err:
        raise ConfigurationError(f"image file {str(path)!r} must have at most {Image.MAX_IMAGE_PIXELS} pixels "
                                 f"(PIL.Image.MAX_IMAGE_PIXELS, a guard against decompression bombs); got a "
                                 f"larger one: {err}") from None
    except (OSError, ValueError, SyntaxError) as err:  # PIL's errors for unknown, truncated or corrupt files
        raise ConfigurationError(f"image file {str(path)!r} could not be read: {err}") from None
    pixels = torch.frombuffer(bytearray(img.tobytes()), dtype=torch.uint8)
    pixels = pixels.view(img.height, img.width, channels).permute(2, 0, 1)
    return fit_images(pixels.unsqueeze(0), image_size, channels)[0]


def read_images(paths: Sequence[Path], image_size: int, channels: int) -> Tensor:
    """Decode, centre-crop and resize image files (in parallel threads; the order of ``paths`` is kept).

    Args:
        paths: Image files.
        image_size: Output side.
        channels: Output channels, 1 or 3.

    Returns:
        uint8 ``[len(paths), channels, image_size, image_size]``.

    Raises:
        ConfigurationError: Naming the first file that cannot be read as an image (or that is too large), or
            when the decoded images would not fit in memory (checked first).
    """
    if not paths:
        return torch.empty(0, channels, image_size, image_size, dtype=torch.uint8)
    check_image_memory(len(paths), channels, image_size, chunk=1)
    workers = max(1, min(8, os.cpu_count() or 1, len(paths)))
    with ThreadPoolExecutor(workers) as pool:
        return torch.stack(list(pool.map(lambda p: _read_one(p, image_size, channels), paths)))
