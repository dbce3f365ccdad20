"""Train the digit classifier behind ``ImageMetrics(extractor="digits")`` and write its weights.

The recipe lives in :mod:`ganmods.metrics.classifier_training` (train split only, random shifts, feature
standardisation on the train split); this script is its ``--dataset digits`` call, kept for the command the
shipped file was made with::

    python scripts/train_digit_classifier.py --out ganmods/metrics/weights/digit_classifier.pt
"""

from __future__ import annotations

import sys
from typing import Optional

from ganmods.metrics.classifier_training import main as train_main


def main(argv: Optional[list[str]] = None) -> float:
    """Train on the bundled digits' train split and save the weights.

    Args:
        argv: The arguments of :func:`ganmods.metrics.classifier_training.main` without ``--dataset``.

    Returns:
        The held-out accuracy.
    """
    return train_main(["--dataset", "digits", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()
