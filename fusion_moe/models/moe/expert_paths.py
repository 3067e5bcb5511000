"""The expert paths of :class:`~.layer.MoELayer`: run the routed experts for one routing kind.

Each path takes the tokens and a :class:`~.router.Routing` and returns
``(y_TD, expert_load_E, num_dropped)``: the combined routed output (T, D_out), the float64
per-expert load (rows each expert ran, or the probability mass for soft MoE) and the number of
assignments capacity dropped. Experts are ``{kind: GroupedFFNExperts}`` with each kind's global
expert ids ``kind_ranges[kind] = (start, end)``; spatial kinds build their input features from
the BEV layout ``spatial_shape = (B, H, W)`` (spatial_features.py). Shapes: see router.py.
"""
from typing import Dict, Mapping, Optional, Tuple

import torch
from torch import Tensor

from .dispatch import combine, dispatch, plan_dispatch
from .experts import GroupedFFNExperts
from .fallback import gate_gap
from .router import Routing
from .spatial_features import feature_builder

PathResult = Tuple[Tensor, Tensor, int]


def run_token_choice(experts: Mapping[str, GroupedFFNExperts],
                     kind_ranges: Dict[str, Tuple[int, int]], x_TD: Tensor, routing: Routing,
                     routed_T: Optional[Tensor], num_experts: int,
                     capacity_factor: Optional[float],
                     spatial_shape: Optional[Tuple[int, int, int]],
                     global_pool: int) -> PathResult:
    """Each token's top-k experts: sort rows by expert, run contiguous slices, combine."""
    plan = plan_dispatch(routing.experts, routing.gates, num_experts, routed_T, capacity_factor)
    if set(experts) == {'ffn'}:
        y_SD = experts['ffn'](dispatch(x_TD, plan), plan.counts)
    else:
        outs, row = [], 0
        for kind, (start, end) in kind_ranges.items():
            counts = plan.counts[start:end]
            token_ids = plan.token_index_S[row:row + sum(counts)]
            row += sum(counts)
            features = feature_builder(kind, x_TD, spatial_shape, global_pool)(token_ids)
            outs.append(experts[kind](features, counts))
        y_SD = torch.cat(outs)
    y_TD = combine(y_SD, routing.gates, plan)
    load_E = torch.tensor(plan.counts, dtype=torch.float64)
    return y_TD, load_E, plan.num_dropped


def run_expert_choice(experts: Mapping[str, GroupedFFNExperts],
                      kind_ranges: Dict[str, Tuple[int, int]], x_TD: Tensor, routing: Routing,
                      num_experts: int, spatial_shape: Optional[Tuple[int, int, int]],
                      global_pool: int) -> PathResult:
    """Each expert's top-C tokens (E, C), run as one batch per kind, scattered back."""
    token_index_EC, gates_EC = routing.token_index, routing.expert_gates
    capacity = token_index_EC.shape[1]
    outs = []
    for kind, (start, end) in kind_ranges.items():
        token_ids = token_index_EC[start:end].reshape(-1)
        features = feature_builder(kind, x_TD, spatial_shape, global_pool)(token_ids)
        outs.append(experts[kind].forward_batched(
            features.view(end - start, capacity, features.shape[-1])))
    y_ECD = torch.cat(outs)
    weighted = (y_ECD * gates_EC[..., None].to(y_ECD.dtype)).reshape(-1, y_ECD.shape[-1])
    # A token may be picked by several experts; index_add is deterministic on CPU (and on
    # GPU under torch.use_deterministic_algorithms). Token choice never scatters.
    y_TD = y_ECD.new_zeros(x_TD.shape[0], y_ECD.shape[-1]).index_add(
        0, token_index_EC.reshape(-1), weighted)
    load_E = torch.full((num_experts,), float(capacity), dtype=torch.float64)
    return y_TD, load_E, 0


def run_soft(ffn_experts: GroupedFFNExperts, x_TD: Tensor, routing: Routing,
             sample_ids: Tensor, num_samples: int, num_experts: int,
             slots_per_expert: int) -> PathResult:
    """Soft MoE: per sample, slots = dispatch-weighted token mixes; outputs mixed back."""
    dispatch_TL, combine_TL = routing.dispatch_weights, routing.combine_weights
    num_slots = dispatch_TL.shape[1]
    dt = x_TD.dtype
    token_ids_per_sample = [torch.nonzero(sample_ids == b).squeeze(1)
                            for b in range(num_samples)]
    slots_BLD = torch.stack([dispatch_TL[ids].t().to(dt) @ x_TD[ids]
                             for ids in token_ids_per_sample])
    e, s = num_experts, slots_per_expert
    slots_ENd = slots_BLD.view(num_samples, e, s, -1).permute(1, 0, 2, 3).reshape(
        e, num_samples * s, -1)
    y_ENd = ffn_experts.forward_batched(slots_ENd)
    y_BLD = y_ENd.view(e, num_samples, s, -1).permute(1, 0, 2, 3).reshape(
        num_samples, num_slots, -1)
    y_TD = y_BLD.new_zeros(x_TD.shape[0], y_BLD.shape[-1])
    for b, ids in enumerate(token_ids_per_sample):
        y_TD = y_TD.index_put((ids,), combine_TL[ids].to(y_BLD.dtype) @ y_BLD[b])
    load_E = routing.probs.detach().double().sum(0).cpu()
    return y_TD, load_E, 0


def routing_gate_gap(routing: Routing) -> Tensor:
    """(T,) ``gate_gap(routing.probs)``, reusing the router's top-k when it ranked ``probs``."""
    probs_TE = routing.probs
    if (routing.kind != 'token_choice' or routing.selection_scores is not probs_TE
            or probs_TE.shape[1] == 1 or probs_TE.shape[0] == 0):
        return gate_gap(probs_TE)
    p_TE = probs_TE.detach().float()
    first_T1 = routing.experts[:, :1]
    top1_T = p_TE.gather(1, first_T1).squeeze(1)
    if routing.experts.shape[1] >= 2:
        top2_T = p_TE.gather(1, routing.experts[:, 1:2]).squeeze(1)
    else:
        num_tokens, num_experts = p_TE.shape
        flat_T = torch.arange(0, num_tokens * num_experts, num_experts,
                              device=p_TE.device) + first_T1[:, 0]
        top2_T = p_TE.clone().view(-1).index_fill_(0, flat_T, float('-inf')).view(
            num_tokens, num_experts).amax(dim=1)
    return top1_T - top2_T
