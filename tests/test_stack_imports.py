"""The pinned stack imports together in the project's environment, at the pinned versions."""
import importlib

import pytest


@pytest.mark.parametrize('module, version', [
    ('torch', '2.13.0'), ('numpy', '1.26.4'), ('mmengine', '0.10.7'), ('mmcv', '2.1.0'),
    ('mmdet', '3.3.0'), ('mmdet3d', '1.4.0'), ('open3d', '0.20.0'),
])
def test_pinned_versions(module, version):
    assert importlib.import_module(module).__version__.split('+')[0] == version


def test_compiled_and_optional_stacks_import():
    import mmcv.ops
    import nuscenes  # noqa: F401
    import open3d  # noqa: F401
    import spconv.pytorch  # noqa: F401
    import fusion_moe  # noqa: F401
    # mmcv was built with its ops: the compiled extension loads and a CPU op runs.
    import torch
    boxes = torch.tensor([[0., 0., 2., 2.], [1., 1., 3., 3.]])
    iou = mmcv.ops.box_iou_rotated(torch.cat([boxes[:, :2] + 1, torch.full((2, 2), 2.),
                                              torch.zeros(2, 1)], 1)[:1],
                                   torch.cat([boxes[:, :2] + 1, torch.full((2, 2), 2.),
                                              torch.zeros(2, 1)], 1))
    torch.testing.assert_close(iou, torch.tensor([[1.0, 1 / 7]]))
