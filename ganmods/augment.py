"""Differentiable augmentation, kept importable here; it lives in :mod:`ganmods.regularizers.augment`."""

from ganmods.regularizers.augment import AUGMENT_POLICIES, DiffAugment

__all__ = ["AUGMENT_POLICIES", "DiffAugment"]
