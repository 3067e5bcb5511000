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
  tokens routed in both runs, the share whose top-1 differs. Tokens are matched in one of two
  ways (``flips[layer]['token_match']``):

  - ``'index'``: BEV cells, whose layout is fixed: token i of the degraded run is token i of
    the clean one. A sample whose token count differs from its reference is counted in
    ``incomparable_samples``.
  - ``'position'``: point / pillar tokens (the early placement), whose number and order change
    with the degradation. When the placement that holds the layer voxelises with a module whose
    forward takes ``coors`` (mmdet3d's ``PillarFeatureNet``: (P, 4) int ``(b, z, y, x)`` voxel
    indices on the placement's grid, one row per token, in token order), each token is keyed
    by (modality id, z, y, x) and the clean and the degraded run are compared on the keys
    present in both: "the same sensor's pillar at the same place". Pillars that exist in one run
    only (lost points, fog clutter) are not compared; ``reference_tokens`` (clean tokens of the
    compared samples) and ``matched_tokens`` say how many were matched, ``matched_share`` is
    their ratio. Keys repeated within one sample (a layer called twice on the same pillars)
    make the sample incomparable.
- **suppression per modality** of every reliability gate: samples whose modality was present
  on input and removed by the gate, out of the samples where it was present.

``keep_top1=True`` keeps the arrays (int16, one entry per token: T bytes x 2 per sample per
layer, e.g. 3 x 128 x 128 cells = 96 KiB) in ``last_capture['top1']``, and for
position-matched layers the (T,) int64 pillar keys in ``last_capture['token_keys']``, to serve
as the reference (``reference``, ``reference_keys``) of later runs; otherwise only counts are
kept. Counts are per process (no DDP
reduction: the robustness tool runs in one process).
"""
import inspect
from collections import defaultdict
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
from mmengine.hooks import Hook
from torch import nn

from fusion_moe.models.moe import MoELayer, ModalityReliabilityGate, find_moe_layers
from fusion_moe.registry import HOOKS

NOT_ROUTED = -1
KEYED_DTYPE = np.dtype([('key', np.int64), ('top1', np.int16)])
_COORD_BITS = 16  # each of z, y, x < 65536 voxels


def _unwrap(model):
    return getattr(model, 'module', model)


def token_keys(coors_P4: torch.Tensor, modality_ids: Optional[torch.Tensor]) -> torch.Tensor:
    """(P,) int64 key of each point / pillar token: (modality id, z, y, x) packed, 16 bits each.

    ``coors_P4``: (P, 4) int voxel indices ``(b, z, y, x)`` (the sample index b is not part of
    the key; samples are split by ``sample_ids``). ``modality_ids``: (P,) or None (all 0).
    """
    zyx = coors_P4[:, 1:].long()
    if bool((zyx < 0).any()) or bool((zyx >= 1 << _COORD_BITS).any()):
        raise ValueError(f'voxel indices must lie in [0, {1 << _COORD_BITS}) to be keyed')
    mod = (modality_ids.long() if modality_ids is not None
           else torch.zeros(len(zyx), dtype=torch.long, device=zyx.device))
    key = mod
    for axis in range(3):
        key = (key << _COORD_BITS) | zyx[:, axis]
    return key


def keyed_array(keys: np.ndarray, top1: np.ndarray) -> np.ndarray:
    """(T,) ``KEYED_DTYPE`` array of per-token keys and top-1 experts."""
    out = np.empty(len(top1), KEYED_DTYPE)
    out['key'], out['top1'] = keys, top1
    return out


def coordinate_source(model: nn.Module, layer_name: str) -> Optional[Tuple[str, nn.Module]]:
    """The voxelising module whose ``coors`` index the tokens of MoE layer ``layer_name``.

    Searched in the layer's ancestors (nearest first, the model's root excluded: its encoders
    voxelise for other modules): the first one holding exactly one module, not on the path down
    to the layer nor inside it, whose ``forward`` takes a ``coors`` argument. None if there is
    none (BEV layers) or the nearest ancestor with one holds several (ambiguous).
    """
    parts = layer_name.split('.')
    for depth in range(len(parts) - 1, 0, -1):
        prefix = '.'.join(parts[:depth])
        ancestor = model.get_submodule(prefix)
        rest = '.'.join(parts[depth:])  # the path down to the layer: not searched inside it
        found = [(f'{prefix}.{n}', m) for n, m in ancestor.named_modules()
                 if n and n != rest and not n.startswith(rest + '.')
                 and 'coors' in inspect.signature(m.forward).parameters]
        if len(found) == 1:
            return found[0]
        if found:
            return None  # ambiguous: several voxelisers
    return None


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
        reference_keys: that run's ``last_capture['token_keys']`` (position-matched layers).

    After each val/test epoch ``last_capture`` is ``{'flips': {layer: {flipped, compared,
    rate, samples, incomparable_samples}}, 'suppression': {gate: {modality: {present,
    suppressed, rate}}}, 'top1': {...} or {}, 'token_keys': {...} or {}}`` (rates None when
    nothing was compared; ``token_keys`` holds the (T,) int64 pillar keys of position-matched
    layers, beside their ``top1``).
    """
    priority = 'NORMAL'

    def __init__(self, keep_top1: bool = False,
                 reference: Optional[Dict[str, Dict[str, np.ndarray]]] = None,
                 reference_keys: Optional[Dict[str, Dict[str, np.ndarray]]] = None) -> None:
        self.keep_top1 = keep_top1
        self.reference = reference
        self.reference_keys = reference_keys
        self.last_capture: dict = {}
        self._handles: List = []
        self._calls: Dict[str, list] = defaultdict(list)
        self._coords: Dict[str, torch.Tensor] = {}
        self._reset_epoch()

    # ----------------------------------------------------------------------------- install
    def _reset_epoch(self) -> None:
        self._top1: Dict[str, Dict[str, np.ndarray]] = defaultdict(dict)
        self._flips: Dict[str, Dict[str, int]] = defaultdict(
            lambda: {'flipped': 0, 'compared': 0, 'samples': 0, 'incomparable_samples': 0,
                     'reference_tokens': 0, 'matched_tokens': 0})
        self._keyed: Dict[str, bool] = {}
        self._keys: Dict[str, Dict[str, np.ndarray]] = defaultdict(dict)
        self._suppression: Dict[str, Dict[str, Dict[str, int]]] = defaultdict(
            lambda: defaultdict(lambda: {'present': 0, 'suppressed': 0}))

    def _install(self, runner) -> None:
        self._remove()
        self._reset_epoch()
        model = _unwrap(runner.model)
        for name, layer in find_moe_layers(model):
            self._handles.append(layer.register_forward_hook(
                self._moe_hook(name, layer), with_kwargs=True))
            source = coordinate_source(model, name)
            if source is not None:
                self._handles.append(source[1].register_forward_pre_hook(
                    self._coords_hook(name, source[1]), with_kwargs=True))
        for name, gate in model.named_modules():
            if isinstance(gate, ModalityReliabilityGate):
                self._handles.append(gate.register_forward_hook(
                    self._gate_hook(name), with_kwargs=True))

    def _remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self._calls.clear()
        self._coords.clear()

    def _moe_hook(self, name: str, layer: MoELayer):
        signature = inspect.signature(layer.forward)

        def hook(module, args, kwargs, output):
            _, record = output
            if record.experts is None and record.probs is None:  # dense (warm-up) stage
                return
            bound = signature.bind(*args, **kwargs).arguments
            top1_T = top1_per_token(module, record, bound.get('valid_mask'))
            sample_ids = bound.get('sample_ids')
            coords = self._coords.pop(name, None)
            keys_T = None
            if coords is not None and coords.shape[0] == top1_T.shape[0]:
                modality_ids = bound.get('modality_ids')
                keys_T = token_keys(coords, None if modality_ids is None
                                    else modality_ids.detach().cpu())
            self._calls[name].append((None if sample_ids is None else sample_ids.detach().cpu(),
                                      top1_T.detach().cpu(), keys_T))
        return hook

    def _coords_hook(self, name: str, source: nn.Module):
        signature = inspect.signature(source.forward)

        def hook(module, args, kwargs):
            coors = signature.bind(*args, **kwargs).arguments['coors']
            self._coords[name] = coors.detach().cpu()
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

    @staticmethod
    def _per_sample(calls, batch_size: int) -> Optional[List[np.ndarray]]:
        """Concatenate each sample's tokens over the layer's calls; None if not assignable.

        Plain (T_b,) int16 top-1 arrays, or, when every call had token keys, structured
        ``KEYED_DTYPE`` arrays of (key, top1)."""
        keyed = all(keys_T is not None for _, _, keys_T in calls)
        parts: List[List[np.ndarray]] = [[] for _ in range(batch_size)]
        for sample_ids, top1_T, keys_T in calls:
            if sample_ids is None:
                if batch_size != 1:
                    return None  # tokens of several samples without sample ids
                sample_ids = torch.zeros(len(top1_T), dtype=torch.long)
            for b in range(batch_size):
                sel = sample_ids == b
                if keyed:
                    part = keyed_array(keys_T[sel].numpy(), top1_T[sel].numpy())
                else:
                    part = top1_T[sel].numpy().astype(np.int16)
                parts[b].append(part)
        empty = np.zeros(0, KEYED_DTYPE if keyed else np.int16)
        return [np.concatenate(p) if p else empty for p in parts]

    @staticmethod
    def _compare(ref: np.ndarray, top1: np.ndarray) -> Optional[Dict[str, int]]:
        """Counts of one sample against its reference; None if the two cannot be compared."""
        if (ref.dtype == KEYED_DTYPE) != (top1.dtype == KEYED_DTYPE):
            return None
        if top1.dtype != KEYED_DTYPE:
            if ref.shape != top1.shape:
                return None
            ref_top1, cur_top1 = ref, top1
            matched = len(top1)
        else:
            if (len(np.unique(ref['key'])) != len(ref)
                    or len(np.unique(top1['key'])) != len(top1)):
                return None
            _, i_ref, i_cur = np.intersect1d(ref['key'], top1['key'], assume_unique=True,
                                             return_indices=True)
            ref_top1, cur_top1 = ref['top1'][i_ref], top1['top1'][i_cur]
            matched = len(i_ref)
        both = (ref_top1 >= 0) & (cur_top1 >= 0)
        return {'reference_tokens': len(ref), 'matched_tokens': matched,
                'compared': int(both.sum()), 'flipped': int((both & (ref_top1 != cur_top1)).sum())}

    def _after_iter(self, data_batch) -> None:
        keys = self._sample_keys(data_batch)
        for name, calls in self._calls.items():
            per_sample = self._per_sample(calls, len(keys)) if keys else None
            if per_sample is None:
                self._flips[name]['incomparable_samples'] += len(keys)
                continue
            reference = (self.reference or {}).get(name, {})
            reference_keys = (self.reference_keys or {}).get(name, {})
            for key, top1 in zip(keys, per_sample):
                self._keyed[name] = top1.dtype == KEYED_DTYPE
                if self.keep_top1:
                    self._top1[name][key] = top1['top1'] if self._keyed[name] else top1
                    if self._keyed[name]:
                        self._keys[name][key] = top1['key']
                if self.reference is None:
                    continue
                counts = self._flips[name]
                ref = reference.get(key)
                if ref is not None and key in reference_keys:
                    ref = keyed_array(reference_keys[key], ref)
                sample = None if ref is None else self._compare(ref, top1)
                if sample is None:
                    counts['incomparable_samples'] += 1
                    continue
                counts['samples'] += 1
                for field, value in sample.items():
                    counts[field] += value
        self._calls.clear()

    def _finish(self) -> None:
        self._remove()
        flips = {}
        for name, c in self._flips.items():
            flips[name] = dict(
                c, rate=(c['flipped'] / c['compared'] if c['compared'] else None),
                token_match='position' if self._keyed.get(name) else 'index',
                matched_share=(c['matched_tokens'] / c['reference_tokens']
                               if c['reference_tokens'] else None))
        suppression = {
            gate: {m: dict(c, rate=(c['suppressed'] / c['present'] if c['present'] else None))
                   for m, c in per_modality.items()}
            for gate, per_modality in self._suppression.items()}
        self.last_capture = {'flips': flips if self.reference is not None else {},
                             'suppression': suppression,
                             'top1': {k: dict(v) for k, v in self._top1.items()},
                             'token_keys': {k: dict(v) for k, v in self._keys.items()}}

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
