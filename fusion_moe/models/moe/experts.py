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


def _act_backward(activation: str, grad_h: Tensor, a: Tensor, h: Tensor) -> Tensor:
    """Gradient of ``h = act(a)`` w.r.t. ``a`` (the ops autograd itself would run)."""
    if activation == 'gelu':
        return torch.ops.aten.gelu_backward(grad_h, a)
    if activation == 'relu':
        return torch.ops.aten.threshold_backward(grad_h, h, 0)
    return torch.ops.aten.silu_backward(grad_h, a)


class _GroupedFFN(torch.autograd.Function):
    """The per-expert FFNs on rows sorted by expert, in one autograd node.

    Same matmuls as running ``addmm -> act -> addmm`` per slice under autograd, but every
    expert writes its output straight into one (S, D_out) buffer (no ``cat`` of the outputs)
    and backward writes input and weight gradients straight into their (S, D_in) / (E, ...)
    buffers (no ``cat`` of the input gradients, no ``stack`` of the weight gradients).
    """

    @staticmethod
    def forward(ctx, x_SD, w1_EDF, b1_EF, w2_EFD, b2_ED, counts, activation):
        act = ACTIVATIONS[activation]
        out_SD = x_SD.new_empty(x_SD.shape[0], w2_EFD.shape[2])
        pre, hid = [], []
        row = 0
        for e, n in enumerate(counts):
            if n == 0:
                pre.append(None)
                hid.append(None)
                continue
            a_nF = torch.addmm(b1_EF[e], x_SD[row:row + n], w1_EDF[e])
            h_nF = act(a_nF)
            torch.addmm(b2_ED[e], h_nF, w2_EFD[e], out=out_SD[row:row + n])
            pre.append(a_nF)
            hid.append(h_nF)
            row += n
        ctx.counts, ctx.activation = counts, activation
        ctx.save_for_backward(x_SD, w1_EDF, w2_EFD, *pre, *hid)
        return out_SD

    @staticmethod
    def backward(ctx, grad_SD):
        x_SD, w1_EDF, w2_EFD, *saved = ctx.saved_tensors
        pre, hid = saved[:len(ctx.counts)], saved[len(ctx.counts):]
        need_x, need_w1, need_b1, need_w2, need_b2 = ctx.needs_input_grad[:5]
        counts = ctx.counts
        any_empty = any(n == 0 for n in counts)
        new = torch.zeros_like if any_empty else torch.empty_like
        g_x = x_SD.new_empty(x_SD.shape) if need_x else None
        g_w1 = new(w1_EDF) if need_w1 else None
        g_b1 = w1_EDF.new_zeros(w1_EDF.shape[0], w1_EDF.shape[2]) if need_b1 else None
        g_w2 = new(w2_EFD) if need_w2 else None
        g_b2 = w2_EFD.new_zeros(w2_EFD.shape[0], w2_EFD.shape[2]) if need_b2 else None
        grad_SD = grad_SD.contiguous()
        row = 0
        for e, n in enumerate(counts):
            if n == 0:
                continue
            a_nF, h_nF = pre[e], hid[e]
            g_y = grad_SD[row:row + n]
            if need_w2:
                torch.mm(h_nF.t(), g_y, out=g_w2[e])
            if need_b2:
                torch.sum(g_y, 0, out=g_b2[e])
            if need_x or need_w1 or need_b1:
                g_a = _act_backward(ctx.activation, g_y.mm(w2_EFD[e].t()), a_nF, h_nF)
                if need_w1:
                    torch.mm(x_SD[row:row + n].t(), g_a, out=g_w1[e])
                if need_b1:
                    torch.sum(g_a, 0, out=g_b1[e])
                if need_x:
                    torch.mm(g_a, w1_EDF[e].t(), out=g_x[row:row + n])
            row += n
        return g_x, g_w1, g_b1, g_w2, g_b2, None, None


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
        if (dt == self.w1_EDF.dtype and x_SD.shape[0] > 0
                and not torch.is_autocast_enabled(x_SD.device.type)):
            return _GroupedFFN.apply(x_SD, self.w1_EDF, self.b1_EF, self.w2_EFD, self.b2_ED,
                                     list(counts), self.activation)
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
