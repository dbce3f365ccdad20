"""The two evaluation references of every dataset: ``"val"`` (for anything that selects) and ``"test"`` (only
reported).

A comparison must never select on the data it reports: the best trial, the best checkpoint and the validation
curves are chosen on the validation reference, and the reported score is measured on the test reference,
which shares no real point and no generated point with it.

* **2-D sources** (:class:`~ganmods.data.sources.DistributionSource`), independent draws:

  - real points of split ``s`` are drawn with a generator seeded :func:`toy_reference_seed` of the data seed
    ``seed``: ``"val"`` ``seed + 7919`` (:data:`TOY_VAL_OFFSET`; the held-out set validation has always used),
    ``"test"`` ``mix_seed(seed, TEST_REFERENCE_TAG)``;
  - the generated points of split ``s`` come from the latents seeded :func:`latent_seed` of the evaluation seed
    ``eval_seed``: ``"val"`` ``eval_seed`` itself (the scores validation has always logged), ``"test"``
    ``mix_seed(eval_seed, TEST_LATENT_TAG)``.

* **Image sources** (:class:`~ganmods.data.sources.ImageSource`): the held-out split (the official test split
  of the torchvision sets, the fixed held-out split of ``digits``, ``mnist5k`` and ``folder``) is cut in two by
  :func:`held_out_halves`, a permutation seeded with :data:`EVAL_SPLIT_SEED` (it depends on the number of
  held-out images only, never on the run's seeds): its first ``ceil(n / 2)`` images are the validation half,
  the rest the test half. The generated images of each split come from the latents of :func:`latent_seed`,
  as for 2-D sources.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ganmods.errors import ConfigurationError, invalid
from ganmods.randomness import mix_seed

__all__ = ["EVAL_SPLITS", "EVAL_SPLIT_SEED", "TEST_LATENT_TAG", "TEST_REFERENCE_TAG", "TOY_VAL_OFFSET",
           "check_split", "held_out_halves", "latent_seed", "toy_reference_seed"]

#: The evaluation splits: ``"val"`` selects (best trial, best checkpoint, validation logs), ``"test"`` is reported.
EVAL_SPLITS = ("val", "test")
#: Seed of the permutation that halves an image dataset's held-out split.
EVAL_SPLIT_SEED = 0x5E1F_0001
#: 2-D sources: the validation points are drawn with ``data seed + TOY_VAL_OFFSET``.
TOY_VAL_OFFSET = 7_919
#: 2-D sources: the test points are drawn with ``mix_seed(data seed, TEST_REFERENCE_TAG)``.
TEST_REFERENCE_TAG = 0x7E57_DA7A
#: The test split's generated samples come from ``mix_seed(eval_seed, TEST_LATENT_TAG)``.
TEST_LATENT_TAG = 0x7E57_1A7E


def check_split(split: Any) -> str:
    """Return ``split`` if it is one of :data:`EVAL_SPLITS`.

    Args:
        split: The value given.

    Returns:
        ``split``.

    Raises:
        ConfigurationError: Otherwise, naming ``split``, the allowed values and the value given.
    """
    if not isinstance(split, str) or split not in EVAL_SPLITS:
        raise invalid("split", "'val' (selects: best trial, best checkpoint, validation logs) or 'test' (only "
                      "reported)", split)
    return split


def latent_seed(eval_seed: int, split: str) -> int:
    """The seed of the fixed latents a split's generated samples are drawn from.

    Args:
        eval_seed: The data module's ``eval_seed``.
        split: ``"val"`` or ``"test"``.

    Returns:
        ``eval_seed`` for ``"val"``; ``mix_seed(eval_seed, TEST_LATENT_TAG)`` for ``"test"``.

    Raises:
        ConfigurationError: For another ``split``.

    Example:
        >>> latent_seed(1234, "val"), latent_seed(1234, "test") != 1234
        (1234, True)
    """
    check_split(split)
    return int(eval_seed) if split == "val" else mix_seed(int(eval_seed), TEST_LATENT_TAG)


def toy_reference_seed(seed: int, split: str) -> int:
    """The seed of a 2-D source's real points of a split (its held-out batches and its metric reference).

    Args:
        seed: The data module's ``seed`` (of the real data stream).
        split: ``"val"`` or ``"test"``.

    Returns:
        ``seed + 7919`` for ``"val"``; ``mix_seed(seed, TEST_REFERENCE_TAG)`` for ``"test"``.

    Raises:
        ConfigurationError: For another ``split``.
    """
    check_split(split)
    return int(seed) + TOY_VAL_OFFSET if split == "val" else mix_seed(int(seed), TEST_REFERENCE_TAG)


def held_out_halves(n: int, dataset: str = "the dataset") -> tuple[Tensor, Tensor]:
    """Cut ``n`` held-out images into a validation and a test half (fixed: seeded with :data:`EVAL_SPLIT_SEED`).

    Args:
        n: Number of held-out images (>= 2).
        dataset: The dataset's name, for the error message.

    Returns:
        ``(val_indices, test_indices)``: the first ``ceil(n / 2)`` and the last ``floor(n / 2)`` entries of the
        permutation; together every index once.

    Raises:
        ConfigurationError: If ``n`` < 2 (no image would be left for one of the halves).

    Example:
        >>> val, test = held_out_halves(5)
        >>> len(val), len(test), sorted(val.tolist() + test.tolist())
        (3, 2, [0, 1, 2, 3, 4])
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ConfigurationError(f"the held-out split of {dataset} must hold at least 2 images (one for the "
                                 f"validation half, one for the test half); got {n!r}.")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(EVAL_SPLIT_SEED))
    n_val = (n + 1) // 2
    return order[:n_val], order[n_val:]
