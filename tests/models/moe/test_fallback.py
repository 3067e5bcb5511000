"""Generalist fallback on small gate gaps and conditional modality suppression."""
import pytest
import torch

from fusion_moe.models.moe import MoELayer, ModalityReliabilityGate, fallback_mask, gate_gap


def _layer(**kwargs):
    return MoELayer(8, 16, 4, router=dict(type='TopKRouter', top_k=2),
                    generalist_hidden_channels=24, **kwargs)


def test_gate_gap_is_top1_minus_top2():
    probs = torch.tensor([[0.5, 0.3, 0.2], [0.4, 0.4, 0.2]])
    torch.testing.assert_close(gate_gap(probs), torch.tensor([0.2, 0.0]))


def test_fallback_triggers_strictly_below_the_threshold():
    gap = torch.tensor([0.0999, 0.1, 0.1001])
    assert fallback_mask(gap, 0.1).tolist() == [True, False, False]


def test_layer_fallback_triggers_exactly_at_the_threshold_and_uses_the_generalist():
    layer = _layer().eval()
    x = torch.randn(50, 8)
    _, plain = layer(x)
    gap = gate_gap(plain.probs)
    token = int(torch.argsort(gap)[25])  # a median-confidence token
    threshold = float(gap[token])
    layer.fallback_threshold = threshold
    y_at, rec_at = layer(x)
    assert not rec_at.fallback_mask[token]  # gap == threshold stays routed
    assert rec_at.fallback_mask.tolist() == (gap < threshold).tolist()
    layer.fallback_threshold = float(torch.nextafter(torch.tensor(threshold),
                                                     torch.tensor(1.0)))
    y_above, rec_above = layer(x)
    assert rec_above.fallback_mask[token]
    fb = rec_above.fallback_mask
    torch.testing.assert_close(y_above[fb], layer.generalist(x[fb]))
    routed = layer.reference_forward(x, plain.experts, plain.gates)
    torch.testing.assert_close(y_above[~fb], routed[~fb], rtol=1e-5, atol=1e-6)
    assert rec_above.summary()['fallback_rate'] == pytest.approx(float(fb.float().mean()))
    # Fallback tokens are not dispatched to routed experts.
    assert rec_above.stats['expert_load'].sum() == 2 * int((~fb).sum())


def test_fallback_is_inference_only_unless_configured():
    x = torch.randn(30, 8)
    train_layer = _layer(fallback_threshold=1.0).train()
    _, record = train_layer(x)
    assert record.fallback_mask is None and record.summary()['fallback_rate'] == 0.0
    always = _layer(fallback_threshold=1.0, fallback_in_training=True).train()
    assert always(x)[1].fallback_mask.all()


def test_sample_level_fallback_moves_whole_samples():
    layer = _layer(fallback_level='sample').eval()
    x = torch.randn(40, 8)
    sample_ids = torch.arange(40) // 10
    _, plain = layer(x, sample_ids=sample_ids)
    mean_gap = gate_gap(plain.probs).view(4, 10).mean(1)
    layer.fallback_threshold = float(mean_gap.median())
    _, record = layer(x, sample_ids=sample_ids)
    per_sample = record.fallback_mask.view(4, 10)
    assert (per_sample.all(1) | ~per_sample.any(1)).all()  # all or nothing per sample
    assert per_sample[:, 0].tolist() == (mean_gap < layer.fallback_threshold).tolist()


def test_fallback_needs_a_generalist():
    with pytest.raises(ValueError, match='generalist'):
        MoELayer(8, 16, 4, fallback_threshold=0.1)


def test_unreliable_modality_is_removed_not_down_weighted():
    gate = ModalityReliabilityGate({'camera': 4, 'lidar': 4}, threshold=0.5).eval()
    with torch.no_grad():
        for head in gate.heads.values():
            head[2].weight.zero_()
        gate.heads['camera'][2].bias.fill_(-3.0)  # reliability sigmoid(-3) = 0.05
        gate.heads['lidar'][2].bias.fill_(3.0)
    camera = torch.randn(2, 4, 3, 3)
    lidar = torch.randn(2, 4, 3, 3)
    present = torch.tensor([True, True])
    maps, scores, _ = gate({'camera': (camera, present), 'lidar': (lidar, present)})
    assert (scores['camera'] < 0.5).all() and (scores['lidar'] > 0.5).all()
    assert torch.count_nonzero(maps['camera'][0]) == 0
    assert maps['camera'][1].tolist() == [False, False]
    assert torch.equal(maps['lidar'][0], lidar)  # kept exactly, not scaled by reliability
    assert maps['lidar'][1].tolist() == [True, True]


def test_reliability_is_trained_on_targets_and_absent_modalities_stay_absent():
    gate = ModalityReliabilityGate({'radar': 4}, threshold=0.5)
    radar = torch.randn(3, 4, 2, 2)
    present = torch.tensor([True, False, True])
    targets = {'radar': torch.tensor([1.0, 0.0, 0.0])}
    maps, scores, losses = gate({'radar': (radar, present)}, targets)
    assert losses['loss_reliability'].requires_grad
    assert scores['radar'][1] == 0  # absent sensor has zero reliability
    assert torch.equal(maps['radar'][0], radar)  # training: nothing removed by default
    gate.eval()
    maps, _, _ = gate({'radar': (radar, present)})
    assert maps['radar'][1][1].item() is False
    with pytest.raises(KeyError, match='sonar'):
        gate({'sonar': (radar, present)})
