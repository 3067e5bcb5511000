"""Fusers and fusion placements (DESIGN.md, "Fusion placements"), chosen by ``model.fusion.type``:
``EarlyFusion``, ``MidBeforeFusion``, ``MidAfterFusion``, ``LateFusion`` (``moe=None``: the dense
twin) and ``FuserOnly`` (the plain dense detector's ``model.fuser``)."""
from .concat import ConcatConvFuser
from .early import EarlyFusion
from .ffn_block import FusionFFN, active_hidden_channels
from .fuser_only import FuserOnly
from .late import LateFusion
from .late_rule import LateDecisionFusion
from .mid_after import MidAfterFusion
from .mid_before import MidBeforeFusion
from .placement_base import BasePlacement, PlacementOutput
from .reliability_target import reliability_targets

__all__ = ['ConcatConvFuser', 'EarlyFusion', 'FusionFFN', 'active_hidden_channels', 'FuserOnly',
           'LateFusion', 'LateDecisionFusion', 'MidAfterFusion', 'MidBeforeFusion',
           'BasePlacement', 'PlacementOutput', 'reliability_targets']
