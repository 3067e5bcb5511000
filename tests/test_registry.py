"""Importing fusion_moe registers its modules into mmdet3d's registries; configs reach them
by type name through ``custom_imports`` and ``default_scope``, mixed with mmdet3d's own."""
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope, init_default_scope

import fusion_moe  # noqa: F401
from fusion_moe.registry import DATASETS, HOOKS, METRICS, MODELS, TRANSFORMS


def _ours(registry):
    return {name for name, cls in registry.module_dict.items()
            if cls.__module__.startswith('fusion_moe.')}


def test_every_kind_of_module_is_registered_into_mmdet3d_registries():
    assert {'FusionDetector', 'MoELayer', 'TopKRouter', 'ConcatConvFuser'} <= _ours(MODELS)
    assert {'FusionNuScenesDataset'} <= _ours(DATASETS)
    assert {'LoadLidarSweeps', 'PackFusionInputs', 'Fog', 'Night'} <= _ours(TRANSFORMS)
    assert {'FusionNuScenesMetric'} <= _ours(METRICS)
    assert {'RoutingStatisticsHook'} <= _ours(HOOKS)
    assert MODELS.scope == 'mmdet3d'


def test_a_config_builds_our_module_beside_an_mmdet3d_module():
    cfg = Config.fromstring("""
default_scope = 'mmdet3d'
custom_imports = dict(imports=['fusion_moe'], allow_failed_imports=False)
router = dict(type='TopKRouter', in_channels=16, num_experts=4, top_k=2)
voxel_layer = dict(type='PointPillarsScatter', in_channels=8, output_shape=(4, 4))
""", file_format='.py')
    with DefaultScope.overwrite_default_scope('mmdet3d'):
        init_default_scope(cfg.default_scope)
        router = MODELS.build(cfg.router)
        scatter = MODELS.build(cfg.voxel_layer)
    assert type(router).__module__.startswith('fusion_moe.')
    assert type(scatter).__module__.startswith('mmdet3d.')
    # The built router works: (T, D) tokens -> (T, E) float32 logits.
    logits = router(torch.randn(5, 16, dtype=torch.bfloat16))
    assert logits.shape == (5, 4) and logits.dtype == torch.float32
