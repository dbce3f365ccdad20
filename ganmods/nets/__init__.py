"""Generator and critic networks."""

from ganmods.nets.cnn import CNN_SIZES, StandardCNNCritic, StandardCNNGenerator
from ganmods.nets.dcgan import DCGAN_SIZES, DCGANCritic, DCGANGenerator
from ganmods.nets.mlp import NORMS, MLPCritic, MLPGenerator
from ganmods.nets.norm import CRITIC_NORMS, INITS, apply_spectral_norm, dcgan_init_, norm_layer
from ganmods.nets.resnet import RESNET_SIZES, ResNetCritic, ResNetGenerator
from ganmods.nets.translation import CriticPair, PatchCritic, ResNetTranslator, TranslatorPair

__all__ = [
    "CNN_SIZES", "CRITIC_NORMS", "DCGAN_SIZES", "INITS", "NORMS", "RESNET_SIZES", "CriticPair", "DCGANCritic",
    "DCGANGenerator", "MLPCritic", "MLPGenerator", "PatchCritic", "ResNetCritic", "ResNetGenerator", "ResNetTranslator",
    "TranslatorPair", "StandardCNNCritic", "StandardCNNGenerator",
    "apply_spectral_norm", "dcgan_init_", "norm_layer",
]
