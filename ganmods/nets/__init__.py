"""Generator and critic networks."""

from ganmods.nets.mlp import NORMS, MLPCritic, MLPGenerator

__all__ = ["NORMS", "MLPCritic", "MLPGenerator"]
