"""Placing degradations in a data pipeline config: after loading, in the sensors' own frame.

Degradations are physical: fog attenuates with range from the sensor, a lost field of view is a
sector around the sensor's axis, beam loss follows the LiDAR's rings. So they go after loading
and before any image augmentation (which resizes, crops and rotates the images) and any global
3D augmentation (which moves the scene into a rotated, scaled or flipped frame), or, in a
pipeline without one, just before packing.
"""
import copy
from typing import Any, Dict, List, Sequence

PACK_TYPES = ('PackFusionInputs', 'Pack3DDetInputs')
# transforms that move sensor geometry (image resize/crop/rotate, global 3D); degradations act
# before them, on the sensors as recorded (after GT sampling, so pasted objects degrade too)
GLOBAL_AUGMENTATION_TYPES = ('MultiViewImageAug', 'GlobalRotScaleTrans', 'BEVRandomFlip3D',
                             'RandomFlip3D', 'PropagateLidarAugmentation')


def insert_degradations(pipeline: Sequence[Dict[str, Any]],
                        degradations: Sequence[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """A copy of ``pipeline`` with ``degradations`` inserted before the first augmentation of
    sensor geometry (``MultiViewImageAug`` or a global 3D augmentation), or, without one, just
    before the packing step.

    Args:
        pipeline: transform configs ending (somewhere) with ``PackFusionInputs``.
        degradations: transform configs, e.g. ``[dict(type='Fog', severity=3, seed=0)]``.

    Raises:
        ValueError: if the pipeline has no packing transform (naming the types it has).
    """
    types = [t.get('type') for t in pipeline]
    if not any(kind in PACK_TYPES for kind in types):
        raise ValueError(f'pipeline has no packing transform {PACK_TYPES}; its types are {types}')
    at = next(i for i, kind in enumerate(types)
              if kind in GLOBAL_AUGMENTATION_TYPES or kind in PACK_TYPES)
    return ([copy.deepcopy(t) for t in pipeline[:at]]
            + [copy.deepcopy(d) for d in degradations]
            + [copy.deepcopy(t) for t in pipeline[at:]])
