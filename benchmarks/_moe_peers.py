"""The published MoE packages ``benchmarks/moe_layer.py --peers`` times against our layer.

Installed by the optional extra ``bench`` (``pip install -e .[bench]``, versions pinned in
requirements/bench.txt). Each peer is built at the benchmark's shape and returns a training
step's two terms, ``(y_TD, aux_loss)``: output tokens (T, D) and the package's own weighted
auxiliary loss (None where it has none), so the timed step backpropagates through both, as a
training step does. Each ``Peer`` states, beside its row, how its work differs from ours.

Shapes: T tokens, D channels, F hidden channels per expert, E experts, K experts per token,
G groups of ``group_size`` tokens (the packages dispatch per sequence: (G, S, D) in, one-hot
(G, S, E, C) dispatch tensors); no frames or units apply.
"""
import importlib.metadata
from dataclasses import dataclass
from typing import Callable, List, Optional, Tuple

import torch
from torch import Tensor, nn

Step = Callable[[Tensor], Tuple[Tensor, Optional[Tensor]]]
BENCH_EXTRA_HINT = ("install the benchmark extra: pip install -e '.[bench]' "
                    '(or pip install -c requirements/pins.txt -r requirements/bench.txt)')


@dataclass
class Peer:
    """One published package at the benchmark's shape.

    Attributes:
        name: row label (package name, plus the variant).
        package: PyPI distribution name; ``version`` is read from the installed metadata.
        notes: how the package's work differs from ours (capacity, expert activation,
            grouping, losses), printed beside its row and written to the JSON.
        step: x_TD -> (y_TD, weighted aux loss or None).
        module: the nn.Module (its parameters get gradients).
        kept_fraction: x_TD -> fraction of the T*K routed assignments the package computes
            (1.0 for dropless or soft routing), measured once on the benchmark's input.
    """
    name: str
    package: str
    notes: str
    step: Step
    module: nn.Module
    kept_fraction: Callable[[Tensor], float]

    @property
    def version(self) -> str:
        return importlib.metadata.version(self.package)


def _ffn_experts(channels: int, hidden: int, experts: int) -> nn.ModuleList:
    """Our expert shape, ``Linear(D, F) -> GELU -> Linear(F, D)`` with biases, per expert."""
    return nn.ModuleList(
        nn.Sequential(nn.Linear(channels, hidden), nn.GELU(), nn.Linear(hidden, channels))
        for _ in range(experts))


def _groups(x_TD: Tensor, group_size: int) -> Tensor:
    tokens, channels = x_TD.shape
    if tokens % group_size:
        raise ValueError(f'{tokens} tokens do not split into groups of {group_size}')
    return x_TD.view(tokens // group_size, group_size, channels)


def mixture_of_experts(channels: int, hidden: int, experts: int, top_k: int,
                       group_size: int, capacity_factor: float) -> Peer:
    """``mixture-of-experts`` (lucidrains): GShard/tensor2tensor Top2Gating, einsum dispatch."""
    from mixture_of_experts import MoE
    if top_k != 2:
        raise ValueError('mixture-of-experts routes top-2 only')
    # second_policy 'all': always use the second expert (the default 'random' drops it with
    # probability 1 - gate2 / 0.2, which would do less work than top-2).
    moe = MoE(dim=channels, num_experts=experts, hidden_dim=hidden, activation=nn.GELU,
              second_policy_train='all', capacity_factor_train=capacity_factor, loss_coef=1e-2)

    def step(x_TD: Tensor) -> Tuple[Tensor, Optional[Tensor]]:
        y_GSD, aux = moe(_groups(x_TD, group_size))
        return y_GSD.reshape(x_TD.shape), aux

    def kept(x_TD: Tensor) -> float:
        with torch.no_grad():
            dispatch_GSEC, _, _ = moe.gate(_groups(x_TD, group_size))
        return float(dispatch_GSEC.sum()) / (x_TD.shape[0] * top_k)

    return Peer(
        name=f'mixture-of-experts (cf {capacity_factor:g})', package='mixture-of-experts',
        notes=(f'capacity {capacity_factor:g} x S/E per group of {group_size} tokens (no K), '
               'overflow dropped; one-hot (G,S,E,C) einsum dispatch; experts GELU without '
               "biases; second expert always used (policy 'all'); balance loss only (no z-loss)"),
        step=step, module=moe, kept_fraction=kept)


def st_moe(channels: int, hidden: int, experts: int, top_k: int, group_size: int,
           capacity_factor: float) -> Peer:
    """``st-moe-pytorch`` (lucidrains): ST-MoE TopNGating, einsum dispatch, balance + z-loss."""
    from st_moe_pytorch import MoE
    # threshold 1e-9: route to every one of the top-k (the default 0.2 routes the second
    # expert only with probability gate2 / 0.2). Our expert shape is passed in: the package's
    # default GEGLU expert cannot match F=256 hidden FLOPs with an integer width.
    moe = MoE(dim=channels, num_experts=experts, gating_top_n=top_k, threshold_train=1e-9,
              capacity_factor_train=capacity_factor, balance_loss_coef=1e-2,
              router_z_loss_coef=1e-3, experts=_ffn_experts(channels, hidden, experts),
              is_distributed=False)

    def step(x_TD: Tensor) -> Tuple[Tensor, Optional[Tensor]]:
        out = moe(_groups(x_TD, group_size))
        return out.outputs.reshape(x_TD.shape), out.total_aux_loss

    def kept(x_TD: Tensor) -> float:
        with torch.no_grad():
            dispatch_GSEC = moe.gate(_groups(x_TD, group_size))[0]
        return float((dispatch_GSEC > 0).sum()) / (x_TD.shape[0] * top_k)

    return Peer(
        name=f'st-moe-pytorch (cf {capacity_factor:g})', package='st-moe-pytorch',
        notes=(f'capacity {capacity_factor:g} x S/E per group of {group_size} tokens (the '
               'package does not multiply by K), overflow dropped; one-hot (G,S,E,C) einsum '
               'dispatch with a straight-through dispatch tensor; our GELU FFN experts passed '
               'in (default: GEGLU); balance 1e-2 + z-loss 1e-3 as ours'),
        step=step, module=moe, kept_fraction=kept)


def soft_moe(channels: int, hidden: int, experts: int, top_k: int, group_size: int) -> Peer:
    """``soft-moe-pytorch`` (lucidrains): Soft MoE over groups of tokens, slots per expert."""
    from soft_moe_pytorch import SoftMoE
    if hidden % channels:
        raise ValueError('soft-moe-pytorch sets the hidden width as a multiple of D')
    slots = top_k * group_size // experts  # E*S slot rows = K*S token rows: equal expert FLOPs
    moe = SoftMoE(dim=channels, num_experts=experts, num_slots=slots,
                  expert_mult=hidden // channels, offload_unused_experts_to_cpu=False)

    def step(x_TD: Tensor) -> Tuple[Tensor, Optional[Tensor]]:
        return moe(_groups(x_TD, group_size)).reshape(x_TD.shape), None

    return Peer(
        name='soft-moe-pytorch', package='soft-moe-pytorch',
        notes=(f'soft routing, not top-{top_k}: every token of a group of {group_size} mixes '
               f'into {experts}x{slots} slots (slot count chosen for equal expert FLOPs; the '
               'package default is S/E slots, half of them); dense (S, E*slots) dispatch and '
               'combine matmuls; RMSNorm on tokens and slots; no aux loss, nothing dropped'),
        step=step, module=moe, kept_fraction=lambda x_TD: 1.0)


def build_peers(channels: int, hidden: int, experts: int, top_k: int, group_size: int,
                capacity_factor: float) -> List[Peer]:
    """The peers at one shape; a missing package is an ImportError naming the extra."""
    try:
        return [mixture_of_experts(channels, hidden, experts, top_k, group_size,
                                   capacity_factor),
                st_moe(channels, hidden, experts, top_k, group_size, capacity_factor),
                soft_moe(channels, hidden, experts, top_k, group_size)]
    except ImportError as err:
        raise ImportError(f'moe_layer.py --peers: {err}; {BENCH_EXTRA_HINT}') from err
