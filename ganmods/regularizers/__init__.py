"""Regularizers: small objects the training loop calls at fixed points of its steps.

* :meth:`Regularizer.penalty` — a term added to the critic loss (gradient penalty, R1, R2), computed
  lazily every ``every`` critic steps;
* :meth:`Regularizer.generator_penalty` — a term added to the generator loss;
* :meth:`Regularizer.after_critic_step` — runs after every critic optimizer step (weight clipping);
* :meth:`Regularizer.transform` — transforms critic inputs, real and fake alike (instance noise,
  differentiable augmentation).

They compose as a list, so "RaSGAN + GP" is one extra line of YAML.

Every class is recorded under this package's path (``ganmods.regularizers.R1``), not under the file that
defines it, so configs and checkpoints name classes by the public path and survive moves between files.
"""

from ganmods.regularizers.augment import AUGMENT_POLICIES, DiffAugment
from ganmods.regularizers.base import Regularizer
from ganmods.regularizers.clipping import WeightClipping
from ganmods.regularizers.noise import NOISE_SCHEDULES, InstanceNoise
from ganmods.regularizers.penalties import R1, R2, GradientPenalty, gradient_penalty, squared_gradient_penalty

__all__ = [
    "AUGMENT_POLICIES",
    "NOISE_SCHEDULES",
    "R1",
    "R2",
    "DiffAugment",
    "GradientPenalty",
    "InstanceNoise",
    "Regularizer",
    "WeightClipping",
    "gradient_penalty",
    "squared_gradient_penalty",
]

for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type) or callable(_obj):
        _obj.__module__ = __name__
del _name, _obj
