"""Routers: gradients, the top-k identity at k=E, expert-choice capacity, fp32 under autocast,
and each router's defining formula."""
import math

import pytest
import torch
import torch.nn.functional as F

from fusion_moe.models.moe import (ROUTER_TYPES, CosineRouter, ExpertChoiceRouter,
                                   LaplaceRouter, MoELayer, NoisyTopKRouter, SoftMoERouter)
from fusion_moe.registry import MODELS


@pytest.mark.parametrize('router', ROUTER_TYPES)
def test_every_router_is_registered_and_gradients_reach_router_and_experts(router):
    layer = MoELayer(8, 16, 4, router=dict(type=router),
                     aux_loss_weights=dict(balance=0.0, z=0.0))
    layer.train()
    x = torch.randn(40, 8, requires_grad=True)
    y, record = layer(x)
    y.square().sum().backward()
    for name, p in layer.routers.named_parameters():
        if 'noise' in name:  # the noise scale only gets gradient through sampled noise
            continue
        assert p.grad is not None and p.grad.abs().sum() > 0, f'no gradient for router {name}'
    w1_grad = layer.experts['ffn'].w1_EDF.grad
    assert w1_grad is not None and (w1_grad.abs().sum(dim=(1, 2)) > 0).all()
    assert x.grad.abs().sum() > 0
    assert record.probs.dtype == torch.float32 and record.gates.dtype == torch.float32
    assert MODELS.get(router) is not None


@pytest.mark.parametrize('router', ['TopKRouter', 'LaplaceRouter', 'CosineRouter'])
def test_top_k_equal_to_num_experts_is_the_gate_weighted_sum_of_all_experts(router):
    layer = MoELayer(6, 12, 4, router=dict(type=router, top_k=4)).eval()
    x = torch.randn(30, 6)
    y, record = layer(x)
    experts = layer.experts['ffn']
    dense_sum = sum(record.probs[:, e:e + 1] * experts.forward_expert(e, x) for e in range(4))
    torch.testing.assert_close(y, dense_sum, rtol=1e-5, atol=1e-6)


def test_noisy_router_adds_noise_only_in_training():
    router = NoisyTopKRouter(8, 4, top_k=2, noise_std_init=1.0)
    x = torch.randn(16, 8)
    router.eval()
    torch.testing.assert_close(router(x), router(x))
    torch.testing.assert_close(router(x), router.gate(x))
    router.train()
    assert not torch.allclose(router(x), router(x))
    with torch.no_grad():
        assert float((router(x) - router.gate(x)).std()) == pytest.approx(1.0, rel=0.3)


def test_expert_choice_respects_capacity_and_picks_each_experts_best_tokens():
    router = ExpertChoiceRouter(8, 4, capacity_factor=1.5)
    x = torch.randn(40, 8)
    routing = router.route(router(x))
    capacity = math.ceil(1.5 * 40 / 4)
    assert routing.token_index.shape == (4, capacity)
    for e in range(4):
        chosen = set(routing.token_index[e].tolist())
        assert len(chosen) == capacity  # distinct tokens, exactly C of them
        best = set(torch.topk(routing.probs[:, e], capacity).indices.tolist())
        assert chosen == best
    assert (routing.experts >= 0).sum() == 4 * capacity
    layer = MoELayer(8, 16, 4, router=dict(type='ExpertChoiceRouter', capacity_factor=1.5))
    _, record = layer(x)
    assert record.stats['expert_load'].tolist() == [capacity] * 4


def test_expert_choice_never_picks_invalid_tokens():
    router = ExpertChoiceRouter(8, 4, capacity_factor=1.0)
    valid = torch.zeros(40, dtype=torch.bool)
    valid[:10] = True
    routing = router.route(router(torch.randn(40, 8)), valid_T=valid)
    assert routing.token_index.max() < 10
    assert routing.token_index.shape[1] == math.ceil(10 / 4)


def test_laplace_router_scores_by_the_distance_itself_as_fusemoe_does():
    # FuseMoE's Laplace gate: softmax over -||m_e - x||_2, unscaled by default.
    router = LaplaceRouter(5, 3, init_std=1.0)
    assert router.distance == 'l2' and router.scale == 1.0
    x = torch.randn(7, 5) * 2.0
    distance_TE = torch.cdist(x, router.expert_embeddings)
    torch.testing.assert_close(router(x), -distance_TE, rtol=1e-4, atol=1e-4)
    # The kernel is exp(-distance): probabilities are proportional to it.
    probs = router.route(router(x)).probs
    kernel = torch.exp(-distance_TE)
    torch.testing.assert_close(probs, kernel / kernel.sum(1, keepdim=True), rtol=1e-4, atol=1e-6)


def test_laplace_router_with_squared_distance_is_the_gaussian_kernel():
    router = LaplaceRouter(5, 3, distance='squared', scale=0.5, init_std=1.0)
    x = torch.randn(7, 5)
    expected = -0.5 * torch.cdist(x, router.expert_embeddings).square()
    torch.testing.assert_close(router(x), expected, rtol=1e-4, atol=1e-4)
    assert LaplaceRouter(16, 3, distance='squared').scale == pytest.approx(0.25)  # 1/sqrt(D)
    with pytest.raises(ValueError, match='distance'):
        LaplaceRouter(5, 3, distance='l1')


def test_laplace_distance_has_a_finite_gradient_on_an_expert_embedding():
    router = LaplaceRouter(4, 2, init_std=1.0)
    x = router.expert_embeddings.detach()[:1].clone().requires_grad_(True)
    router(x).sum().backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(router.expert_embeddings.grad).all()


def test_cosine_router_scores_on_a_hypersphere_with_a_clamped_temperature():
    router = CosineRouter(16, 4, routing_dim=3, init_temperature=0.5, min_temperature=0.1,
                          max_temperature=1.0)
    x = torch.randn(9, 16)
    logits = router(x)
    assert logits.abs().max() <= 1.0 / 0.5 + 1e-5  # |cos| <= 1
    # Scaling the token does not change its routing (it lives on the sphere).
    torch.testing.assert_close(router(3.0 * x), logits)
    with torch.no_grad():
        router.log_temperature.fill_(math.log(1e-4))
    assert float(router.temperature.detach()) == pytest.approx(0.1)
    assert router(x).abs().max() <= 10.0 + 1e-4
    with pytest.raises(ValueError, match='temperature'):
        CosineRouter(16, 4, init_temperature=2.0, max_temperature=1.0)


def test_soft_moe_dispatch_normalises_over_each_samples_tokens_and_combine_over_slots():
    router = SoftMoERouter(6, 3, slots_per_expert=2)
    x = torch.randn(20, 6)
    sample_ids = torch.tensor([0] * 8 + [1] * 12)
    routing = router.route(router(x), sample_ids)
    for b in (0, 1):
        sums = routing.dispatch_weights[sample_ids == b].sum(0)
        torch.testing.assert_close(sums, torch.ones(6))
    torch.testing.assert_close(routing.combine_weights.sum(1), torch.ones(20))
    torch.testing.assert_close(routing.probs.sum(1), torch.ones(20))


def test_soft_moe_keeps_samples_apart():
    layer = MoELayer(6, 12, 3, router=dict(type='SoftMoERouter', slots_per_expert=2)).eval()
    x = torch.randn(20, 6)
    sample_ids = torch.tensor([0] * 8 + [1] * 12)
    y, _ = layer(x, sample_ids=sample_ids)
    x2 = x.clone()
    x2[8:] = torch.randn(12, 6)  # change sample 1 only
    y2, _ = layer(x2, sample_ids=sample_ids)
    torch.testing.assert_close(y2[:8], y[:8])
    assert not torch.allclose(y2[8:], y[8:])


@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16])
@pytest.mark.parametrize('router', ROUTER_TYPES)
def test_router_maths_stays_fp32_under_autocast_and_large_logits_give_no_nan(router, dtype):
    layer = MoELayer(8, 16, 4, router=dict(type=router),
                     aux_loss_weights=dict(entropy=0.01, usage=0.01))
    x = (torch.randn(32, 8) * 1e3).requires_grad_(True)  # large activations -> large logits
    if router in ('TopKRouter', 'NoisyTopKRouter', 'ExpertChoiceRouter'):
        with torch.no_grad():
            layer.routers[0].gate.weight.mul_(1e3)
    with torch.autocast('cpu', dtype=dtype):
        y, record = layer(x)
        logits = layer.routers[0](x)
        loss = (y.float() * 1e-3).square().mean() + sum(record.aux_losses.values())
    loss.backward()
    assert torch.isfinite(x.grad).all()
    for p in layer.routers.parameters():
        assert p.dtype == torch.float32 and (p.grad is None or torch.isfinite(p.grad).all())
    assert logits.dtype == torch.float32
    assert record.logits.dtype == torch.float32
    assert record.probs.dtype == torch.float32 and record.gates.dtype == torch.float32
    assert torch.isfinite(record.probs).all() and torch.isfinite(record.gates).all()
    for name, value in record.aux_losses.items():
        assert value.dtype == torch.float32 and torch.isfinite(value), name
    assert y.dtype in (dtype, torch.float32)


def test_router_config_conflicting_with_the_layer_is_an_error():
    with pytest.raises(ValueError, match='num_experts'):
        MoELayer(8, 16, 4, router=dict(type='TopKRouter', num_experts=3))
    with pytest.raises(ValueError, match='top_k'):
        MoELayer(8, 16, 4, router=dict(type='TopKRouter', top_k=5))
    with pytest.raises(KeyError):
        MoELayer(8, 16, 4, router=dict(type='NoSuchRouter'))


def test_normalised_gates_sum_to_one_and_raw_gates_are_probabilities():
    x = torch.randn(10, 8)
    raw = MoELayer(8, 16, 4, router=dict(type='TopKRouter', top_k=2))(x)[1]
    norm = MoELayer(8, 16, 4, router=dict(type='TopKRouter', top_k=2,
                                          normalize_gates=True))(x)[1]
    torch.testing.assert_close(norm.gates.sum(-1), torch.ones(10))
    torch.testing.assert_close(raw.gates, torch.topk(F.softmax(raw.logits, -1), 2).values)
