"""Routing statistics are computed when read, not in every forward, and equal the sums computed
eagerly from the same routing; the layer's ``last_stats`` is that same record and resets to {}."""
import copy

import pytest
import torch

from fusion_moe.models.moe import MoELayer, routing_statistics_sums
from fusion_moe.models.moe.fallback import gate_gap


def _layer(**kwargs):
    return MoELayer(8, 16, 4, router=dict(type='TopKRouter', top_k=2), **kwargs)


def test_statistics_read_after_forward_equal_an_eager_computation():
    layer = _layer()
    x = torch.randn(30, 8)
    valid = torch.rand(30) > 0.2
    context = {'lighting': torch.tensor([1]), 'weather': torch.tensor([2])}
    _, record = layer(x, valid_mask=valid, context_ids=context)

    load = torch.bincount(record.experts[valid].reshape(-1), minlength=4).double()
    eager = routing_statistics_sums(record.probs, record.experts, gate_gap(record.probs),
                                    valid, valid, None, 0, load,
                                    torch.zeros(30, dtype=torch.long), context)
    assert set(record.stats) == set(eager)
    for key, value in eager.items():
        torch.testing.assert_close(record.stats[key], value)
    assert layer.last_stats is record.stats  # computed once, shared


def test_statistics_describe_the_pass_they_came_from_not_a_later_one():
    layer = _layer()
    _, first = layer(torch.randn(12, 8))
    layer(torch.randn(40, 8))
    assert first.stats['tokens'] == 12
    assert layer.last_stats['tokens'] == 40


def test_last_stats_resets_to_empty_and_cannot_be_overwritten():
    layer = _layer()
    layer(torch.randn(10, 8))
    assert layer.last_stats['tokens'] == 10
    layer.last_stats = {}
    assert layer.last_stats == {}
    with pytest.raises(ValueError, match='last_stats can only be reset'):
        layer.last_stats = {'tokens': torch.tensor(1.0)}


def test_gate_gap_statistic_is_exact_without_a_fallback():
    layer = _layer()
    x = torch.randn(25, 8)
    _, record = layer(x)
    assert record.fallback_mask is None
    expected = float(gate_gap(record.probs).double().sum())
    assert float(record.stats['gate_gap_sum']) == pytest.approx(expected, rel=1e-6)


def test_a_layer_with_pending_statistics_can_be_saved_whole_and_copied(tmp_path):
    layer = _layer()
    layer(torch.randn(10, 8))
    path = tmp_path / 'layer.pth'
    torch.save(layer, path)
    loaded = torch.load(path, weights_only=False)
    assert loaded.last_stats == {}  # statistics belong to a pass, not to the saved layer
    torch.testing.assert_close(loaded.routers[0].gate.weight, layer.routers[0].gate.weight)
    assert copy.deepcopy(layer).last_stats == {}
    assert layer.last_stats['tokens'] == 10
