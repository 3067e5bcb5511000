"""fusion_moe registers into mmdet3d's registries, as mmdet3d's own ``projects/`` do.

Configs use ``default_scope = 'mmdet3d'`` and ``custom_imports = dict(imports=['fusion_moe'])``,
so one config can mix our modules with mmdet3d's (CenterHead, SparseEncoder, ...) by type name.
Every module of the package registers with the decorators re-exported here, e.g.::

    from fusion_moe.registry import MODELS

    @MODELS.register_module()
    class TopKRouter(nn.Module): ...
"""
from mmdet3d.registry import (DATASETS, HOOKS, LOOPS, METRICS, MODELS, OPTIM_WRAPPERS,
                              TRANSFORMS)

__all__ = ['DATASETS', 'HOOKS', 'LOOPS', 'METRICS', 'MODELS', 'OPTIM_WRAPPERS', 'TRANSFORMS']
