"""Evaluation metrics."""

from ganmods.metrics.digits import DigitClassifier, load_digit_classifier
from ganmods.metrics.fid import ImageMetrics, count_label
from ganmods.metrics.toy import mode_metrics

__all__ = ["DigitClassifier", "ImageMetrics", "count_label", "load_digit_classifier", "mode_metrics"]
