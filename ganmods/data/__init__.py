"""Data: the shared GANDataModule and the datasets behind it."""

from ganmods.data.datamodule import GANDataModule, ImageMetric
from ganmods.data.images import IMAGE_DATASETS
from ganmods.data.stream import CriticBatches, ImageBatches, SampleBatches, StepChunks
from ganmods.randomness import mix_seed
from ganmods.data.toy import TOY_DATASETS, GaussianMixture, SwissRoll, make_toy

__all__ = ["IMAGE_DATASETS", "TOY_DATASETS", "CriticBatches", "GANDataModule", "GaussianMixture", "ImageBatches",
           "ImageMetric", "SampleBatches", "StepChunks", "SwissRoll", "make_toy", "mix_seed"]
