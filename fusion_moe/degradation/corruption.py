"""ImageNet-C style camera corruptions, through the ``imagecorruptions`` package.

Hendrycks & Dietterich's 19 corruptions (noise, blur, weather, digital) are not rewritten:
``imagecorruptions.corrupt`` does the work (with the scikit-image shim from
``fusion_moe.compat``). This wrapper converts our BGR images to the RGB the package expects,
makes its randomness deterministic per (seed, sample, camera) without disturbing the caller's
global random state (the package draws from numpy's global state, and ``impulse_noise`` from
``skimage.util.random_noise``, whose own generator is seeded here for the duration of the
call), and skips blank (dropped) cameras.

Presets: MultiCorrupt's brightness is the package's formula (HSV value + shift) with shifts of
0.5 / 0.6 / 0.7, past the package's largest (0.5, its severity 5); ``preset='multicorrupt'``
computes it with :func:`shift_hsv_value` (scikit-image's colour conversion, as the package).

Context: only the package's ``fog`` corruption sets ``weather = 'fog'``; the others (snow,
frost, spatter, ...) have no word in the context vocabulary and leave the context alone.
"""
import functools
import warnings
from typing import Any, Dict, Mapping, Tuple

import cv2
import numpy as np
import skimage.color
import skimage.util

from ..registry import TRANSFORMS
from ..structures import CAMERAS
from .base import SEVERITIES, Degradation, get_images, live_camera_indices, set_context
from .severity_tables import DEFAULT_PRESET, severity_table


def corruption_names() -> Tuple[str, ...]:
    """All corruptions of the installed ``imagecorruptions`` (the 15 benchmark + 4 extra)."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', UserWarning)   # pkg_resources deprecation
        from imagecorruptions import get_corruption_names
    return tuple(get_corruption_names('all'))


def shift_hsv_value(rgb: np.ndarray, shift: float) -> np.ndarray:
    """ImageNet-C brightness for any shift: V += ``shift`` in HSV, clipped to [0, 1].

    (H, W, 3) uint8 RGB -> (H, W, 3) uint8 RGB, truncated to integers as
    ``imagecorruptions.corrupt`` does (so shifts .1, .2, .3, .4, .5 give its brightness at
    severities 1-5, bit for bit).
    """
    hsv = skimage.color.rgb2hsv(rgb / 255.0)
    hsv[..., 2] = np.clip(hsv[..., 2] + shift, 0.0, 1.0)
    return np.uint8(np.clip(skimage.color.hsv2rgb(hsv), 0.0, 1.0) * 255)


@TRANSFORMS.register_module()
class ImageCorruption(Degradation):
    """One ImageNet-C corruption on every live camera image.

    Args:
        corruption: a name from :func:`corruption_names` (e.g. 'brightness', 'motion_blur').
        severity: 1-5, passed to ``imagecorruptions.corrupt`` (its own per-corruption tables).
        seed: base seed.
        preset: ``'default'`` uses the package's own tables; another preset needs a table
            for this corruption in ``severity_tables`` (under its record name).
    """
    name = 'image_corruption'

    def __init__(self, corruption: str, severity: int, seed: int = 0,
                 preset: str = DEFAULT_PRESET) -> None:
        names = corruption_names()
        if corruption not in names:
            raise ValueError(f'unknown corruption {corruption!r}; imagecorruptions has {names}')
        self.corruption = corruption
        super().__init__(severity, seed, preset)

    def severity_table(self) -> Mapping[int, Dict[str, Any]]:
        """The package's severities 1-5 (its own tables) for our preset, else the preset's."""
        if self.preset == DEFAULT_PRESET:
            return {s: {} for s in SEVERITIES}
        return severity_table(self.record_name, self.preset)

    def _corrupt(self, rgb: np.ndarray) -> np.ndarray:
        """One (H, W, 3) uint8 RGB image through the package, or the preset's formula."""
        from imagecorruptions import corrupt
        if 'value_shift' in self.severity_params:
            return shift_hsv_value(rgb, self.severity_params['value_shift'])
        return np.asarray(corrupt(rgb, corruption_name=self.corruption, severity=self.severity))

    def apply(self, results: dict) -> Dict[str, Any]:
        cams = live_camera_indices(results)
        imgs = get_images(results) if cams else []
        rng = self.rng(results, f'image_corruption/{self.corruption}')
        seeds = rng.integers(0, 2 ** 32 - 1, size=len(CAMERAS))
        state = np.random.get_state()
        random_noise = skimage.util.random_noise
        try:
            for i in cams:
                np.random.seed(int(seeds[i]))
                skimage.util.random_noise = functools.partial(random_noise,
                                                              rng=int(seeds[i]))
                rgb = cv2.cvtColor(imgs[i], cv2.COLOR_BGR2RGB)
                out = self._corrupt(rgb)
                if out.shape != rgb.shape:
                    raise RuntimeError(
                        f'imagecorruptions {self.corruption!r} changed the image shape of '
                        f'{CAMERAS[i]} from {rgb.shape} to {out.shape}')
                imgs[i] = cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8),
                                       cv2.COLOR_RGB2BGR)
        finally:
            np.random.set_state(state)
            skimage.util.random_noise = random_noise
        if self.corruption == 'fog':
            set_context(results, weather='fog')
        return {'corruption': self.corruption, **self.severity_params, 'cameras': len(cams)}

    @property
    def record_name(self) -> str:
        """Name in the record and in ``build_degradation``: 'image_fog' for the package's fog."""
        return 'image_fog' if self.corruption == 'fog' else self.corruption

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(corruption={self.corruption!r}, '
                f'severity={self.severity}, seed={self.seed}, preset={self.preset!r})')
