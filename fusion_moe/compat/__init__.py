"""Small, documented shims for third-party packages that break on this stack.

Each shim is applied once on ``import fusion_moe`` and is idempotent. Each has a test in
``tests/test_compat.py`` that fails if the shim is removed.
"""
from .imagecorruptions_skimage import apply as _apply_imagecorruptions
from .spconv_cpu import apply as _apply_spconv
from .spconv_dense import apply as _apply_spconv_dense


def apply_all() -> None:
    """Apply every shim (safe to call more than once)."""
    _apply_spconv()
    _apply_spconv_dense()
    _apply_imagecorruptions()
