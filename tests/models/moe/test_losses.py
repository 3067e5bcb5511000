"""Auxiliary losses match their published formulas and behave at the extremes."""
import math

import pytest
import torch

from fusion_moe.models.moe import (MoELayer, UsageRegularizer, load_balance_loss, router_z_loss,
                                   routing_entropy)


def test_balance_loss_is_exactly_one_under_uniform_routing():
    probs = torch.full((8, 4), 0.25)
    experts = torch.arange(8).remainder(4)[:, None]
    assert float(load_balance_loss(probs, experts)) == pytest.approx(1.0, abs=1e-7)
    # Also with top-2 assignments spread evenly.
    experts2 = torch.stack([torch.arange(8) % 4, (torch.arange(8) + 1) % 4], dim=1)
    assert float(load_balance_loss(probs, experts2)) == pytest.approx(1.0, abs=1e-7)


def test_balance_loss_grows_under_collapse_up_to_num_experts():
    collapsed_probs = torch.zeros(8, 4)
    collapsed_probs[:, 0] = 1.0
    collapsed = load_balance_loss(collapsed_probs, torch.zeros(8, 1, dtype=torch.long))
    assert float(collapsed) == pytest.approx(4.0)
    half = torch.full((8, 4), 0.25)
    half[:, 0], half[:, 1:] = 0.7, 0.1
    partial = load_balance_loss(half, torch.zeros(8, 1, dtype=torch.long))
    assert 1.0 < float(partial) < 4.0


def test_balance_loss_counts_valid_tokens_only():
    probs = torch.full((6, 2), 0.5)
    probs[4:] = torch.tensor([0.9, 0.1])  # padding tokens, all routed to expert 0
    experts = torch.tensor([[0], [1], [0], [1], [0], [0]])
    valid = torch.tensor([True, True, True, True, False, False])
    assert float(load_balance_loss(probs, experts, valid)) == pytest.approx(1.0)
    assert float(load_balance_loss(probs, experts)) > 1.0
    # Expert-choice records mark unpicked experts with -1; those do not count.
    ec = torch.tensor([[0, -1], [-1, 1]])
    assert float(load_balance_loss(torch.full((2, 2), 0.5), ec)) == pytest.approx(1.0)


def test_layer_balance_loss_from_the_plan_counts_equals_counting_the_record():
    """The layer passes the dispatch plan's counts instead of counting again; the loss is the
    one recomputed from the record's experts, with invalid and fallback tokens left out."""
    torch.manual_seed(0)
    layer = MoELayer(8, 16, 4, router=dict(type='TopKRouter', top_k=2, init_std=1.0),
                     aux_loss_weights=dict(balance=1.0), generalist_hidden_channels=16,
                     fallback_threshold=0.05, fallback_in_training=True)
    x, valid = torch.randn(40, 8), torch.rand(40) > 0.2
    _, record = layer(x, valid_mask=valid)
    routed = valid & ~record.fallback_mask
    assert 0 < int(record.fallback_mask.sum()) and int(routed.sum()) < 40
    expected = load_balance_loss(record.probs, record.experts, routed)
    torch.testing.assert_close(record.aux_losses['loss_moe_balance'], expected)
    assert abs(float(expected.detach()) - 1.0) > 0.01  # uneven routing: the counts matter
    counts = torch.bincount(record.experts[routed].reshape(-1), minlength=4)
    torch.testing.assert_close(load_balance_loss(record.probs, record.experts, routed, counts),
                               expected)


def test_balance_loss_gradient_pushes_probability_away_from_the_overloaded_expert():
    logits = torch.zeros(4, 2, requires_grad=True)
    experts = torch.tensor([[0], [0], [0], [1]])
    load_balance_loss(torch.softmax(logits, -1), experts).backward()
    assert (logits.grad[:, 0] > 0).all()  # descending lowers expert 0's logit


def test_z_loss_matches_its_formula():
    logits = torch.randn(9, 5) * 3
    expected = (torch.log(torch.exp(logits).sum(-1)) ** 2).mean()
    torch.testing.assert_close(router_z_loss(logits), expected)
    valid = torch.arange(9) < 4
    torch.testing.assert_close(router_z_loss(logits, valid),
                               (torch.logsumexp(logits[:4], -1) ** 2).mean())
    assert torch.isfinite(router_z_loss(torch.full((2, 3), 1e4)))


def test_entropy_is_log_e_for_uniform_and_zero_for_one_hot():
    assert float(routing_entropy(torch.full((3, 4), 0.25))) == pytest.approx(math.log(4))
    one_hot = torch.eye(4)[:3]
    assert float(routing_entropy(one_hot)) == pytest.approx(0.0)


def test_usage_regulariser_uses_an_ema_and_does_not_force_per_batch_balance():
    reg = UsageRegularizer(4, momentum=0.9).train()
    uniform = torch.full((10, 4), 0.25)
    assert float(reg(uniform)) == pytest.approx(0.0, abs=1e-6)
    skewed = torch.tensor([[0.97, 0.01, 0.01, 0.01]]).repeat(10, 1)
    loss_one_batch = float(reg(skewed))
    batch_only = -torch.log(skewed.mean(0)).mean() - math.log(4)
    assert 0 < loss_one_batch < 0.2 * float(batch_only)  # one skewed batch barely moves it
    for _ in range(50):
        reg(skewed)
    assert float(reg(skewed)) > 0.8 * float(batch_only)  # persistent collapse is penalised
    ema = reg.usage_ema_E.clone()
    reg.eval()
    reg(uniform)
    torch.testing.assert_close(reg.usage_ema_E, ema)  # no EMA update in eval


def test_layer_returns_weighted_losses_under_their_names_and_rejects_unknown_keys():
    layer = MoELayer(8, 16, 4, aux_loss_weights=dict(balance=0.5, z=0.0, entropy=0.2),
                     loss_prefix='fuser')
    x = torch.randn(50, 8)
    _, record = layer(x)
    assert set(record.aux_losses) == {'loss_fuser_balance', 'loss_fuser_entropy'}
    expected = 0.5 * load_balance_loss(record.probs, record.experts)
    torch.testing.assert_close(record.aux_losses['loss_fuser_balance'], expected)
    with pytest.raises(ValueError, match="'balanse'"):
        MoELayer(8, 16, 4, aux_loss_weights=dict(balanse=0.1))
