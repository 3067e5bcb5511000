"""Radar files: binary PCD v0.7 with nuScenes' 18 fields, as the real ARS 408 files are
written (the devkit's ``RadarPointCloud.from_file`` and our ``read_radar_pcd`` read them)."""
import numpy as np

PCD_FIELDS = ('x', 'y', 'z', 'dyn_prop', 'id', 'rcs', 'vx', 'vy', 'vx_comp', 'vy_comp',
              'is_quality_valid', 'ambig_state', 'x_rms', 'y_rms', 'invalid_state', 'pdh0',
              'vx_rms', 'vy_rms')
PCD_DTYPE = np.dtype([('x', '<f4'), ('y', '<f4'), ('z', '<f4'), ('dyn_prop', 'i1'),
                      ('id', '<i2'), ('rcs', '<f4'), ('vx', '<f4'), ('vy', '<f4'),
                      ('vx_comp', '<f4'), ('vy_comp', '<f4'), ('is_quality_valid', 'i1'),
                      ('ambig_state', 'i1'), ('x_rms', 'i1'), ('y_rms', 'i1'),
                      ('invalid_state', 'i1'), ('pdh0', 'i1'), ('vx_rms', 'i1'),
                      ('vy_rms', 'i1')])
assert PCD_DTYPE.itemsize == 43
_PCD_HEADER = ('# .PCD v0.7 - Point Cloud Data file format\nVERSION 0.7\n'
               'FIELDS ' + ' '.join(PCD_FIELDS) + '\n'
               'SIZE 4 4 4 1 2 4 4 4 4 4 1 1 1 1 1 1 1 1\n'
               'TYPE F F F I I F F F F F I I I I I I I I\n'
               'COUNT 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1\n'
               'WIDTH {n}\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS {n}\nDATA binary\n')


def encode_radar_pcd(records: np.ndarray) -> bytes:
    """Binary PCD v0.7 bytes as the nuScenes radar files: header in the standard order, 43-byte
    records, and trailing zero padding (the devkit's reader requires at least one byte after the
    last record). An empty scan is written as one NaN point, nuScenes' marker for "no returns".
    """
    if records.dtype != PCD_DTYPE:
        raise TypeError(f'radar records must have dtype {PCD_DTYPE}, got {records.dtype}')
    if len(records) == 0:
        records = np.zeros(1, dtype=PCD_DTYPE)
        records['x'] = np.nan
    body = records.tobytes()
    padding = b'\x00' * (64 - len(body) % 64 or 64)
    return _PCD_HEADER.format(n=len(records)).encode('ascii') + body + padding
