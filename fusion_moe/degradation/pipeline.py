"""Placing degradations in a data pipeline config: after loading, before packing."""
import copy
from typing import Any, Dict, List, Sequence

PACK_TYPES = ('PackFusionInputs', 'Pack3DDetInputs')


def insert_degradations(pipeline: Sequence[Dict[str, Any]],
                        degradations: Sequence[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """A copy of ``pipeline`` with ``degradations`` inserted just before the packing step.

    Args:
        pipeline: transform configs ending (somewhere) with ``PackFusionInputs``.
        degradations: transform configs, e.g. ``[dict(type='Fog', severity=3, seed=0)]``.

    Raises:
        ValueError: if the pipeline has no packing transform (naming the types it has).
    """
    types = [t.get('type') for t in pipeline]
    for i, kind in enumerate(types):
        if kind in PACK_TYPES:
            return ([copy.deepcopy(t) for t in pipeline[:i]]
                    + [copy.deepcopy(d) for d in degradations]
                    + [copy.deepcopy(t) for t in pipeline[i:]])
    raise ValueError(f'pipeline has no packing transform {PACK_TYPES}; its types are {types}')
