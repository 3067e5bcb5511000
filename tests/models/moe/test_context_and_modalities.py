"""Context bias (additive, per modality, oracle/estimated) and per-modality routing."""
import pytest
import torch

from fusion_moe.models.moe import ContextBias, MoELayer
from fusion_moe.models.moe.router import per_modality_logits
from fusion_moe.structures.context import LIGHTING, WEATHER, context_to_ids, make_context


def _ids(*contexts):
    ids = [context_to_ids(make_context(*c, 'metadata')) for c in contexts]
    return {f: torch.tensor([i[f] for i in ids]) for f in ('lighting', 'weather')}


def test_tables_use_the_context_vocabulary_sizes_and_start_as_a_no_op():
    bias = ContextBias(num_modalities=3, num_experts=5, mode='oracle')
    assert bias.tables['lighting'].shape == (3, len(LIGHTING), 5)
    assert bias.tables['weather'].shape == (3, len(WEATHER), 5)
    with_bias = MoELayer(8, 16, 5, context_bias='oracle')
    without = MoELayer(8, 16, 5)
    without.load_state_dict(with_bias.state_dict(), strict=False)
    x = torch.randn(10, 8)
    ctx = _ids(('night', 'rain'))
    torch.testing.assert_close(with_bias(x, context_ids=ctx)[0], without(x)[0])


def test_oracle_bias_shifts_logits_additively_by_the_sum_of_factor_vectors():
    layer = MoELayer(8, 16, 4, context_bias='oracle', modalities=('camera', 'lidar'))
    with torch.no_grad():
        layer.context_bias.tables['lighting'].normal_()
        layer.context_bias.tables['weather'].normal_()
    x = torch.randn(6, 8)
    modality_ids = torch.tensor([0, 0, 1, 1, 0, 1])
    sample_ids = torch.tensor([0, 1, 0, 1, 0, 1])
    ctx = _ids(('day', 'clear'), ('night', 'fog'))
    _, record = layer(x, modality_ids=modality_ids, sample_ids=sample_ids, context_ids=ctx)
    plain = torch.cat([layer.routers[int(m)](x[t:t + 1]) for t, m in enumerate(modality_ids)])
    tables = layer.context_bias.tables
    expected_bias = torch.stack([
        tables['lighting'][m, ctx['lighting'][s]] + tables['weather'][m, ctx['weather'][s]]
        for m, s in zip(modality_ids.tolist(), sample_ids.tolist())])
    torch.testing.assert_close(record.logits - plain, expected_bias, rtol=1e-5, atol=1e-5)


def test_context_bias_changes_routing_as_expected():
    layer = MoELayer(8, 16, 4, context_bias='oracle',
                     router=dict(type='TopKRouter', top_k=1)).eval()
    with torch.no_grad():
        layer.context_bias.tables['lighting'][0, LIGHTING.index('night'), 3] = 20.0
        layer.context_bias.tables['weather'][0, WEATHER.index('fog'), 1] = 20.0
    x = torch.randn(40, 8)
    sample_ids = torch.arange(40) // 10  # 4 samples of 10 tokens
    ctx = _ids(('day', 'clear'), ('night', 'clear'), ('day', 'fog'), ('night', 'rain'))
    _, record = layer(x, sample_ids=sample_ids, context_ids=ctx)
    top1 = record.experts[:, 0]
    assert (top1[10:20] == 3).all() and (top1[30:40] == 3).all()  # night -> expert 3
    assert (top1[20:30] == 1).all()  # fog -> expert 1
    assert not (top1[:10] == 3).all()
    util = record.summary()['context_utilisation']['lighting']['night']['expert_load']
    assert util[3] == 1.0


def test_oracle_mode_needs_context_ids_and_rejects_bad_ones():
    layer = MoELayer(8, 16, 4, context_bias='oracle')
    x = torch.randn(4, 8)
    with pytest.raises(ValueError, match='context_ids'):
        layer(x)
    with pytest.raises(ValueError, match="'weather'"):
        layer(x, context_ids={'lighting': torch.tensor([0])})
    with pytest.raises(ValueError, match='outside'):
        layer(x, context_ids={'lighting': torch.tensor([0]), 'weather': torch.tensor([3])})
    with pytest.raises(ValueError, match='mode'):
        MoELayer(8, 16, 4, context_bias='guessed')


def test_estimated_mode_learns_the_context_from_features_without_metadata():
    torch.manual_seed(0)
    layer = MoELayer(8, 16, 4, context_bias='estimated')
    optim = torch.optim.Adam(layer.parameters(), lr=0.05)

    # Night samples have a shifted feature mean; rain/clear/fog differ in another channel.
    def batch(n_samples=12):
        light = torch.randint(0, 2, (n_samples,))
        weather = torch.randint(0, 3, (n_samples,))
        x = torch.randn(n_samples, 10, 8)
        x[:, :, 0] += 3.0 * light[:, None]
        x[:, :, 1] += 3.0 * weather[:, None]
        return x.reshape(-1, 8), torch.arange(n_samples).repeat_interleave(10), \
            {'lighting': light, 'weather': weather}
    for _ in range(60):
        x, sample_ids, ctx = batch()
        _, record = layer(x, sample_ids=sample_ids, context_ids=ctx)
        loss = record.aux_losses['loss_moe_context']
        optim.zero_grad()
        loss.backward()
        optim.step()
    layer.eval()
    x, sample_ids, ctx = batch(40)
    _, record = layer(x, sample_ids=sample_ids)  # no metadata at inference
    for factor in ('lighting', 'weather'):
        accuracy = (record.context_ids[factor] == ctx[factor]).float().mean()
        assert accuracy > 0.9, factor


def test_each_modality_has_its_own_router():
    layer = MoELayer(8, 16, 4, modalities=('camera', 'lidar', 'radar'))
    assert len(layer.routers) == 3
    x = torch.randn(30, 8)
    modality_ids = torch.arange(30) % 3
    _, before = layer(x, modality_ids=modality_ids)
    with torch.no_grad():
        layer.routers[1].gate.weight.normal_()  # change the lidar router only
    _, after = layer(x, modality_ids=modality_ids)
    lidar = modality_ids == 1
    torch.testing.assert_close(after.logits[~lidar], before.logits[~lidar])
    assert not torch.allclose(after.logits[lidar], before.logits[lidar])
    with pytest.raises(ValueError, match='modality_ids'):
        layer(x, modality_ids=torch.full((30,), 3))


def test_modality_major_and_interleaved_tokens_get_the_same_logits_and_gradients():
    # Modality-major tokens (as forward_maps lays them out) take a split/cat path, interleaved
    # ones a gather/scatter path; a token's logits and gradients must not depend on which.
    torch.manual_seed(0)
    layer = MoELayer(8, 16, 4, modalities=('camera', 'lidar', 'radar'))
    modality_ids = torch.tensor([0] * 7 + [1] * 0 + [2] * 9)  # lidar absent: an empty block
    x = torch.randn(16, 8)
    order = torch.randperm(16)

    def logits_and_grad(ids, tokens):
        tokens = tokens.clone().requires_grad_(True)
        logits = per_modality_logits(layer.routers, tokens, ids)
        (logits * torch.arange(1.0, 5.0)).sum().backward()
        return logits, tokens.grad

    sorted_logits, sorted_grad = logits_and_grad(modality_ids, x)
    mixed_logits, mixed_grad = logits_and_grad(modality_ids[order], x[order])
    torch.testing.assert_close(mixed_logits, sorted_logits[order])
    torch.testing.assert_close(mixed_grad, sorted_grad[order])
    for m in (0, 2):
        torch.testing.assert_close(sorted_logits[modality_ids == m],
                                   layer.routers[m](x[modality_ids == m]))


def test_expert_groups_keep_each_modality_inside_its_group():
    groups = {'camera': [0, 1], 'lidar': [2, 3], 'radar': [1, 4]}
    layer = MoELayer(8, 16, 5, modalities=('camera', 'lidar', 'radar'), expert_groups=groups,
                     router=dict(type='TopKRouter', top_k=2))
    x = torch.randn(60, 8)
    modality_ids = torch.arange(60) % 3
    _, record = layer(x, modality_ids=modality_ids)
    for m, name in enumerate(('camera', 'lidar', 'radar')):
        chosen = set(record.experts[modality_ids == m].flatten().tolist())
        assert chosen <= set(groups[name])
        outside = [e for e in range(5) if e not in groups[name]]
        assert (record.probs[modality_ids == m][:, outside] == 0).all()
    with pytest.raises(ValueError, match='unknown modalities'):
        MoELayer(8, 16, 5, modalities=('camera',), expert_groups={'sonar': [0]})
    with pytest.raises(ValueError, match='top_k'):
        MoELayer(8, 16, 5, modalities=('camera',), expert_groups={'camera': [0]})


def test_shared_experts_are_added_for_every_token():
    layer = MoELayer(8, 16, 4, num_shared_experts=2)
    x = torch.randn(12, 8)
    y, record = layer(x)
    routed = layer.reference_forward(x, record.experts, record.gates)
    torch.testing.assert_close(y, routed + layer.shared_experts(x), rtol=1e-5, atol=1e-6)
    assert layer.shared_experts.fc1.out_features == 32


def test_forward_maps_routes_each_modality_map_with_its_router_and_drops_absent_ones():
    layer = MoELayer(4, 8, 4, modalities=('camera', 'lidar', 'radar'),
                     expert_kinds=('ffn', 'ffn', 'local', 'global'), global_pool=2,
                     router=dict(type='TopKRouter', top_k=2)).eval()
    camera, lidar = torch.randn(2, 4, 3, 5), torch.randn(2, 4, 3, 5)
    present = torch.tensor([True, True])
    lidar_absent = torch.tensor([True, False])
    outs, record = layer.forward_maps({'camera': (camera, present),
                                       'lidar': (lidar, lidar_absent)})
    assert outs['camera'].shape == (2, 4, 3, 5)
    # Each map routes as if alone, with its modality's router (modality id from the name).
    alone, _ = layer.forward_bev(camera, modality_id=0)
    torch.testing.assert_close(outs['camera'], alone, rtol=1e-5, atol=1e-6)
    alone_lidar, _ = layer.forward_bev(lidar, modality_id=1)
    torch.testing.assert_close(outs['lidar'][0], alone_lidar[0], rtol=1e-5, atol=1e-6)
    assert torch.count_nonzero(outs['lidar'][1]) == 0  # absent sample: not routed, zeros
    assert record.stats['tokens'] == 3 * 15
    with pytest.raises(KeyError, match='sonar'):
        layer.forward_maps({'sonar': (camera, present)})
