"""Data: the shared GANDataModule and the datasets behind it."""

from ganmods.data.datamodule import GANDataModule, SampleBatches
from ganmods.data.toy import TOY_DATASETS, GaussianMixture, SwissRoll, make_toy

__all__ = ["TOY_DATASETS", "GANDataModule", "GaussianMixture", "SampleBatches", "SwissRoll", "make_toy"]
