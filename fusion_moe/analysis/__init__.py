"""Model cost analysis: generated packed batches of nuScenes-like size and per-component
parameters / active parameters / FLOPs (``tools/model_info.py``, the speed benchmarks)."""
from .model_cost import COMPONENT_OF, format_cost_table, model_cost
from .packed_batch import BatchSizes, packed_batch, packed_sample, sizes_from_config

__all__ = ['BatchSizes', 'COMPONENT_OF', 'format_cost_table', 'model_cost', 'packed_batch',
           'packed_sample', 'sizes_from_config']
