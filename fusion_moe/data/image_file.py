"""Reader for camera images, decoded with OpenCV as mmcv does (``cv2.imdecode``).

``downscale`` 2, 4 or 8 uses libjpeg's DCT-domain scaling (``cv2.IMREAD_REDUCED_COLOR_N``),
which decodes a half-resolution image several times faster than decoding full size and
resizing; configs that train at half resolution should ask for it.
"""
import os

import cv2
import numpy as np

from .errors import SensorFileError

_REDUCED_FLAGS = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2,
                  4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}
_JPEG_EOI = b'\xff\xd9'


def read_image(path: str, downscale: int = 1) -> np.ndarray:
    """Decode an image file.

    Args:
        path: file path (JPEG for nuScenes; PNG also works).
        downscale: 1, 2, 4 or 8; the image is decoded at 1/downscale of its size
            (rounded up, as libjpeg does).

    Returns:
        (H, W, 3) uint8 BGR array.

    Raises:
        SensorFileError: missing file, undecodable bytes, or a JPEG without its end-of-image
            marker (truncated; OpenCV would silently fill the missing rows with grey).
    """
    if downscale not in _REDUCED_FLAGS:
        raise ValueError(f'downscale must be one of {tuple(_REDUCED_FLAGS)}, got {downscale}')
    if not os.path.isfile(path):
        raise SensorFileError(path, 'image file does not exist')
    raw = np.fromfile(path, dtype=np.uint8)
    is_jpeg = raw[:2].tobytes() == b'\xff\xd8'
    if is_jpeg and _JPEG_EOI not in raw[-16:].tobytes():
        raise SensorFileError(path, f'truncated JPEG: no end-of-image marker ({raw.size} bytes)')
    img = cv2.imdecode(raw, _REDUCED_FLAGS[downscale])
    if img is None:
        raise SensorFileError(path, f'not a decodable image ({raw.size} bytes)')
    return img
