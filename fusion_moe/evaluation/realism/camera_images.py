"""Camera statistics of JPEG frames: the brightness histogram and the noise level in flat
regions, pooled per driving condition (day / night / rain).

Brightness: the 8-bit luma (OpenCV's BGR -> gray, ITU-R BT.601 weights) of every pixel.

Noise: Immerkaer's estimator (J. Immerkaer, "Fast noise variance estimation", CVIU 64(2),
1996): sigma = sqrt(pi / 2) / 6 * mean |I * N| with N the 3x3 difference-of-Laplacians mask,
which cancels any locally linear image, averaged only over *flat* regions: the
``BLOCK_PX``-pixel blocks whose structure (Sobel gradient of the image blurred with a
``STRUCTURE_BLUR_PX`` Gaussian, so that the noise itself does not decide) is in the lowest
``FLAT_PERCENTILE`` percent of the frame's blocks (edges and texture would count as noise).
Written by hand: scikit-image's ``estimate_sigma`` needs PyWavelets, which the pinned stack
does not install, and does not exclude edges. Both data sets are JPEGs, so the compression's
smoothing affects both alike.
"""
from collections import defaultdict
from typing import Dict, Iterable, Tuple

import cv2
import numpy as np

FLAT_PERCENTILE = 10.0
BLOCK_PX = 16
STRUCTURE_BLUR_PX = 2.0
_MASK = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float64)
BRIGHTNESS_BINS = np.arange(0, 257)


def luma(path: str) -> np.ndarray:
    """(H, W) float64 luma 0-255 of an image file."""
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise FileNotFoundError(f'{path}: not a readable image')
    return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.float64)


def flat_noise_sigma(gray: np.ndarray, flat_percentile: float = FLAT_PERCENTILE,
                     block: int = BLOCK_PX) -> float:
    """Noise standard deviation [grey levels] of a (H, W) image from its flat blocks."""
    if gray.ndim != 2 or min(gray.shape) < 2 * block:
        raise ValueError(f'expected a (H, W) image of at least {2 * block} px a side, got '
                         f'{gray.shape}')
    response = np.abs(cv2.filter2D(gray, cv2.CV_64F, _MASK, borderType=cv2.BORDER_REFLECT))
    smooth = cv2.GaussianBlur(gray, (0, 0), STRUCTURE_BLUR_PX)
    grad = np.hypot(cv2.Sobel(smooth, cv2.CV_64F, 1, 0, ksize=3),
                    cv2.Sobel(smooth, cv2.CV_64F, 0, 1, ksize=3))
    h, w = (gray.shape[0] // block) * block, (gray.shape[1] // block) * block

    def blocks(a: np.ndarray) -> np.ndarray:            # (n_blocks,) block means
        return a[:h, :w].reshape(h // block, block, w // block, block).mean(axis=(1, 3)).ravel()

    # the outermost blocks see the image border in both filters: left out
    structure = blocks(grad).reshape(h // block, w // block)[1:-1, 1:-1].ravel()
    noise = blocks(response).reshape(h // block, w // block)[1:-1, 1:-1].ravel()
    flat = structure <= np.percentile(structure, flat_percentile)
    return float(np.sqrt(np.pi / 2) / 6.0 * noise[flat].mean())


def image_statistics(items: Iterable[Tuple[str, str]]) -> Dict[str, dict]:
    """``{condition: {brightness_hist (256,), noise_sigma (n_images,), images}}`` over
    ``(condition, path)`` pairs."""
    out: Dict[str, dict] = defaultdict(lambda: {'brightness_hist': np.zeros(256),
                                                'noise_sigma': [], 'images': 0})
    for condition, path in items:
        gray = luma(path)
        entry = out[condition]
        entry['brightness_hist'] += np.histogram(gray, BRIGHTNESS_BINS)[0]
        entry['noise_sigma'].append(flat_noise_sigma(gray))
        entry['images'] += 1
    return {k: dict(v, noise_sigma=np.array(v['noise_sigma'])) for k, v in out.items()}


def condition_of(lighting: str, weather: str) -> str:
    """'night' for any night frame, else 'rain' for rain, else 'day'."""
    if lighting == 'night':
        return 'night'
    return 'rain' if weather == 'rain' else 'day'
