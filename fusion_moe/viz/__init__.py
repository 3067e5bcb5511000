"""Pictures of samples and results; no training logic."""
from .sample_render import render_sample, stack_renders

__all__ = ['render_sample', 'stack_renders']
