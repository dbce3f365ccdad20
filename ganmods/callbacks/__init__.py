"""Lightning callbacks."""

from ganmods.callbacks.samples import SampleGrid, image_grid
from ganmods.callbacks.toy_plot import ToyPlot, plot_toy

__all__ = ["SampleGrid", "ToyPlot", "image_grid", "plot_toy"]
