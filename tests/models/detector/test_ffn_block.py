"""FusionFFN lays BEV maps out as tokens exactly as MoELayer.forward_bev / forward_maps do
(bev_tokens.py), so a placement's residual FFN is ``x + layer(x)`` cell for cell, bitwise."""
import pytest
import torch

from fusion_moe.models.fusion.ffn_block import FusionFFN

MODALITIES = ('camera', 'lidar', 'radar')
MOE = dict(type='MoELayer', hidden_channels=8, num_experts=4,
           router=dict(type='TopKRouter', top_k=2), aux_loss_weights=dict(balance=0.01))


def _ffn(moe=MOE, modalities=MODALITIES) -> FusionFFN:
    torch.manual_seed(0)
    return FusionFFN(6, moe, 16, 'ffn', modalities=modalities).eval()


def _maps():
    """Two modalities in non-canonical order, the second absent in sample 1."""
    torch.manual_seed(1)
    return {'radar': (torch.randn(2, 6, 3, 5), torch.tensor([True, True])),
            'camera': (torch.randn(2, 6, 3, 5), torch.tensor([True, False]))}


@pytest.mark.parametrize('modalities', [MODALITIES, None], ids=['per_modality', 'one_router'])
def test_forward_maps_is_the_residual_of_the_moe_layers_forward_maps_bitwise(modalities):
    ffn, maps = _ffn(modalities=modalities), _maps()
    with torch.no_grad():
        outs, record = ffn.forward_maps(maps)
        routed, layer_record = ffn.moe.forward_maps(maps)
    assert list(outs) == list(maps)
    for name, (x, present) in maps.items():
        assert torch.equal(outs[name][0], x + routed[name])
        assert outs[name][1] is present
    # the absent camera map of sample 1 passes through unrouted
    assert torch.equal(outs['camera'][0][1], maps['camera'][0][1])
    assert torch.equal(record.experts, layer_record.experts)
    assert torch.equal(record.gates, layer_record.gates)


def test_forward_bev_is_the_residual_of_the_moe_layers_forward_bev_bitwise():
    ffn = _ffn()
    torch.manual_seed(2)
    x = torch.randn(3, 6, 4, 2)
    valid_B = torch.tensor([True, False, True])
    with torch.no_grad():
        y, record = ffn.forward_bev(x, modality_ids_B=torch.full((3,), 2), valid_B=valid_B)
        routed, layer_record = ffn.moe.forward_bev(
            x, valid_BHW=valid_B[:, None, None].expand(3, 4, 2), modality_id=2)
    assert torch.equal(y, x + routed)
    assert torch.equal(y[1], x[1])
    assert torch.equal(record.experts, layer_record.experts)


def test_forward_bev_routes_each_sample_with_its_modalitys_router():
    ffn = _ffn()
    torch.manual_seed(3)
    x = torch.randn(2, 6, 3, 3)
    with torch.no_grad():
        y, _ = ffn.forward_bev(x, modality_ids_B=torch.tensor([0, 1]))
        alone = [ffn.moe.forward_bev(x[i:i + 1], modality_id=i)[0] for i in range(2)]
    torch.testing.assert_close(y, x + torch.cat(alone))


def test_dense_twin_adds_its_ffn_per_cell_and_leaves_absent_maps_unchanged():
    ffn, maps = _ffn(moe=None), _maps()
    with torch.no_grad():
        outs, record = ffn.forward_maps(maps)
        for name, (x, present) in maps.items():
            cells = x.permute(0, 2, 3, 1)
            expected = cells + ffn.dense(cells) * present[:, None, None, None]
            torch.testing.assert_close(outs[name][0], expected.permute(0, 3, 1, 2))
    assert record is None
    assert torch.equal(outs['camera'][0][1], maps['camera'][0][1])


def test_a_map_without_a_router_is_an_error_naming_the_layer():
    ffn = _ffn()
    x, present = _maps()['radar']
    with pytest.raises(KeyError, match="ffn: no router for 'sonar'"):
        ffn.forward_maps({'sonar': (x, present)})
