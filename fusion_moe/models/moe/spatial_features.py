"""Input features for the three expert kinds, computed only for the tokens routed to them.

BEV tokens are the cells of a (B, D, H, W) map flattened as ``x.permute(0, 2, 3, 1)`` to
(B*H*W, D), so token ``t`` is cell ``(b, h, w)`` with ``t = (b * H + h) * W + w``.

- ``'ffn'``: the token itself, (n, D): a token-wise FFN expert.
- ``'local'``: its 3x3 neighbourhood (zero padded), (n, 9D). A linear layer on it *is* a 3x3
  convolution evaluated at that cell only, so a local expert = conv3x3 -> act -> conv1x1, at the
  cost of the routed cells only.
- ``'global'``: ``[x_t, mean of its pool x pool block, mean of its whole sample]``, (n, 3D):
  a large receptive field from pooled context.

Structured local/global roles follow the adaptive-fusion finding that specialised experts beat
interchangeable ones. Spatial kinds need ``spatial_shape = (B, H, W)``; point tokens use 'ffn'.
"""
from typing import Callable, Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

EXPERT_KINDS = ('ffn', 'local', 'global')
# Input channels of each kind as a multiple of D.
KIND_CHANNEL_MULTIPLIER: Dict[str, int] = {'ffn': 1, 'local': 9, 'global': 3}
# Row offset (in units of D) of the token's own features inside a kind's input: the centre tap
# of the 3x3 window for 'local', the first block for 'global'. Upcycling copies the dense FFN
# there, so a freshly upcycled expert of any kind computes the dense FFN.
KIND_CENTRE_OFFSET: Dict[str, int] = {'ffn': 0, 'local': 4, 'global': 0}


def _check_spatial(x_TD: Tensor, spatial_shape: Optional[Tuple[int, int, int]], kind: str):
    if spatial_shape is None:
        raise ValueError(f"expert kind {kind!r} needs spatial_shape=(B, H, W) of BEV tokens; "
                         "point tokens can only use 'ffn' experts")
    b, h, w = spatial_shape
    if b * h * w != x_TD.shape[0]:
        raise ValueError(f'spatial_shape {spatial_shape} does not match {x_TD.shape[0]} tokens')
    return b, h, w


def local_neighbourhood(x_TD: Tensor, token_ids_n: Tensor,
                        spatial_shape: Optional[Tuple[int, int, int]]) -> Tensor:
    """(n, 9D): the 3x3 neighbourhood of each token, row-major taps, zeros outside the map."""
    _, height, width = _check_spatial(x_TD, spatial_shape, 'local')
    num_tokens = x_TD.shape[0]
    row = (token_ids_n // width) % height
    col = token_ids_n % width
    dy, dx = torch.meshgrid(torch.arange(-1, 2, device=x_TD.device),
                            torch.arange(-1, 2, device=x_TD.device), indexing='ij')
    dy, dx = dy.reshape(1, 9), dx.reshape(1, 9)
    inside = ((row[:, None] + dy >= 0) & (row[:, None] + dy < height)
              & (col[:, None] + dx >= 0) & (col[:, None] + dx < width))
    neighbour = token_ids_n[:, None] + dy * width + dx
    neighbour = torch.where(inside, neighbour, torch.full_like(neighbour, num_tokens))
    x_pad = torch.cat([x_TD, x_TD.new_zeros(1, x_TD.shape[1])])
    rows = x_pad.index_select(0, neighbour.reshape(-1))
    return rows.view(token_ids_n.shape[0], 9 * x_TD.shape[1])


def global_context(x_TD: Tensor, token_ids_n: Tensor,
                   spatial_shape: Optional[Tuple[int, int, int]], pool: int = 8) -> Tensor:
    """(n, 3D): token, mean of its ``pool x pool`` block, and mean of its sample's map."""
    batch, height, width = _check_spatial(x_TD, spatial_shape, 'global')
    channels = x_TD.shape[1]
    x_BDHW = x_TD.view(batch, height, width, channels).permute(0, 3, 1, 2)
    block_BDhw = F.avg_pool2d(x_BDHW, pool, stride=pool, ceil_mode=True)
    sample_BD = x_BDHW.mean(dim=(2, 3))
    b = token_ids_n // (height * width)
    row = (token_ids_n // width) % height
    col = token_ids_n % width
    block = block_BDhw[b, :, row // pool, col // pool]
    return torch.cat([x_TD.index_select(0, token_ids_n), block, sample_BD[b]], dim=1)


def token_features(x_TD: Tensor) -> Callable[[Tensor], Tensor]:
    """The 'ffn' feature builder: the tokens' own rows."""
    return lambda token_ids_n: x_TD.index_select(0, token_ids_n)


def feature_builder(kind: str, x_TD: Tensor, spatial_shape: Optional[Tuple[int, int, int]],
                    global_pool: int) -> Callable[[Tensor], Tensor]:
    """A function ``token_ids (n,) -> (n, KIND_CHANNEL_MULTIPLIER[kind] * D)`` for ``kind``."""
    if kind == 'ffn':
        return token_features(x_TD)
    if kind == 'local':
        _check_spatial(x_TD, spatial_shape, kind)
        return lambda ids: local_neighbourhood(x_TD, ids, spatial_shape)
    if kind == 'global':
        _check_spatial(x_TD, spatial_shape, kind)
        return lambda ids: global_context(x_TD, ids, spatial_shape, global_pool)
    raise ValueError(f'unknown expert kind {kind!r}; expected one of {EXPERT_KINDS}')
