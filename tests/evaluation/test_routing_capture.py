"""RoutingCaptureHook: per-sample top-1 experts of any model with MoE layers, their flips
between a clean and a degraded run of the same samples, and per-modality suppression."""
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmdet3d.structures import Det3DDataSample
from torch import nn

from fusion_moe.engine.hooks import RoutingCaptureHook
from fusion_moe.models.moe import ModalityReliabilityGate, MoELayer

B, C, H, W, E = 2, 8, 4, 4, 4
MODALITIES = ('camera', 'lidar')


class GatedMoE(nn.Module):
    """A reliability gate, then one MoE layer over both modalities' cells (eval mode)."""

    def __init__(self, threshold: float):
        super().__init__()
        self.gate = ModalityReliabilityGate({m: C for m in MODALITIES}, threshold=threshold)
        self.moe = MoELayer(C, 16, num_experts=E, router=dict(type='TopKRouter', top_k=2),
                            modalities=MODALITIES, generalist_hidden_channels=16,
                            fallback_threshold=0.002)
        self.records = []

    def forward(self, maps):
        gated, _, _ = self.gate(maps)
        out, record = self.moe.forward_maps(gated)
        self.records.append((gated, record))
        return out


def _batch():
    return {'data_samples': [Det3DDataSample(metainfo={'token': f'tok{b}'}) for b in range(B)]}


def _run(hook, model, maps):
    runner = SimpleNamespace(model=model)
    hook.before_test_epoch(runner)
    with torch.no_grad():
        model(maps)
    hook.after_test_iter(runner, 0, _batch())
    hook.after_test_epoch(runner)
    return hook.last_capture


def _expected_top1(gated, record):
    """Top-1 per token as the hook documents it, split per sample (modality-major tokens)."""
    top1 = record.experts[:, 0].clone()
    top1[record.fallback_mask] = E
    valid = torch.cat([gated[m][1].repeat_interleave(H * W) for m in MODALITIES])
    top1[~valid] = -1
    sample_ids = torch.arange(B).repeat_interleave(H * W).repeat(len(MODALITIES))
    return {f'tok{b}': top1[sample_ids == b].numpy() for b in range(B)}


@pytest.fixture(params=[0.01])
def model_and_maps(request):
    """The random reliability heads score about 0.5: threshold 0.01 keeps every modality,
    0.5 suppresses some (the suppression test asks for it)."""
    torch.manual_seed(0)
    model = GatedMoE(request.param).eval()
    maps = {m: (torch.randn(B, C, H, W), torch.ones(B, dtype=torch.bool)) for m in MODALITIES}
    return model, maps


def test_clean_run_keeps_each_samples_top1_expert_per_token(model_and_maps):
    model, maps = model_and_maps
    capture = _run(RoutingCaptureHook(keep_top1=True), model, maps)
    expected = _expected_top1(*model.records[-1])
    top1 = capture['top1']['moe']
    assert set(top1) == {'tok0', 'tok1'}
    for key in expected:
        assert top1[key].dtype == np.int16 and top1[key].shape == (len(MODALITIES) * H * W,)
        np.testing.assert_array_equal(top1[key], expected[key])
    assert capture['flips'] == {}  # no reference: nothing compared


def test_flips_count_tokens_routed_in_both_runs_whose_top1_changed(model_and_maps):
    model, maps = model_and_maps
    clean = _run(RoutingCaptureHook(keep_top1=True), model, maps)['top1']
    clean_expected = _expected_top1(*model.records[-1])
    noise = {m: 3.0 * torch.randn(B, C, H, W) for m in MODALITIES}
    degraded = {m: (maps[m][0] + noise[m], maps[m][1]) for m in MODALITIES}
    degraded['camera'] = (degraded['camera'][0], torch.tensor([False, True]))  # a camera lost
    capture = _run(RoutingCaptureHook(reference=clean), model, degraded)
    after = _expected_top1(*model.records[-1])
    flipped = compared = 0
    for key in clean_expected:
        both = (clean_expected[key] >= 0) & (after[key] >= 0)
        compared += int(both.sum())
        flipped += int((both & (clean_expected[key] != after[key])).sum())
    flips = capture['flips']['moe']
    assert (flips['flipped'], flips['compared'], flips['samples']) == (flipped, compared, 2)
    assert flips['rate'] == pytest.approx(flipped / compared)
    assert 0 < flipped < compared  # the noise moved some tokens, not all
    assert capture['top1'] == {}  # not kept unless asked


def test_samples_missing_from_the_reference_are_incomparable_not_zero_flips(model_and_maps):
    model, maps = model_and_maps
    capture = _run(RoutingCaptureHook(reference={'moe': {'tok0': np.zeros(3, np.int16)}}),
                   model, maps)
    flips = capture['flips']['moe']
    assert flips['incomparable_samples'] == 2 and flips['compared'] == 0
    assert flips['rate'] is None


@pytest.mark.parametrize('model_and_maps', [0.5], indirect=True)
def test_suppression_counts_present_samples_the_gate_removed(model_and_maps):
    model, maps = model_and_maps
    maps = {'camera': (maps['camera'][0], torch.tensor([True, False])), 'lidar': maps['lidar']}
    capture = _run(RoutingCaptureHook(), model, maps)
    gated, _ = model.records[-1]
    assert sum(c['suppressed'] for c in capture['suppression']['gate'].values()) > 0
    for m in MODALITIES:
        present = maps[m][1]
        removed = int((present & ~gated[m][1]).sum())
        assert capture['suppression']['gate'][m] == {
            'present': int(present.sum()), 'suppressed': removed,
            'rate': removed / int(present.sum())}


def test_hooks_are_removed_after_the_epoch_and_dense_models_capture_nothing(model_and_maps):
    model, maps = model_and_maps
    hook = RoutingCaptureHook(keep_top1=True)
    _run(hook, model, maps)
    assert not model.moe._forward_hooks and not model.gate._forward_hooks
    dense = _run(RoutingCaptureHook(keep_top1=True), nn.Identity(), maps)
    assert dense == {'flips': {}, 'suppression': {}, 'top1': {}, 'token_keys': {}}
