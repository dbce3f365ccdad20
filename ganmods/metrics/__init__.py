"""Evaluation metrics, each declaring what it logs and which way is better (:mod:`ganmods.metrics.protocol`)."""

from ganmods.metrics.digits import CLASSIFIER_WEIGHTS, DigitClassifier, load_digit_classifier
from ganmods.metrics.fid import ImageMetrics, count_label
from ganmods.metrics.prdc import PRDC_HIGHER_IS_BETTER, PRDC_K_DC, PRDC_K_PR, PRDC_NAMES, prdc, with_prdc
from ganmods.metrics.protocol import REDUCTIONS, Metric, MetricSpec, direction, shipped_higher_is_better, spec_of
from ganmods.metrics.toy import ModeMetrics, mode_metrics

__all__ = ["CLASSIFIER_WEIGHTS", "PRDC_HIGHER_IS_BETTER", "PRDC_K_DC", "PRDC_K_PR", "PRDC_NAMES", "REDUCTIONS",
           "DigitClassifier", "ImageMetrics", "Metric", "MetricSpec", "ModeMetrics", "count_label", "direction",
           "load_digit_classifier", "mode_metrics", "prdc", "shipped_higher_is_better", "spec_of", "with_prdc"]
