"""Grouped experts: E two-layer FFNs stored as stacked weights (torchtitan's ``GroupedExperts``).

``y = act(x W1_e + b1_e) W2_e + b2_e`` with ``W1`` (E, D_in, F) and ``W2`` (E, F, D_out).
Three ways to run them, all on the same weights:

- :meth:`forward` on rows already sorted by expert (token choice): E ``addmm`` calls on
  contiguous slices, nothing else per expert.
- :meth:`forward_batched` on (E, C, D_in) (expert choice, soft MoE slots): two ``baddbmm``.
- :meth:`forward_expert` on one expert (the readable reference loop and upcycling use it).
"""
import math
from typing import Dict, List, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

ACTIVATIONS: Dict[str, callable] = {'gelu': F.gelu, 'relu': F.relu, 'silu': F.silu}


class GroupedFFNExperts(nn.Module):
    """E independent FFN experts.

    Args:
        num_experts: E.
        in_channels: D_in (D for token-wise experts, 9D for 3x3 local experts, ...).
        hidden_channels: F.
        out_channels: D_out.
        activation: hidden activation.
    """

    def __init__(self, num_experts: int, in_channels: int, hidden_channels: int,
                 out_channels: int, activation: Literal['gelu', 'relu', 'silu'] = 'gelu') -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f'activation must be one of {tuple(ACTIVATIONS)}, got {activation!r}')
        self.num_experts = num_experts
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.out_channels = out_channels
        self.activation = activation
        self._act = ACTIVATIONS[activation]
        self.w1_EDF = nn.Parameter(torch.empty(num_experts, in_channels, hidden_channels))
        self.b1_EF = nn.Parameter(torch.empty(num_experts, hidden_channels))
        self.w2_EFD = nn.Parameter(torch.empty(num_experts, hidden_channels, out_channels))
        self.b2_ED = nn.Parameter(torch.empty(num_experts, out_channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Per expert, the same init as ``nn.Linear`` (uniform in +-1/sqrt(fan_in))."""
        bound1 = 1.0 / math.sqrt(self.in_channels)
        bound2 = 1.0 / math.sqrt(self.hidden_channels)
        for p, bound in ((self.w1_EDF, bound1), (self.b1_EF, bound1), (self.w2_EFD, bound2),
                         (self.b2_ED, bound2)):
            nn.init.uniform_(p, -bound, bound)

    def forward(self, x_SD: Tensor, counts: List[int]) -> Tensor:
        """Rows sorted by expert: (S, D_in) with ``counts[e]`` rows for expert e -> (S, D_out)."""
        if len(counts) != self.num_experts or sum(counts) != x_SD.shape[0]:
            raise ValueError(f'counts {counts} do not split {x_SD.shape[0]} rows over '
                             f'{self.num_experts} experts')
        dt = x_SD.dtype
        # unbind once: its backward is one stack, where indexing w[e] per expert would build E
        # full-size zero gradients.
        params = zip(self.w1_EDF.to(dt).unbind(0), self.b1_EF.to(dt).unbind(0),
                     self.w2_EFD.to(dt).unbind(0), self.b2_ED.to(dt).unbind(0))
        outs = []
        for x_nD, (w1_DF, b1_F, w2_FD, b2_D) in zip(torch.split(x_SD, counts), params):
            if x_nD.shape[0] == 0:
                continue
            outs.append(torch.addmm(b2_D, self._act(torch.addmm(b1_F, x_nD, w1_DF)), w2_FD))
        if not outs:
            return x_SD.new_zeros(0, self.out_channels)
        return outs[0] if len(outs) == 1 else torch.cat(outs)

    def forward_expert(self, e: int, x_nD: Tensor) -> Tensor:
        """Expert e on (n, D_in) rows -> (n, D_out)."""
        h_nF = self._act(torch.addmm(self.b1_EF[e].to(x_nD.dtype), x_nD,
                                     self.w1_EDF[e].to(x_nD.dtype)))
        return torch.addmm(self.b2_ED[e].to(x_nD.dtype), h_nF, self.w2_EFD[e].to(x_nD.dtype))

    def forward_batched(self, x_ECD: Tensor) -> Tensor:
        """(E, C, D_in) rows, C per expert -> (E, C, D_out)."""
        dt = x_ECD.dtype
        h_ECF = self._act(torch.baddbmm(self.b1_EF[:, None, :].to(dt), x_ECD,
                                        self.w1_EDF.to(dt)))
        return torch.baddbmm(self.b2_ED[:, None, :].to(dt), h_ECF, self.w2_EFD.to(dt))

    def extra_repr(self) -> str:
        return (f'num_experts={self.num_experts}, in={self.in_channels}, '
                f'hidden={self.hidden_channels}, out={self.out_channels}, act={self.activation}')


class DenseFFN(nn.Module):
    """The dense FFN ``Linear -> act -> Linear`` used as generalist / shared expert and as the
    benchmark's baseline. Its weights are laid out like one expert of
    :class:`GroupedFFNExperts` (see ``upcycle.py``).

    Args:
        in_channels: D_in. hidden_channels: F. out_channels: D_out.
    """

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int,
                 activation: Literal['gelu', 'relu', 'silu'] = 'gelu') -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f'activation must be one of {tuple(ACTIVATIONS)}, got {activation!r}')
        self.fc1 = nn.Linear(in_channels, hidden_channels)
        self.fc2 = nn.Linear(hidden_channels, out_channels)
        self.activation = activation
        self._act = ACTIVATIONS[activation]

    def forward(self, x_TD: Tensor) -> Tensor:
        """(T, D_in) -> (T, D_out)."""
        return self.fc2(self._act(self.fc1(x_TD)))
