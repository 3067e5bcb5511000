"""Night: a low-light camera model; LiDAR and radar are left untouched.

LiDAR and radar are active sensors: they bring their own illumination, so darkness does not
change their returns and ``Night`` does not touch ``points`` or ``radar_points``. Only the
cameras are degraded, with the usual low-light image formation model (as in the "dark ISP"
literature, e.g. Cui et al. ICCV 2021, and Foi et al. 2008 for the noise), written by hand:

1. Undo the display gamma: linear signal = (pixel / 255)^2.2.
2. Exposure reduction: multiply by the scene light level L (severity table, 0.30 ... 0.02 of
   daylight).
3. Optional light sources (street lamps, headlights) as additive glows in linear space,
   not dimmed by L: a saturating Gaussian core plus a wide halo, warm (sodium) or white,
   at random positions around and above the horizon band.
4. Sensor noise, Poisson-Gaussian: photo-electrons = signal * full-well capacity; shot noise
   (variance = electrons) plus read noise (std ``read_noise_e``), drawn as the heteroscedastic
   Gaussian approximation N(e, e + sigma_r^2) of Foi et al. (exact Poisson draws for ~26 M
   pixel-channels per sample would be ~10x slower for no visible difference).
5. 12-bit ADC quantisation and gamma re-encoding (through a 4096-entry look-up table).

No auto-exposure gain is applied: the camera stays at its daytime exposure, so the image gets
dark and the noise grows relative to the signal as L falls.
"""
from typing import Any, Dict

import numpy as np

from ..registry import TRANSFORMS
from .base import Degradation, get_images, live_camera_indices, set_context

DISPLAY_GAMMA = 2.2
ADC_LEVELS = 4096
_TO_LINEAR = ((np.arange(256, dtype=np.float64) / 255.0) ** DISPLAY_GAMMA).astype(np.float32)
_TO_DISPLAY = np.clip(np.rint(255.0 * (np.arange(ADC_LEVELS) / (ADC_LEVELS - 1))
                              ** (1.0 / DISPLAY_GAMMA)), 0, 255).astype(np.uint8)

#: Light colours in BGR (images in the results dict are BGR): sodium-vapour orange, LED white.
LIGHT_COLOURS_BGR = (np.array([0.25, 0.62, 1.0], np.float32), np.ones(3, np.float32))


def add_light_sources(linear: np.ndarray, rng: np.random.Generator,
                      mean_count: float = 3.0) -> int:
    """Add glows to a linear (H, W, 3) float32 image in place; returns how many were added."""
    H, W = linear.shape[:2]
    count = int(rng.poisson(mean_count))
    for _ in range(count):                              # a handful of lights, not pixels
        u = rng.uniform(0, W)
        v = rng.uniform(0.30 * H, 0.55 * H)
        sigma = rng.uniform(4.0, 16.0) * W / 1600.0
        peak = rng.uniform(1.5, 4.0)
        colour = LIGHT_COLOURS_BGR[int(rng.integers(2))]
        halo = 5.0 * sigma
        r = int(np.ceil(3.0 * halo))
        x0, x1 = max(int(u) - r, 0), min(int(u) + r + 1, W)
        y0, y1 = max(int(v) - r, 0), min(int(v) + r + 1, H)
        if x0 >= x1 or y0 >= y1:
            continue
        dx2 = (np.arange(x0, x1, dtype=np.float32) - u) ** 2
        dy2 = (np.arange(y0, y1, dtype=np.float32) - v) ** 2
        d2 = dy2[:, None] + dx2[None, :]
        glow = peak * (np.exp(-d2 / (2 * sigma ** 2)) + 0.08 * np.exp(-d2 / (2 * halo ** 2)))
        linear[y0:y1, x0:x1] += glow[..., None] * colour
    return count


def simulate_night(img: np.ndarray, light_level: float, rng: np.random.Generator,
                   light_sources: bool = True, full_well_e: float = 1000.0,
                   read_noise_e: float = 2.0) -> Dict[str, Any]:
    """Turn one (H, W, 3) uint8 day image into a night image (the input is not modified).

    Returns:
        ``{'img': (H, W, 3) uint8, 'lights': int}``.
    """
    linear = _TO_LINEAR[img] * np.float32(light_level)
    lights = add_light_sources(linear, rng) if light_sources else 0
    electrons = np.minimum(linear, 1.0) * np.float32(full_well_e)
    sigma = np.sqrt(electrons + np.float32(read_noise_e ** 2))
    electrons += sigma * rng.standard_normal(electrons.shape, dtype=np.float32)
    code = np.clip(electrons * np.float32((ADC_LEVELS - 1) / full_well_e), 0, ADC_LEVELS - 1)
    return {'img': _TO_DISPLAY[code.astype(np.int32)], 'lights': lights}


@TRANSFORMS.register_module()
class Night(Degradation):
    """Low-light camera images; LiDAR and radar untouched (active sensors).

    Reads/writes ``img`` (shapes and uint8 kept); sets ``context['lighting'] = 'night'``.

    Args:
        severity: 1-5 -> scene light level ``NIGHT_LIGHT_LEVEL``.
        seed: base seed.
        light_sources: add street lamps / headlights as glows.
        preset: severity tables (only ours has night).
    """
    name = 'night'

    def __init__(self, severity: int, seed: int = 0, light_sources: bool = True,
                 preset: str = 'default') -> None:
        super().__init__(severity, seed, preset)
        self.light_sources = bool(light_sources)

    def apply(self, results: dict) -> Dict[str, Any]:
        level = self.severity_params['light_level']
        rng = self.rng(results)
        lights = 0
        cams = live_camera_indices(results)
        if cams:
            imgs = get_images(results)
            for i in cams:
                out = simulate_night(imgs[i], level, rng, self.light_sources)
                imgs[i] = out['img']
                lights += out['lights']
        set_context(results, lighting='night')
        return {'light_level': level, 'light_sources': lights, 'cameras': len(cams)}
