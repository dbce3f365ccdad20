"""Lightning callbacks."""

from ganmods.callbacks.checkpoints import GANCheckpoint, main_metric
from ganmods.callbacks.health import HealthMonitor, HealthWarning, mean_pairwise_distance
from ganmods.callbacks.performance import ChannelsLast, CompileNetworks
from ganmods.callbacks.samples import SampleGrid, image_grid
from ganmods.callbacks.toy_plot import ToyPlot, plot_toy

__all__ = ["ChannelsLast", "CompileNetworks", "GANCheckpoint", "HealthMonitor", "HealthWarning", "SampleGrid",
           "ToyPlot", "image_grid", "main_metric", "mean_pairwise_distance", "plot_toy"]
