"""spconv 2.3.8 on a CPU-only torch: its backward asks for a CUDA stream.

``spconv.pytorch.cppcore.get_current_stream`` calls ``torch.cuda.current_stream()``
unconditionally, which raises "Torch not compiled with CUDA enabled" in the backward of
every sparse convolution on a CPU build of torch. The stream is only used by CUDA kernels,
so on a machine without CUDA stream 0 (the null stream) is what spconv's CPU path expects.
The function is imported by name into ``ops`` and ``hash``, so all three bindings are patched.
"""
import torch

_PATCHED_MODULES = ('spconv.pytorch.cppcore', 'spconv.pytorch.ops', 'spconv.pytorch.hash')


def _current_stream_or_null() -> int:
    if torch.cuda.is_available():
        return torch.cuda.current_stream().cuda_stream
    return 0


def apply() -> bool:
    """Patch spconv's stream lookup. Returns False if spconv is not installed."""
    import importlib
    try:
        modules = [importlib.import_module(name) for name in _PATCHED_MODULES]
    except ImportError:
        return False
    for module in modules:
        if hasattr(module, 'get_current_stream'):
            module.get_current_stream = _current_stream_or_null
    return True
