"""Pictures of samples and results; no training logic."""
from .routing_plots import plot_routing_statistics
from .sample_render import render_sample, stack_renders

__all__ = ['plot_routing_statistics', 'render_sample', 'stack_renders']
