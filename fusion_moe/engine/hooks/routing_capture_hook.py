"""Per-sample routing captures for the robustness benchmark, for any model with MoE layers.

``RoutingStatisticsHook`` sums routing statistics over a whole loop; comparing the clean and the
degraded version of one sample needs more: which expert each token of *that sample* went to.
This hook records it without touching the model's code, through torch forward hooks (with
keyword arguments) on every :class:`~fusion_moe.models.moe.MoELayer` and
:class:`~fusion_moe.models.moe.ModalityReliabilityGate`, installed at the start of each val /
test epoch and removed at its end:

- **top-1 expert per token**, per sample, per layer: the first chosen expert of token-choice
  routers (``record.experts[:, 0]``), the argmax of the router probabilities otherwise; tokens
  sent to the generalist by the fallback get id ``E`` (the number of routed experts) and tokens
  that were not routed (``valid_mask`` False: absent modality, padding) get -1. A layer called
  several times in one forward contributes its calls in call order. Samples are told apart by
  the layer's ``sample_ids`` argument (batch positions) and named by the data sample's
  ``token`` (or ``sample_idx``).
- with ``reference`` (the top-1 arrays of a clean run), the **top-1 flip rate**: over the
  tokens routed in both runs, the share whose top-1 differs. A sample whose token layout differs
  from its reference (e.g. point tokens, whose number changes with the degradation) is counted
  in ``incomparable_samples`` instead.
- **suppression per modality** of every reliability gate: samples whose modality was present
  on input and removed by the gate, out of the samples where it was present.

``keep_top1=True`` keeps the arrays (int16, one entry per token: T bytes x 2 per sample per
layer, e.g. 3 x 128 x 128 cells = 96 KiB) in ``last_capture['top1']`` to serve as the
reference of later runs; otherwise only counts are kept. Counts are per process (no DDP
reduction: the robustness tool runs in one process).
"""
import inspect
from collections import defaultdict
from typing import Dict, List, Optional

import numpy as np
import torch
from mmengine.hooks import Hook

from fusion_moe.models.moe import MoELayer, ModalityReliabilityGate, find_moe_layers
from fusion_moe.registry import HOOKS

NOT_ROUTED = -1


def _unwrap(model):
    return getattr(model, 'module', model)


def top1_per_token(layer: MoELayer, record, valid_T: Optional[torch.Tensor]) -> torch.Tensor:
    """(T,) int64 top-1 expert of each token (E = generalist fallback, -1 = not routed)."""
    if layer.routing_kind == 'token_choice':
        top1_T = record.experts[:, 0].clone()
    else:
        top1_T = record.probs.detach().argmax(dim=-1)
    if record.fallback_mask is not None:
        top1_T[record.fallback_mask] = layer.num_experts
    if valid_T is not None:
        top1_T[~valid_T.to(torch.bool)] = NOT_ROUTED
    return top1_T


@HOOKS.register_module()
class RoutingCaptureHook(Hook):
    """Capture per-sample top-1 experts (and flips against a reference) and suppression.

    Args:
        keep_top1: keep the per-sample top-1 arrays of the epoch in ``last_capture['top1']``.
        reference: ``{layer: {sample key: (T,) array}}`` from an earlier run's
            ``last_capture['top1']``; flips are counted against it.

    After each val/test epoch ``last_capture`` is ``{'flips': {layer: {flipped, compared,
    rate, samples, incomparable_samples}}, 'suppression': {gate: {modality: {present,
    suppressed, rate}}}, 'top1': {...} or {}}`` (rates None when nothing was compared).
    """
    priority = 'NORMAL'

    def __init__(self, keep_top1: bool = False,
                 reference: Optional[Dict[str, Dict[str, np.ndarray]]] = None) -> None:
        self.keep_top1 = keep_top1
        self.reference = reference
        self.last_capture: dict = {}
        self._handles: List = []
        self._calls: Dict[str, list] = defaultdict(list)
        self._reset_epoch()

    # ----------------------------------------------------------------------------- install
    def _reset_epoch(self) -> None:
        self._top1: Dict[str, Dict[str, np.ndarray]] = defaultdict(dict)
        self._flips: Dict[str, Dict[str, int]] = defaultdict(
            lambda: {'flipped': 0, 'compared': 0, 'samples': 0, 'incomparable_samples': 0})
        self._suppression: Dict[str, Dict[str, Dict[str, int]]] = defaultdict(
            lambda: defaultdict(lambda: {'present': 0, 'suppressed': 0}))

    def _install(self, runner) -> None:
        self._remove()
        self._reset_epoch()
        model = _unwrap(runner.model)
        for name, layer in find_moe_layers(model):
            self._handles.append(layer.register_forward_hook(
                self._moe_hook(name, layer), with_kwargs=True))
        for name, gate in model.named_modules():
            if isinstance(gate, ModalityReliabilityGate):
                self._handles.append(gate.register_forward_hook(
                    self._gate_hook(name), with_kwargs=True))

    def _remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self._calls.clear()

    def _moe_hook(self, name: str, layer: MoELayer):
        signature = inspect.signature(layer.forward)

        def hook(module, args, kwargs, output):
            _, record = output
            if record.experts is None and record.probs is None:  # dense (warm-up) stage
                return
            bound = signature.bind(*args, **kwargs).arguments
            top1_T = top1_per_token(module, record, bound.get('valid_mask'))
            sample_ids = bound.get('sample_ids')
            self._calls[name].append((None if sample_ids is None else sample_ids.detach().cpu(),
                                      top1_T.detach().cpu()))
        return hook

    def _gate_hook(self, name: str):
        def hook(module, args, kwargs, output):
            maps = args[0] if args else kwargs['maps']
            kept = output[0]
            for modality, (_, present_B) in maps.items():
                present_B = present_B.detach().bool().cpu()
                keep_B = kept[modality][1].detach().bool().cpu()
                counts = self._suppression[name][modality]
                counts['present'] += int(present_B.sum())
                counts['suppressed'] += int((present_B & ~keep_B).sum())
        return hook

    # ----------------------------------------------------------------------------- per batch
    @staticmethod
    def _sample_keys(data_batch) -> List[str]:
        samples = (data_batch or {}).get('data_samples') or []
        keys = []
        for i, sample in enumerate(samples):
            meta = sample.metainfo
            keys.append(str(meta.get('token', meta.get('sample_idx', i))))
        return keys

    def _per_sample(self, calls, batch_size: int) -> Optional[List[np.ndarray]]:
        """Concatenate each sample's tokens over the layer's calls; None if not assignable."""
        parts: List[List[np.ndarray]] = [[] for _ in range(batch_size)]
        for sample_ids, top1_T in calls:
            if sample_ids is None:
                if batch_size != 1:
                    return None  # tokens of several samples without sample ids
                parts[0].append(top1_T.numpy())
                continue
            for b in range(batch_size):
                parts[b].append(top1_T[sample_ids == b].numpy())
        return [np.concatenate(p).astype(np.int16) if p else np.zeros(0, np.int16)
                for p in parts]

    def _after_iter(self, data_batch) -> None:
        keys = self._sample_keys(data_batch)
        for name, calls in self._calls.items():
            per_sample = self._per_sample(calls, len(keys)) if keys else None
            if per_sample is None:
                self._flips[name]['incomparable_samples'] += len(keys)
                continue
            reference = (self.reference or {}).get(name, {})
            for key, top1 in zip(keys, per_sample):
                if self.keep_top1:
                    self._top1[name][key] = top1
                if self.reference is None:
                    continue
                counts = self._flips[name]
                ref = reference.get(key)
                if ref is None or ref.shape != top1.shape:
                    counts['incomparable_samples'] += 1
                    continue
                both = (ref >= 0) & (top1 >= 0)
                counts['samples'] += 1
                counts['compared'] += int(both.sum())
                counts['flipped'] += int((both & (ref != top1)).sum())
        self._calls.clear()

    def _finish(self) -> None:
        self._remove()
        flips = {}
        for name, c in self._flips.items():
            flips[name] = dict(c, rate=(c['flipped'] / c['compared'] if c['compared'] else None))
        suppression = {
            gate: {m: dict(c, rate=(c['suppressed'] / c['present'] if c['present'] else None))
                   for m, c in per_modality.items()}
            for gate, per_modality in self._suppression.items()}
        self.last_capture = {'flips': flips if self.reference is not None else {},
                             'suppression': suppression,
                             'top1': {k: dict(v) for k, v in self._top1.items()}}

    # ----------------------------------------------------------------------------- mmengine
    def before_val_epoch(self, runner) -> None:
        self._install(runner)

    def before_test_epoch(self, runner) -> None:
        self._install(runner)

    def after_val_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        self._after_iter(data_batch)

    def after_test_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        self._after_iter(data_batch)

    def after_val_epoch(self, runner, metrics=None) -> None:
        self._finish()

    def after_test_epoch(self, runner, metrics=None) -> None:
        self._finish()
