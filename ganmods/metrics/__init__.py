"""Evaluation metrics."""

from ganmods.metrics.toy import mode_metrics

__all__ = ["mode_metrics"]
