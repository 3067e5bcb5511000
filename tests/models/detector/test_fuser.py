"""The concat fuser sees presence flags, zeroes absent maps, and rejects unknown modalities."""
import pytest
import torch

from fusion_moe.models.fusion import ConcatConvFuser


def _features(present_lidar=(True, True)):
    return {'lidar': (torch.ones(2, 3, 4, 4), torch.tensor(present_lidar)),
            'camera': (torch.ones(2, 2, 4, 4), torch.tensor([True, True]))}


def test_output_shape_and_absent_modality_changes_the_output():
    fuser = ConcatConvFuser({'lidar': 3, 'camera': 2}, out_channels=5).eval()
    out = fuser(_features())
    assert out.shape == (2, 5, 4, 4)
    out_absent = fuser(_features(present_lidar=(True, False)))
    assert torch.allclose(out_absent[0], out[0])
    assert not torch.allclose(out_absent[1], out[1])


def test_absent_map_is_ignored_whatever_it_holds():
    fuser = ConcatConvFuser({'lidar': 3, 'camera': 2}, out_channels=5).eval()
    a = _features(present_lidar=(False, False))
    b = _features(present_lidar=(False, False))
    b['lidar'] = (torch.randn(2, 3, 4, 4) * 100, b['lidar'][1])
    assert torch.allclose(fuser(a), fuser(b))


def test_unknown_modality_is_an_error_naming_it():
    with pytest.raises(ValueError, match='sonar'):
        ConcatConvFuser({'lidar': 3, 'sonar': 2}, out_channels=5)
    fuser = ConcatConvFuser({'lidar': 3}, out_channels=5)
    with pytest.raises(KeyError, match='camera'):
        fuser(_features())


def test_modality_dropout_never_removes_every_present_modality():
    fuser = ConcatConvFuser({'lidar': 3, 'camera': 2}, out_channels=5, modality_dropout=0.9)
    present = torch.tensor([[True, True], [True, False], [False, False]]).repeat(200, 1)
    dropped = fuser._drop_modalities(present)
    assert torch.all(dropped <= present)
    assert torch.all(dropped.any(1) == present.any(1))
    assert (dropped != present).any()
