"""A small CNN trained on the bundled digits: an offline feature space for "FID in digit space".

Inception features need a 90 MB download and describe natural photographs; for the bundled 8×8 digits
(:func:`ganmods.data.digits.load_digits`) a classifier trained on the digits themselves is both offline
and more telling. :class:`DigitClassifier` maps ``[N, 1, H, W]`` images in ``[-1, 1]`` (any square
``H = W >= 8``) to 10 logits; its penultimate 64-d layer (:meth:`DigitClassifier.features`) is the
feature space that ``ImageMetrics(extractor="digits")`` computes FID and KID in.

Working size: every input is resized to :data:`DIGIT_WORKING_SIZE` = 32 px first (bilinear,
``align_corners=False`` — the same resampling ``load_digits`` uses to upsample, so real digits at
32 px pass through unchanged; inputs above 32 px are downsampled with antialiasing). 32 px rather
than 16 so that the artefacts of generators trained at 32 px stay visible to the features.

The shipped weights (:data:`DIGIT_CLASSIFIER_WEIGHTS`, about 0.5 MB) were trained on the ``train``
split only (1500 images, random shifts of up to ±4 px at 32 px) by::

    python scripts/train_digit_classifier.py --out ganmods/metrics/weights/digit_classifier.pt

which prints the held-out accuracy (297 images never seen in training); the same recipe in
:mod:`ganmods.metrics.classifier_training` (``--dataset digits``) writes the same file, bit for bit.

The same network, trained by the same recipe on the 4000 training images of ``mnist5k``
(:mod:`ganmods.data.mnist5k`, served at 32 px as the data module serves them), is the feature space of
``ImageMetrics(extractor="mnist5k")`` (:data:`MNIST5K_CLASSIFIER_WEIGHTS`)::

    python -m ganmods.metrics.classifier_training --dataset mnist5k --out ganmods/metrics/weights/mnist5k_classifier.pt

It labels 980 of the 1000 held-out images (never seen in training) correctly: :data:`MNIST5K_HELD_OUT_ACCURACY`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganmods.errors import ConfigurationError, invalid

__all__ = [
    "CLASSIFIER_WEIGHTS",
    "DIGIT_CLASSIFIER_WEIGHTS",
    "DIGIT_FEATURE_DIM",
    "DIGIT_WORKING_SIZE",
    "MNIST5K_CLASSIFIER_WEIGHTS",
    "MNIST5K_HELD_OUT_ACCURACY",
    "DigitClassifier",
    "load_digit_classifier",
]

#: Side in pixels every input is resized to before the first convolution.
DIGIT_WORKING_SIZE = 32
#: Width of the penultimate layer, the feature space of ``ImageMetrics(extractor="digits")``.
DIGIT_FEATURE_DIM = 64
#: The shipped state dict, trained by ``scripts/train_digit_classifier.py`` on the train split.
DIGIT_CLASSIFIER_WEIGHTS = Path(__file__).resolve().parent / "weights" / "digit_classifier.pt"
#: The shipped state dict of ``ImageMetrics(extractor="mnist5k")``, trained on mnist5k's training split by
#: :mod:`ganmods.metrics.classifier_training`.
MNIST5K_CLASSIFIER_WEIGHTS = Path(__file__).resolve().parent / "weights" / "mnist5k_classifier.pt"
#: Accuracy of the shipped mnist5k classifier on mnist5k's 1000 held-out images (printed by its training run).
MNIST5K_HELD_OUT_ACCURACY = 0.98
#: Named classifier extractor (``ImageMetrics(extractor=...)``) -> its shipped weights.
CLASSIFIER_WEIGHTS = {"digits": DIGIT_CLASSIFIER_WEIGHTS, "mnist5k": MNIST5K_CLASSIFIER_WEIGHTS}


class DigitClassifier(nn.Module):
    """Three conv blocks and two linear layers; 10 digit logits, 64-d penultimate features.

    Layout at the 32 px working size: ``conv3x3(1→32)-ReLU-maxpool`` (16 px),
    ``conv3x3(32→64)-ReLU-maxpool`` (8 px), ``conv3x3(64→64)-ReLU-maxpool`` (4 px), flatten (1024),
    ``linear(1024→64)``, then ``ReLU-dropout(0.2)-linear(64→10)`` = the logits. No batch norm, so
    eval-mode outputs do not depend on the batch. The features are the ``linear(1024→64)`` outputs
    standardised per dimension by the buffers ``feature_mean`` / ``feature_std`` (set by the training
    script to the train split's statistics; identity for an untrained net), so that distances and KID's
    polynomial kernel see features of unit scale.

    Args:
        feature_dim: Width of the penultimate (feature) layer.

    Raises:
        ConfigurationError: If ``feature_dim`` is not an integer >= 1.

    Example:
        >>> net = DigitClassifier().eval()
        >>> net.features(torch.zeros(2, 1, 8, 8)).shape
        torch.Size([2, 64])
    """

    def __init__(self, feature_dim: int = DIGIT_FEATURE_DIM) -> None:
        super().__init__()
        if isinstance(feature_dim, bool) or not isinstance(feature_dim, int) or feature_dim < 1:
            raise invalid("feature_dim", "an integer >= 1", feature_dim)
        self.feature_dim = feature_dim
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(64 * (DIGIT_WORKING_SIZE // 8) ** 2, feature_dim),
        )
        self.head = nn.Sequential(nn.ReLU(), nn.Dropout(0.2), nn.Linear(feature_dim, 10))
        self.register_buffer("feature_mean", torch.zeros(feature_dim))
        self.register_buffer("feature_std", torch.ones(feature_dim))

    @staticmethod
    def to_working_size(x: Tensor) -> Tensor:
        """Check ``x`` and resize it to :data:`DIGIT_WORKING_SIZE`.

        Args:
            x: ``[N, 1, H, W]`` floats in ``[-1, 1]`` with ``H = W >= 8``.

        Returns:
            ``[N, 1, 32, 32]``: ``x`` itself at 32 px, else a bilinear resampling (antialiased when
            shrinking).

        Raises:
            ConfigurationError: For another shape or a non-floating dtype.
        """
        if not isinstance(x, Tensor) or x.dim() != 4 or x.shape[1] != 1 or x.shape[2] != x.shape[3] or x.shape[2] < 8:
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise invalid("images", "a [N, 1, H, W] tensor with H = W >= 8", shape)
        if not x.is_floating_point():
            raise invalid("images", "floating point in [-1, 1]", x.dtype)
        size = x.shape[-1]
        if size == DIGIT_WORKING_SIZE:
            return x
        return F.interpolate(
            x, size=(DIGIT_WORKING_SIZE, DIGIT_WORKING_SIZE), mode="bilinear", align_corners=False,
            antialias=size > DIGIT_WORKING_SIZE,
        )

    def features(self, x: Tensor) -> Tensor:
        """Penultimate features: the last linear layer's outputs, standardised by the stored statistics.

        Args:
            x: ``[N, 1, H, W]`` floats in ``[-1, 1]``, ``H = W >= 8``.

        Returns:
            ``[N, feature_dim]`` float features.

        Raises:
            ConfigurationError: For a wrong shape or dtype (see :meth:`to_working_size`).
        """
        return (self.body(self.to_working_size(x)) - self.feature_mean) / self.feature_std

    def forward(self, x: Tensor) -> Tensor:
        """Digit logits.

        Args:
            x: ``[N, 1, H, W]`` floats in ``[-1, 1]``, ``H = W >= 8``.

        Returns:
            ``[N, 10]`` logits.

        Raises:
            ConfigurationError: For a wrong shape or dtype (see :meth:`to_working_size`).
        """
        return self.head(self.body(self.to_working_size(x)))


def load_digit_classifier(weights_path: Optional[Union[str, os.PathLike]] = None) -> DigitClassifier:
    """A :class:`DigitClassifier` with trained weights, in eval mode, gradients off.

    Args:
        weights_path: A state dict saved from a :class:`DigitClassifier`; ``None`` loads the shipped
            :data:`DIGIT_CLASSIFIER_WEIGHTS`.

    Returns:
        The classifier, on the CPU.

    Raises:
        ConfigurationError: If the file is missing or is not a :class:`DigitClassifier` state dict.
    """
    path = Path(DIGIT_CLASSIFIER_WEIGHTS if weights_path is None else weights_path)
    if not path.is_file():
        raise invalid("weights_path", "an existing DigitClassifier state-dict file", str(path))
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        feature_dim = int(state["body.10.weight"].shape[0])
        net = DigitClassifier(feature_dim)
        net.load_state_dict(state)
    except Exception as exc:  # any unreadable or mismatched file is the caller's bad input
        raise ConfigurationError(
            f"weights_path must be a DigitClassifier state dict; got {str(path)!r} ({type(exc).__name__}: {exc})."
        ) from exc
    return net.eval().requires_grad_(False)
