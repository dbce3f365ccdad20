"""Lightning callbacks."""

from ganmods.callbacks.toy_plot import ToyPlot, plot_toy

__all__ = ["ToyPlot", "plot_toy"]
