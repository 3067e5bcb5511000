"""RoutingCaptureHook on point / pillar tokens (the early placement): the number and order of
tokens change with a degradation, so the top-1 flip rate compares the clean and the degraded
run on the pillars present in both, matched by (modality, z, y, x) voxel index."""
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmdet3d.structures import Det3DDataSample
from torch import nn

from fusion_moe.engine.hooks import RoutingCaptureHook
from fusion_moe.engine.hooks.routing_capture_hook import coordinate_source, token_keys
from fusion_moe.models.moe import MoELayer

B, C, E, GRID = 2, 8, 4, 16
MODALITIES = ('lidar', 'radar')


class MeanPillars(nn.Module):
    """A voxel encoder with mmdet3d's PillarFeatureNet signature: one token per pillar."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(C, C)

    def forward(self, features, num_points, coors):
        return self.proj(features.sum(1) / num_points[:, None])


class PointPlacement(nn.Module):
    """Pillars of given (b, z, y, x, modality) with given features, then one MoE layer."""

    def __init__(self):
        super().__init__()
        self.pillar_net = MeanPillars()
        self.moe = MoELayer(C, 16, num_experts=E, router=dict(type='TopKRouter', top_k=2),
                            modalities=MODALITIES)
        self.records = []

    def forward(self, coors, modality_ids, features):
        tokens = self.pillar_net(features[:, None], torch.ones(len(coors)), coors)
        out, record = self.moe(tokens, modality_ids=modality_ids, sample_ids=coors[:, 0])
        self.records.append(record)
        return out


class Detector(nn.Module):
    """The placement under ``fusion``; a root-level encoder that voxelises too (not the
    placement's coordinates: the hook must not take it)."""

    def __init__(self):
        super().__init__()
        self.encoder = MeanPillars()
        self.fusion = PointPlacement()

    def forward(self, *pillars):
        return self.fusion(*pillars)


def _pillars(generator, count):
    """``count`` distinct pillars over both samples: coors (P, 4), modality ids, features."""
    cells = torch.randperm(B * len(MODALITIES) * GRID * GRID, generator=generator)[:count]
    b, rest = cells // (len(MODALITIES) * GRID * GRID), cells % (len(MODALITIES) * GRID * GRID)
    mod, yx = rest // (GRID * GRID), rest % (GRID * GRID)
    coors = torch.stack([b, torch.zeros_like(b), yx // GRID, yx % GRID], 1)
    return coors, mod, torch.randn(count, C, generator=generator)


def _run(hook, model, pillars):
    runner = SimpleNamespace(model=model)
    hook.before_test_epoch(runner)
    with torch.no_grad():
        model(*pillars)
    batch = {'data_samples': [Det3DDataSample(metainfo={'token': f'tok{b}'}) for b in range(B)]}
    hook.after_test_iter(runner, 0, batch)
    hook.after_test_epoch(runner)
    return hook.last_capture


def _top1_by_pillar(pillars, record):
    """``{sample: {(modality, y, x): top-1}}`` straight from the layer's record."""
    coors, mod, _ = pillars
    out = {b: {} for b in range(B)}
    for (b, _, y, x), m, e in zip(coors.tolist(), mod.tolist(), record.experts[:, 0].tolist()):
        out[b][(m, y, x)] = e
    return out


def test_the_placements_voxel_encoder_is_the_coordinate_source_not_the_root_encoder():
    model = Detector()
    assert coordinate_source(model, 'fusion.moe')[0] == 'fusion.pillar_net'
    assert coordinate_source(nn.ModuleDict({'moe': model.fusion.moe}), 'moe') is None


def test_token_keys_tell_modalities_and_positions_apart():
    coors = torch.tensor([[0, 0, 3, 5], [1, 0, 3, 5], [0, 0, 5, 3], [0, 1, 3, 5]])
    keys = token_keys(coors, torch.tensor([0, 0, 0, 0]))
    assert keys[0] == keys[1]  # the sample index is not part of the key
    assert len({int(k) for k in keys[[0, 2, 3]]}) == 3
    assert token_keys(coors[:1], torch.tensor([1])) != keys[0]
    with pytest.raises(ValueError, match='voxel indices'):
        token_keys(torch.tensor([[0, 0, -1, 2]]), None)


def test_flips_compare_the_pillars_present_in_both_runs_whatever_their_order():
    torch.manual_seed(0)
    model = Detector().eval()
    g = torch.Generator().manual_seed(1)
    pillars = _pillars(g, 150)  # distinct: 120 clean ones, 30 only in the degraded run
    clean, new = tuple(t[:120] for t in pillars), tuple(t[120:] for t in pillars)
    reference = _run(RoutingCaptureHook(keep_top1=True), model, clean)
    clean_top1 = _top1_by_pillar(clean, model.fusion.records[-1])
    for b in range(B):  # top-1 per token as for BEV cells, the pillar keys beside them
        kept = reference['top1']['fusion.moe'][f'tok{b}']
        keys = reference['token_keys']['fusion.moe'][f'tok{b}']
        assert kept.dtype == np.int16 and keys.dtype == np.int64 and len(kept) == len(keys)
        sel = clean[0][:, 0] == b
        np.testing.assert_array_equal(keys, token_keys(clean[0][sel], clean[1][sel]).numpy())
        assert sorted(kept.tolist()) == sorted(clean_top1[b].values())

    # degraded: a third of the clean pillars lost, 30 new ones (clutter), the rest perturbed
    # and in another order
    keep = torch.randperm(120, generator=g)[:80]
    coors, mod, feats = (t[keep] for t in clean)
    feats = feats + 0.8 * torch.randn(feats.shape, generator=g)
    degraded = tuple(torch.cat([a, b]) for a, b in zip((coors, mod, feats), new))
    capture = _run(RoutingCaptureHook(reference=reference['top1'],
                                      reference_keys=reference['token_keys']), model, degraded)
    after = _top1_by_pillar(degraded, model.fusion.records[-1])

    compared = flipped = 0
    for b in range(B):
        common = set(clean_top1[b]) & set(after[b])
        compared += len(common)
        flipped += sum(clean_top1[b][k] != after[b][k] for k in common)
    flips = capture['flips']['fusion.moe']
    assert flips['token_match'] == 'position' and flips['samples'] == B
    assert (flips['compared'], flips['flipped']) == (compared, flipped)
    assert flips['rate'] == pytest.approx(flipped / compared) and 0 < flipped < compared
    assert compared == 80  # every kept pillar is matched, no lost or new one
    assert flips['reference_tokens'] == 120 and flips['matched_tokens'] == 80
    assert flips['matched_share'] == pytest.approx(80 / 120)


def test_a_sample_with_repeated_pillar_keys_is_incomparable():
    torch.manual_seed(0)
    model = Detector().eval()
    g = torch.Generator().manual_seed(1)
    clean = _pillars(g, 60)
    reference = _run(RoutingCaptureHook(keep_top1=True), model, clean)
    twice = tuple(torch.cat([t, t]) for t in clean)  # every pillar of both samples twice
    hook = RoutingCaptureHook(reference=reference['top1'], reference_keys=reference['token_keys'])
    flips = _run(hook, model, twice)['flips']['fusion.moe']
    assert flips['incomparable_samples'] == B and flips['rate'] is None


def test_without_voxel_indices_a_changed_token_count_is_incomparable():
    torch.manual_seed(0)

    class Bare(nn.Module):
        """The same point tokens straight into an MoE layer: nothing voxelises them."""

        def __init__(self):
            super().__init__()
            self.moe = PointPlacement().moe

        def forward(self, coors, mod, feats):
            return self.moe(feats, modality_ids=mod, sample_ids=coors[:, 0])[0]

    bare = Bare().eval()
    g = torch.Generator().manual_seed(1)
    reference = _run(RoutingCaptureHook(keep_top1=True), bare, _pillars(g, 120))['top1']
    capture = _run(RoutingCaptureHook(reference=reference), bare, _pillars(g, 90))
    flips = capture['flips']['moe']
    assert flips['token_match'] == 'index' and flips['rate'] is None
    assert flips['incomparable_samples'] == B
