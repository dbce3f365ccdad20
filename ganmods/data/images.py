"""Image datasets for :class:`~ganmods.data.GANDataModule`: ``digits``, ``mnist5k``, ``mnist``,
``fashion_mnist``, ``cifar10``, ``celeba`` and ``folder``.

Every source is loaded once into memory as uint8 ``[N, C, H, W]`` at the requested ``image_size`` and
``channels`` (batches are converted to float in ``[-1, 1]`` when served). Non-square images (CelebA's
178×218, a folder's photos) are centre-cropped to a square first. ``channels`` defaults to the dataset's
own (1 for the digit sets, 3 for CIFAR-10, CelebA and folders); grey → RGB replicates the grey value,
RGB → grey uses the luminance ``0.299 R + 0.587 G + 0.114 B`` (see :mod:`ganmods.data.folder`).

Each dataset has a training split and a held-out split: the official test split of MNIST, Fashion-MNIST
and CIFAR-10, CelebA's official ``"test"`` partition, the fixed ``held_out`` splits of the bundled digits
and of ``mnist5k``, and a fixed seeded split of a folder (``held_out_fraction``). The held-out split is cut
into two fixed halves (:mod:`ganmods.data.splits`): the validation reference (validation, best checkpoint,
best trial) and the test reference (only reported).

The torchvision sets are read with torchvision's dataset classes from ``root`` (default ``"data"``); they
are downloaded only when asked (``download=True``, in :meth:`GANDataModule.prepare_data`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from torch import Tensor

from ganmods.errors import ConfigurationError, invalid

__all__ = ["DEFAULT_ROOT", "IMAGE_DATASETS", "ImageDataset", "check_channels", "check_image_options",
           "check_image_size", "download_images", "load_images", "missing_files", "not_found", "source_key"]

#: Where the torchvision sets are looked for when no ``root`` is given.
DEFAULT_ROOT = "data"


@dataclass(frozen=True)
class ImageDataset:
    """What is known about an image dataset before loading it.

    Args:
        channels: Native channel count (the default ``channels``).
        image_size: Default side in pixels (``None``: the user must choose).
        held_out_split: Name of the split used as held-out data (for messages and cache keys).
        folder: Folder under ``root`` that holds the files (``None``: no fixed layout).
        files: Files (a trailing ``/`` marks a folder) expected in ``folder``.
        torchvision_class: Name of the ``torchvision.datasets`` class that reads it (``None``: not a
            torchvision set).
    """

    channels: int
    image_size: Optional[int]
    held_out_split: str
    folder: Optional[str] = None
    files: tuple[str, ...] = ()
    torchvision_class: Optional[str] = None


_MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                "t10k-labels-idx1-ubyte")

#: Image dataset names and what is known about them.
IMAGE_DATASETS: dict[str, ImageDataset] = {
    "digits": ImageDataset(1, 32, "held_out"),
    "mnist5k": ImageDataset(1, 32, "held_out"),
    "mnist": ImageDataset(1, 32, "test", "MNIST/raw", _MNIST_FILES, "MNIST"),
    "fashion_mnist": ImageDataset(1, 32, "test", "FashionMNIST/raw", _MNIST_FILES, "FashionMNIST"),
    "cifar10": ImageDataset(3, 32, "test", "cifar-10-batches-py",
                            tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch", "batches.meta"), "CIFAR10"),
    "celeba": ImageDataset(3, 64, "test", "celeba",
                           ("img_align_celeba/", "list_eval_partition.txt", "identity_CelebA.txt",
                            "list_attr_celeba.txt", "list_bbox_celeba.txt", "list_landmarks_align_celeba.txt"),
                           "CelebA"),
    "folder": ImageDataset(3, None, "held_out"),
}

def check_image_options(name: str, options: Optional[dict[str, Any]]) -> dict[str, Any]:
    """Validate ``dataset_options`` for an image dataset and fill in defaults (the dataset's source class
    decides: :meth:`~ganmods.data.sources.ImageSource.check_options`). Only ``folder`` takes options:
    ``held_out_fraction`` (a number in ``(0, 1)``, default 0.1).

    Args:
        name: Image dataset name.
        options: The options given (or ``None``).

    Returns:
        The complete options.

    Raises:
        ConfigurationError: For an unknown option or a bad value.
    """
    return _source_class(name).check_options(name, options)


def _source_class(name: str) -> Any:
    from ganmods.data.sources import DATA_SOURCES, ImageSource

    cls = DATA_SOURCES.get(name)
    if cls is None or not issubclass(cls, ImageSource):
        image_names = sorted(n for n, c in DATA_SOURCES.items() if issubclass(c, ImageSource))
        raise invalid("dataset", f"one of the image datasets {image_names}", name)
    return cls


def _source(name: str, root: Optional[str] = None, **arguments: Any) -> Any:
    cls = _source_class(name)
    return cls(name, root=root if cls.root_use != "never" else None, **arguments)


def source_key(name: str, root: Optional[str], options: dict[str, Any]) -> str:
    """A string naming where the images come from (part of the metric's cache key; the dataset's source
    class decides: :meth:`~ganmods.data.sources.ImageSource.source_key`).

    Args:
        name: Image dataset name.
        root: The ``root`` argument.
        options: Options from :func:`check_image_options`.

    Returns:
        ``name`` for the fixed datasets; for ``folder`` also its absolute path and held-out fraction.
    """
    return _source(name, root=root, options=options, image_size=8).source_key()


def missing_files(name: str, root: str) -> list[str]:
    """The files of a torchvision set that are not under ``root``.

    Args:
        name: A dataset of :data:`IMAGE_DATASETS` with a file list.
        root: The data folder.

    Returns:
        The missing entries of ``IMAGE_DATASETS[name].files``.
    """
    info = IMAGE_DATASETS[name]
    base = Path(root, info.folder or "")
    return [f for f in info.files if not (base / f.rstrip("/")).exists()]


def not_found(name: str, root: str, reason: str) -> ConfigurationError:
    """The error for a torchvision set that cannot be read from ``root``: names ``root``, the folder and
    files expected, and the two ways out (``download: true``, or a ``root`` that holds them).

    Args:
        name: The dataset.
        root: The data folder.
        reason: What went wrong.

    Returns:
        The error (to raise).
    """
    info = IMAGE_DATASETS[name]
    listed = ", ".join(info.files)
    return ConfigurationError(
        f"root must hold the {name} files; got {root!r}, where {reason}. Expected in "
        f"{os.path.join(root, info.folder or '')}: {listed}. Pass download: true to fetch them (needs "
        f"internet), or set root to a folder that already holds them."
    )


def download_images(name: str, root: Optional[str]) -> None:
    """Download a torchvision dataset into ``root`` with torchvision's own code (no-op for datasets with
    nothing to download, and for files already there). Needs internet (and ``gdown`` for CelebA).

    Args:
        name: Image dataset name.
        root: Target folder (``None``: :data:`DEFAULT_ROOT`).

    Raises:
        ConfigurationError: If the download fails.
    """
    if _source_class(name).downloadable:
        _source(name, root=root, download=True).prepare()


def load_images(name: str, split: str, root: Optional[str], image_size: int, channels: int,
                options: dict[str, Any]) -> Tensor:
    """Load one split of an image dataset into memory, never downloading (through its source class).

    Args:
        name: Image dataset name.
        split: ``"train"`` or ``"held_out"``.
        root: Data folder (the image folder for ``folder``; ``None``: :data:`DEFAULT_ROOT`).
        image_size: Output side in pixels.
        channels: Output channels, 1 or 3.
        options: Options from :func:`check_image_options`.

    Returns:
        uint8 ``[N, channels, image_size, image_size]``.

    Raises:
        ConfigurationError: If files are missing or unreadable, or ``split`` is unknown.
    """
    if split not in ("train", "held_out"):
        raise invalid("split", "'train' or 'held_out'", split)
    return _source(name, root=root, image_size=image_size, channels=channels, options=options).load_split(split)


def check_channels(channels: Any) -> int:
    """Return ``channels`` if it is 1 or 3.

    Args:
        channels: The value given.

    Returns:
        ``channels``.

    Raises:
        ConfigurationError: Otherwise.
    """
    if isinstance(channels, bool) or channels not in (1, 3) or not isinstance(channels, int):
        raise invalid("channels", "1 (grey) or 3 (RGB)", channels)
    return channels


def check_image_size(image_size: Any, name: str) -> int:
    """Return ``image_size`` if it is an integer >= 8.

    Args:
        image_size: The value given.
        name: Dataset name (for the message).

    Returns:
        ``image_size``.

    Raises:
        ConfigurationError: Otherwise.
    """
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 8:
        raise invalid("image_size", f"an integer >= 8 for dataset {name!r}", image_size)
    return image_size
