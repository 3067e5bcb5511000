"""Every router learns a toy mixture task where the right expert per cluster is learnable.

Tokens come from 4 well-separated Gaussian clusters; each cluster has its own linear map of the
token (relative to the cluster centre) as target. A routed layer fits it by sending each cluster
consistently to an expert that learns its function. Soft MoE is the exception by design: a
token's output is a convex mix of per-slot outputs, so it cannot be token-specific within a
slot; its task is a per-cluster offset instead (tokens of 8 samples share slots per sample).
"""
import pytest
import torch

from fusion_moe.models.moe import ROUTER_TYPES, MoELayer

NUM_CLUSTERS, DIM, OUT = 4, 8, 4


def _task(token_specific: bool, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    centres = 4.0 * torch.randn(NUM_CLUSTERS, DIM, generator=g)
    offsets = 3.0 * torch.randn(NUM_CLUSTERS, OUT, generator=g)
    maps = torch.randn(NUM_CLUSTERS, DIM, OUT, generator=g)

    def sample(n: int):
        cluster = torch.randint(0, NUM_CLUSTERS, (n,), generator=g)
        x = centres[cluster] + torch.randn(n, DIM, generator=g)
        if token_specific:
            y = torch.einsum('nd,ndo->no', x - centres[cluster], maps[cluster])
        else:
            y = offsets[cluster]
        return x, y, cluster
    return sample


@pytest.mark.parametrize('router', ROUTER_TYPES)
def test_router_learns_the_toy_mixture(router):
    torch.manual_seed(0)
    sample = _task(token_specific=router != 'SoftMoERouter')
    cfg = dict(type=router)
    if router == 'NoisyTopKRouter':
        # Shazeer et al.: softmax over the k best noisy logits (normalised top-2 gates).
        cfg.update(top_k=2, normalize_gates=True)
    elif router not in ('ExpertChoiceRouter', 'SoftMoERouter'):
        cfg['top_k'] = 1
    layer = MoELayer(DIM, 16, NUM_CLUSTERS, out_channels=OUT, router=cfg,
                     aux_loss_weights=dict(balance=0.01, z=0.001))
    optim = torch.optim.Adam(layer.parameters(), lr=1e-2)
    x_test, y_test, cluster_test = sample(512)
    samples_test = torch.arange(512) // 64
    with torch.no_grad():
        initial = float((layer.eval()(x_test, sample_ids=samples_test)[0] - y_test)
                        .square().mean())
    layer.train()
    for _ in range(300):
        x, y, _ = sample(256)
        out, record = layer(x, sample_ids=torch.arange(256) // 32)
        loss = (out - y).square().mean() + sum(record.aux_losses.values())
        optim.zero_grad()
        loss.backward()
        optim.step()
    layer.eval()
    with torch.no_grad():
        out, record = layer(x_test, sample_ids=samples_test)
    final = float((out - y_test).square().mean())
    assert final < 0.1 * initial, f'{router}: mse {initial:.3f} -> {final:.3f}'
    for c in range(NUM_CLUSTERS):
        in_cluster = cluster_test == c
        if router == 'ExpertChoiceRouter':
            # Share of the cluster's tokens picked by the expert that picks most of them.
            picked_E = (record.experts[in_cluster] >= 0).sum(0)
            share = picked_E.max() / in_cluster.sum()
        else:
            top1 = record.probs[in_cluster].argmax(-1)
            share = torch.bincount(top1, minlength=NUM_CLUSTERS).max() / in_cluster.sum()
        assert share > 0.9, f'{router}: cluster {c} is split over experts ({share:.2f})'
