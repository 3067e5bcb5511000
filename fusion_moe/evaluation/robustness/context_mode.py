"""Which driving context the routers of a model use, and overriding it for an evaluation.

The context bias of every MoE layer (``fusion_moe.models.moe.ContextBias``) has a mode: ``off``
(no bias), ``oracle`` (the context ids that come with the sample: scene metadata, or what the
degradation injector set, ``source='injected'``) or ``estimated`` (the layer's own context head;
the label is never read at test time). Every robustness result records the mode it ran with.
"""
from typing import Optional, Tuple

from torch import nn

from fusion_moe.models.moe import CONTEXT_BIAS_MODES, ContextBias

#: Recorded for models without any context bias (dense models, MoE with context_bias='off').
NO_CONTEXT_BIAS = 'off'


def context_biases(model: nn.Module):
    model = getattr(model, 'module', model)
    return [(name, m) for name, m in model.named_modules() if isinstance(m, ContextBias)]


def apply_context_mode(model: nn.Module, mode: Optional[str]) -> Tuple[str, str]:
    """Set every context bias of ``model`` to ``mode`` (None keeps the model's own).

    Returns ``(mode used, source)`` with source ``'model'`` or ``'--context-mode'``; a model
    without a context bias gives ``('off', 'model')``.
    Raises:
        ValueError: unknown mode; a model without context bias given a mode other than
            ``off``; ``estimated`` on a layer trained without a context estimator; layers in
            different modes when none is given.
    """
    if mode is not None and mode not in CONTEXT_BIAS_MODES:
        raise ValueError(f'--context-mode must be one of {CONTEXT_BIAS_MODES}, got {mode!r}')
    biases = context_biases(model)
    if not biases:
        if mode not in (None, 'off'):
            raise ValueError(f'--context-mode {mode}: the model has no context bias (no MoE '
                             'layer with context_bias); only "off" applies to it')
        return NO_CONTEXT_BIAS, 'model'
    if mode is None:
        modes = sorted({bias.mode for _, bias in biases})
        if len(modes) != 1:
            raise ValueError(f'the model\'s context biases use different modes {modes}; '
                             'choose one with --context-mode')
        return modes[0], 'model'
    for name, bias in biases:
        if mode == 'estimated' and bias.estimator is None:
            raise ValueError(f'--context-mode estimated: {name} was built without a context '
                             "estimator (context_bias='oracle'); use oracle or off")
        bias.mode = mode
    return mode, '--context-mode'
