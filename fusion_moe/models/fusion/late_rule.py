"""Decision-level fusion rule of the ``late`` placement: per-modality CenterHead outputs ->
one set of outputs, before decoding.

Rule (written by hand: no library fuses CenterHead maps). For every task t and output map k
(``heatmap`` logits, ``reg``, ``height``, ``dim``, ``rot``, ``vel``), sample b::

    fused[t][k][b] = sum_m w[t, k, m](b) * out_m[t][k][b]
    w[t, k, :](b)  = softmax over the modalities present in b of a learned logit a[t, k, m]

so an absent modality has weight exactly 0 and drops out; with all modalities present the
weights start equal (a = 0). A sample with no modality at all gets equal weights (its outputs
are the heads' responses to empty maps). The fused outputs are scored by the CenterHead loss
and decoded by the CenterHead decoder, so one box list comes out.
"""
from typing import Dict, List, Sequence

import torch
from torch import Tensor, nn

PredsDicts = Sequence[List[Dict[str, Tensor]]]  # CenterHead.forward: per task [dict]


class LateDecisionFusion(nn.Module):
    """Learned per-(task, output, modality) weights, renormalised over present modalities.

    Args:
        modalities: stream names, in the order of the weights' last axis.
        num_tasks: CenterHead tasks. output_keys: the head's output map names.
    """

    def __init__(self, modalities: Sequence[str], num_tasks: int,
                 output_keys: Sequence[str]) -> None:
        super().__init__()
        self.modalities = tuple(modalities)
        self.output_keys = tuple(output_keys)
        self.weight_logits = nn.Parameter(
            torch.zeros(num_tasks, len(self.output_keys), len(self.modalities)))

    def weights(self, present: Dict[str, Tensor]) -> Tensor:
        """(B, tasks, keys, M) float32 weights; absent modalities 0, each row sums to 1."""
        present_BM = torch.stack([present[m].bool() for m in self.modalities], dim=1)
        none_B = ~present_BM.any(dim=1)
        present_BM = present_BM | none_B[:, None]
        logits = self.weight_logits.float()[None].expand(present_BM.shape[0], -1, -1, -1)
        masked = logits.masked_fill(~present_BM[:, None, None, :], float('-inf'))
        return masked.softmax(dim=-1)

    def forward(self, outputs: Dict[str, PredsDicts], present: Dict[str, Tensor]) -> tuple:
        """``{modality: CenterHead.forward output}`` -> one CenterHead.forward-like output."""
        w_BTKM = self.weights(present)
        fused = []
        for t in range(w_BTKM.shape[1]):
            task = {}
            for k, key in enumerate(self.output_keys):
                maps = torch.stack([outputs[m][t][0][key] for m in self.modalities], dim=-1)
                w = w_BTKM[:, t, k].to(maps.dtype)[:, None, None, None, :]
                task[key] = (maps * w).sum(-1)
            fused.append([task])
        return tuple(fused)
