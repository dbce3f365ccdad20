"""Data: the shared GANDataModule and the registered data sources behind it."""

from ganmods.data.datamodule import GANDataModule, ImageMetric
from ganmods.data.images import IMAGE_DATASETS
from ganmods.data.sources import DATA_SOURCES, DataSource, DistributionSource, ImageSource, register_source
from ganmods.data.stream import CriticBatches, ImageBatches, SampleBatches, StepChunks
from ganmods.data.two_domain import TwoDomainDataModule, TwoDomainSource, pair_images, unpair
from ganmods.data.toy import TOY_DATASETS, GaussianMixture, SwissRoll, make_toy
from ganmods.randomness import mix_seed

__all__ = ["DATA_SOURCES", "IMAGE_DATASETS", "TOY_DATASETS", "CriticBatches", "DataSource", "DistributionSource",
           "GANDataModule", "GaussianMixture", "ImageBatches", "ImageMetric", "ImageSource", "SampleBatches",
           "StepChunks", "SwissRoll", "TwoDomainDataModule", "TwoDomainSource", "make_toy", "mix_seed", "pair_images",
           "register_source", "unpair"]
