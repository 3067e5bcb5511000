"""spconv 2.3.8 on torch >= 2.9: ``SparseConvTensor.dense()`` indexes with a list of tensors.

``spconv.pytorch.core.scatter_nd`` writes ``ret[slices] = ...`` with ``slices`` a *list* of
index tensors plus ``Ellipsis``. Old torch read a list like a tuple (with a deprecation warning);
torch 2.9+ reads it as one tensor index and raises ``IndexError``, so every model that turns a
sparse tensor into a dense BEV map (mmdet3d's ``SparseEncoder``) fails. The replacement below is
the same function with a tuple index; ``dense()`` looks ``scatter_nd`` up in the module at call
time, so patching the module attribute is enough.
"""
import torch


def scatter_nd(indices: torch.Tensor, updates: torch.Tensor, shape) -> torch.Tensor:
    """Dense tensor of ``shape`` with ``updates`` at ``indices`` ((..., ndim) integer rows),
    zeros elsewhere (spconv's semantics: no accumulation of repeated indices)."""
    ret = torch.zeros(*shape, dtype=updates.dtype, device=updates.device)
    ndim = indices.shape[-1]
    output_shape = list(indices.shape[:-1]) + list(shape[ndim:])
    flat = indices.view(-1, ndim)
    ret[tuple(flat[:, i] for i in range(ndim)) + (Ellipsis, )] = updates.view(*output_shape)
    return ret


def apply() -> bool:
    """Patch ``spconv.pytorch.core.scatter_nd``. Returns False if spconv is not installed."""
    try:
        from spconv.pytorch import core
    except ImportError:
        return False
    core.scatter_nd = scatter_nd
    return True
