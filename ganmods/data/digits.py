"""scikit-learn's bundled handwritten digits: real image data that needs no download.

1797 grey 8×8 digits (pixel values 0..16). One fixed split, shared by the data module, the metric
reference and the digit classifier: a permutation seeded with :data:`DIGITS_SPLIT_SEED`, the first
:data:`DIGITS_TRAIN_SIZE` images for training, the remaining 297 held out.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ganmods.errors import invalid

__all__ = ["DIGITS_SPLITS", "DIGITS_SPLIT_SEED", "DIGITS_TRAIN_SIZE", "load_digits"]

#: Seed of the fixed train / held-out permutation.
DIGITS_SPLIT_SEED = 0
#: Images in the training split (the other 297 of the 1797 are held out).
DIGITS_TRAIN_SIZE = 1500
#: Split names accepted by :func:`load_digits`.
DIGITS_SPLITS = ("train", "held_out", "all")


def load_digits(split: str = "train", image_size: int = 8, with_labels: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """The bundled digits as ``[N, 1, image_size, image_size]`` floats in ``[-1, 1]``.

    Args:
        split: ``"train"`` (1500 images), ``"held_out"`` (297) or ``"all"`` (1797, original order).
        image_size: Side in pixels; 8 is the native size, larger sizes are bilinear upsamplings.
        with_labels: Also return the digit labels ``[N]`` (int64).

    Returns:
        The images, or ``(images, labels)`` when ``with_labels``.

    Raises:
        ConfigurationError: For an unknown split or an ``image_size`` below 8.

    Example:
        >>> load_digits("held_out", image_size=16).shape
        torch.Size([297, 1, 16, 16])
    """
    if split not in DIGITS_SPLITS:
        raise invalid("split", f"one of {list(DIGITS_SPLITS)}", split)
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 8:
        raise invalid("image_size", "an integer >= 8 for the digits dataset", image_size)
    from sklearn.datasets import load_digits as _sklearn_digits

    bunch = _sklearn_digits()
    images = torch.as_tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 8.0 - 1.0
    labels = torch.as_tensor(bunch.target, dtype=torch.int64)
    if split != "all":
        order = torch.randperm(len(images), generator=torch.Generator().manual_seed(DIGITS_SPLIT_SEED))
        keep = order[:DIGITS_TRAIN_SIZE] if split == "train" else order[DIGITS_TRAIN_SIZE:]
        images, labels = images[keep], labels[keep]
    if image_size != 8:
        images = F.interpolate(images, size=(image_size, image_size), mode="bilinear", align_corners=False)
        images = images.clamp_(-1.0, 1.0)
    return (images, labels) if with_labels else images
