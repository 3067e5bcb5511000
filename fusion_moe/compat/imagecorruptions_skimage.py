"""imagecorruptions 1.1.2 with scikit-image >= 0.19: ``multichannel`` was removed.

``imagecorruptions.corruptions`` calls ``skimage.filters.gaussian(..., multichannel=True)``
(gaussian_blur, glass_blur), which today's scikit-image rejects with a TypeError. We replace
the module's ``gaussian`` binding by a wrapper that maps ``multichannel=True`` to
``channel_axis=-1`` (and ``False`` to ``None``), which is the documented replacement.
"""
import functools
import warnings


def _wrap(gaussian):
    if getattr(gaussian, '_fusion_moe_shim', False):
        return gaussian

    @functools.wraps(gaussian)
    def gaussian_compat(image, *args, multichannel=None, **kwargs):
        if multichannel is not None and 'channel_axis' not in kwargs:
            kwargs['channel_axis'] = -1 if multichannel else None
        return gaussian(image, *args, **kwargs)

    gaussian_compat._fusion_moe_shim = True
    return gaussian_compat


def apply() -> bool:
    """Patch imagecorruptions. Returns False if it is not installed."""
    try:
        with warnings.catch_warnings():
            # imagecorruptions imports pkg_resources, which warns on setuptools 80.
            warnings.simplefilter('ignore', UserWarning)
            from imagecorruptions import corruptions
    except ImportError:
        return False
    corruptions.gaussian = _wrap(corruptions.gaussian)
    return True
