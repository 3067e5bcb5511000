"""BEV maps <-> MoE tokens: the layout :meth:`MoELayer.forward_bev` / ``forward_maps`` route.

A (B, C, H, W) map becomes (B*H*W, C) tokens in (b, h, w) order with ``sample_ids`` (T,) = b.
Several modality maps on one grid become one token set, modality-major, then (b, h, w);
absent samples (``present`` False) are marked invalid. Frames and units are the maps' own
(DESIGN.md "BEV features"); nothing here resamples.
"""
from typing import Dict, List, Mapping, Sequence, Tuple

import torch
from torch import Tensor


def bev_to_tokens(x_BCHW: Tensor) -> Tuple[Tensor, Tensor]:
    """(B, C, H, W) -> ``(x_TD (B*H*W, C), sample_ids_T)``."""
    b, c, h, w = x_BCHW.shape
    x_TD = x_BCHW.permute(0, 2, 3, 1).reshape(b * h * w, c)
    sample_ids = torch.arange(b, device=x_BCHW.device).repeat_interleave(h * w)
    return x_TD, sample_ids


def tokens_to_bev(y_TD: Tensor, b: int, h: int, w: int) -> Tensor:
    """(B*H*W, C) in (b, h, w) order -> (B, C, H, W) (a view)."""
    return y_TD.view(b, h, w, -1).permute(0, 3, 1, 2)


def maps_to_tokens(maps: Mapping[str, Tuple[Tensor, Tensor]], modalities: Sequence[str]
                   ) -> Tuple[Tensor, Tensor, Tensor, Tensor, Tuple[int, int, int]]:
    """Stack modality maps into one token set.

    Args:
        maps: ``{modality: (map (B, C, H, W), present (B,) bool)}``, shared (B, H, W).
        modalities: the layer's router names; ``('all',)`` = one router for any name.
    Returns:
        ``(x_TD, modality_ids_T, sample_ids_T, valid_T, (B, H, W))`` with T = M*B*H*W.
    """
    names = list(maps)
    if not names:
        raise ValueError('forward_maps needs at least one modality map')
    shared_router = tuple(modalities) == ('all',)
    if not shared_router:
        unknown = [n for n in names if n not in modalities]
        if unknown:
            raise KeyError(f'maps for modalities {unknown} have no router; this layer '
                           f'routes {tuple(modalities)}')
    shapes = {n: tuple(maps[n][0].shape) for n in names}
    if len({(s[0],) + s[2:] for s in shapes.values()}) != 1:
        raise ValueError(f'modality maps must share (B, H, W): {shapes}')
    b, c, h, w = maps[names[0]][0].shape
    x_BCHW = torch.cat([maps[n][0] for n in names])
    x_TD = x_BCHW.permute(0, 2, 3, 1).reshape(-1, c)
    device = x_TD.device
    cells = h * w
    modality_ids = torch.cat([
        torch.full((b * cells,), 0 if shared_router else list(modalities).index(n),
                   dtype=torch.long, device=device) for n in names])
    sample_ids = torch.arange(b, device=device).repeat_interleave(cells).repeat(len(names))
    valid = torch.cat([maps[n][1].to(device=device, dtype=torch.bool)
                       .repeat_interleave(cells) for n in names])
    return x_TD, modality_ids, sample_ids, valid, (b, h, w)


def tokens_to_maps(y_TD: Tensor, names: List[str], b: int, h: int, w: int
                   ) -> Dict[str, Tensor]:
    """Inverse of :func:`maps_to_tokens` for the output: ``{name: (B, C_out, H, W)}``."""
    y_MBCHW = y_TD.view(len(names), b, h, w, -1).permute(0, 1, 4, 2, 3)
    return {n: y_MBCHW[i] for i, n in enumerate(names)}
