"""Generator and critic networks."""

from ganmods.nets.cnn import CNN_SIZES, StandardCNNCritic, StandardCNNGenerator
from ganmods.nets.dcgan import DCGAN_SIZES, DCGANCritic, DCGANGenerator
from ganmods.nets.encoders import ConvEncoder, MLPEncoder
from ganmods.nets.joint import JointConvCritic, JointMLPCritic, join, split_joint
from ganmods.nets.mlp import NORMS, MLPCritic, MLPGenerator
from ganmods.nets.norm import CRITIC_NORMS, INITS, apply_spectral_norm, dcgan_init_, norm_layer
from ganmods.nets.resnet import RESNET_SIZES, ResNetCritic, ResNetGenerator
from ganmods.nets.translation import CriticPair, PatchCritic, ResNetTranslator, TranslatorPair

__all__ = [
    "CNN_SIZES", "CRITIC_NORMS", "DCGAN_SIZES", "INITS", "NORMS", "RESNET_SIZES", "ConvEncoder", "CriticPair",
    "DCGANCritic", "DCGANGenerator", "JointConvCritic", "JointMLPCritic", "MLPCritic", "MLPEncoder", "MLPGenerator",
    "PatchCritic", "ResNetCritic", "ResNetGenerator", "ResNetTranslator", "StandardCNNCritic", "StandardCNNGenerator",
    "TranslatorPair", "apply_spectral_norm", "dcgan_init_", "join", "norm_layer", "split_joint",
]
