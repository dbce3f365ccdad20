"""ganmods: PyTorch Lightning modules for training and fairly comparing GANs."""

from ganmods import strategies  # noqa: F401  (registers the "gan_ddp" strategy name)
from ganmods.bigan import BiGAN
from ganmods.checkpoint import load_checkpoint
from ganmods.checkpoint_io import AtomicCheckpointIO
from ganmods.cyclegan import CycleGAN
from ganmods.data import GANDataModule
from ganmods.module import GANModule
from ganmods.variants import FGAN, SGAN, WGAN, WGANGP, RaGAN

__version__ = "0.1.0"

__all__ = [
    "AtomicCheckpointIO", "BiGAN", "CycleGAN", "FGAN", "GANDataModule", "GANModule", "RaGAN", "SGAN", "WGAN", "WGANGP",
    "__version__", "load_checkpoint",
]
