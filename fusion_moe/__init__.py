"""fusion_moe: camera + LiDAR + radar 3D detection on nuScenes with Mixture-of-Experts fusion.

Importing the package (1) applies the compatibility shims in :mod:`fusion_moe.compat` and
(2) registers every module into mmdet3d's registries (see :mod:`fusion_moe.registry`).
"""
from .compat import apply_all as _apply_compat_shims

_apply_compat_shims()

from . import registry  # noqa: E402
from . import structures  # noqa: E402
from . import data, degradation, engine, evaluation, models  # noqa: E402,F401  (registration)

__version__ = '0.1.0'
