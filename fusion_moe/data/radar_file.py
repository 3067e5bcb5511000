"""Reader for nuScenes radar scans (binary PCD v0.7, 18 fields, Continental ARS 408).

Produces the same values as the devkit's ``RadarPointCloud.from_file`` (which decodes point by
point with ``struct``) but decodes the records in one ``np.frombuffer`` call with a structured
dtype built from the header, and checks the header instead of asserting on it, so a malformed
file raises :class:`SensorFileError` naming the file and the offending line.
Written by hand because no maintained library reads these files faster than the devkit.
"""
import os
from dataclasses import dataclass
from typing import Sequence, Tuple

import numpy as np

from .errors import SensorFileError

RADAR_PCD_FIELDS: Tuple[str, ...] = (
    'x', 'y', 'z', 'dyn_prop', 'id', 'rcs', 'vx', 'vy', 'vx_comp', 'vy_comp',
    'is_quality_valid', 'ambig_state', 'x_rms', 'y_rms', 'invalid_state', 'pdh0', 'vx_rms',
    'vy_rms')
_HEADER_KEYS = ('VERSION', 'FIELDS', 'SIZE', 'TYPE', 'COUNT', 'WIDTH', 'HEIGHT', 'VIEWPOINT',
                'POINTS', 'DATA')
_NUMPY_TYPE = {('F', 2): '<f2', ('F', 4): '<f4', ('F', 8): '<f8',
               ('I', 1): 'i1', ('I', 2): '<i2', ('I', 4): '<i4', ('I', 8): '<i8',
               ('U', 1): 'u1', ('U', 2): '<u2', ('U', 4): '<u4', ('U', 8): '<u8'}
_MAX_HEADER_BYTES = 4096


@dataclass(frozen=True)
class RadarFilter:
    """nuScenes' usual radar point filters: keep points whose state is in each list.

    The defaults are the devkit's ``RadarPointCloud.default_filters()``: invalid_state 0,
    dyn_prop 0-6, ambig_state 3. ``RadarFilter.disabled()`` keeps every point, like
    ``RadarPointCloud.disable_filters()``.
    """
    invalid_states: Tuple[int, ...] = (0,)
    dynprop_states: Tuple[int, ...] = tuple(range(7))
    ambig_states: Tuple[int, ...] = (3,)

    @classmethod
    def disabled(cls) -> 'RadarFilter':
        return cls(tuple(range(18)), tuple(range(8)), tuple(range(5)))

    def mask(self, points: np.ndarray) -> np.ndarray:
        """(N,) bool keep-mask for (N, 18) points in ``RADAR_PCD_FIELDS`` order."""
        col = RADAR_PCD_FIELDS.index
        return (np.isin(points[:, col('invalid_state')], self.invalid_states)
                & np.isin(points[:, col('dyn_prop')], self.dynprop_states)
                & np.isin(points[:, col('ambig_state')], self.ambig_states))


def _parse_header(path: str, raw: bytes) -> Tuple[dict, int]:
    """Return ({KEY: [values]}, byte offset of the binary data)."""
    lines, offset = [], 0
    while True:
        end = raw.find(b'\n', offset)
        if end < 0 or end > _MAX_HEADER_BYTES:
            raise SensorFileError(path, 'malformed radar PCD header: no "DATA" line found')
        try:
            line = raw[offset:end].decode('ascii').strip()
        except UnicodeDecodeError:
            raise SensorFileError(path, f'malformed radar PCD header: no "DATA" line before '
                                        f'non-text bytes in line {len(lines) + 1}') from None
        offset = end + 1
        lines.append(line)
        if line.startswith('DATA'):
            break
    if not lines[0].startswith('#'):
        raise SensorFileError(path, f'malformed radar PCD header: line 1 must be a "#" comment, '
                                    f'got {lines[0]!r}')
    body = lines[1:]
    keys = tuple(line.split(' ')[0] for line in body)
    if keys != _HEADER_KEYS:
        raise SensorFileError(path, f'malformed radar PCD header: expected lines {_HEADER_KEYS}, '
                                    f'got {keys}')
    return {line.split(' ')[0]: line.split()[1:] for line in body}, offset


def _record_dtype(path: str, header: dict) -> np.dtype:
    fields, sizes, types, counts = (header[k] for k in ('FIELDS', 'SIZE', 'TYPE', 'COUNT'))
    if tuple(fields) != RADAR_PCD_FIELDS:
        raise SensorFileError(path, f'malformed radar PCD header: FIELDS {fields} are not the 18 '
                                    f'nuScenes radar fields {list(RADAR_PCD_FIELDS)}')
    if not len(sizes) == len(types) == len(counts) == len(fields):
        raise SensorFileError(path, 'malformed radar PCD header: SIZE/TYPE/COUNT do not have one '
                                    'entry per field')
    if any(c != '1' for c in counts):
        raise SensorFileError(path, f'malformed radar PCD header: COUNT must be all 1, '
                                    f'got {counts}')
    try:
        formats = [_NUMPY_TYPE[(t, int(s))] for t, s in zip(types, sizes)]
    except (KeyError, ValueError):
        raise SensorFileError(path, f'malformed radar PCD header: unsupported TYPE/SIZE '
                                    f'{types}/{sizes}') from None
    return np.dtype({'names': list(fields), 'formats': formats})


def read_radar_pcd(path: str, radar_filter: RadarFilter = RadarFilter()) -> np.ndarray:
    """Read a nuScenes radar ``.pcd`` file.

    Args:
        path: file path.
        radar_filter: which points to keep (default: the devkit's default filters).

    Returns:
        (N, 18) float64 array in ``RADAR_PCD_FIELDS`` order, in the radar sensor frame
        (x forward, y left, z = 0; metres; velocities m/s; rcs dBsm). Equal to
        ``RadarPointCloud.from_file(path, ...).points.T`` for the same filter settings; like
        the devkit, a NaN first record means an empty scan.

    Raises:
        SensorFileError: missing file, malformed header, HEIGHT != 1, DATA not binary, fewer
            data bytes than WIDTH records, or NaN/Inf values in a non-empty scan.
    """
    if not os.path.isfile(path):
        raise SensorFileError(path, 'radar file does not exist')
    with open(path, 'rb') as f:
        raw = f.read()
    header, offset = _parse_header(path, raw)
    dtype = _record_dtype(path, header)
    try:
        width, height = int(header['WIDTH'][0]), int(header['HEIGHT'][0])
    except (IndexError, ValueError):
        raise SensorFileError(path, f'malformed radar PCD header: WIDTH {header["WIDTH"]} / '
                                    f'HEIGHT {header["HEIGHT"]} are not integers') from None
    if height != 1:
        raise SensorFileError(path, f'malformed radar PCD header: HEIGHT must be 1, got {height}')
    if header['DATA'] != ['binary']:
        raise SensorFileError(path, f'radar PCD DATA must be "binary", got {header["DATA"]}')
    if width < 0:
        raise SensorFileError(path, f'malformed radar PCD header: WIDTH {width} < 0')
    need = width * dtype.itemsize
    have = len(raw) - offset
    if have < need:
        raise SensorFileError(path, f'truncated radar file: header says {width} points '
                                    f'({need} bytes) but only {have} data bytes follow')
    records = np.frombuffer(raw, dtype=dtype, count=width, offset=offset)
    points = np.empty((width, len(RADAR_PCD_FIELDS)), dtype=np.float64)
    for i, name in enumerate(RADAR_PCD_FIELDS):
        points[:, i] = records[name]
    if width == 0 or np.isnan(points[0]).any():
        return np.zeros((0, len(RADAR_PCD_FIELDS)), dtype=np.float64)
    if not np.isfinite(points).all():
        bad = int((~np.isfinite(points).all(axis=1)).sum())
        raise SensorFileError(path, f'{bad} of {width} radar points hold NaN or Inf')
    return points[radar_filter.mask(points)]


def radar_filter_from_config(invalid_states: Sequence[int] | None = None,
                             dynprop_states: Sequence[int] | None = None,
                             ambig_states: Sequence[int] | None = None) -> RadarFilter:
    """A :class:`RadarFilter` with the devkit defaults for every list left as None."""
    default = RadarFilter()
    return RadarFilter(
        tuple(default.invalid_states if invalid_states is None else invalid_states),
        tuple(default.dynprop_states if dynprop_states is None else dynprop_states),
        tuple(default.ambig_states if ambig_states is None else ambig_states))
