"""The radar reader gives exactly the devkit's arrays, and refuses malformed files by name."""
import os.path as osp

import numpy as np
import pytest
from nuscenes.utils.data_classes import RadarPointCloud

from fusion_moe.data import RADAR_PCD_FIELDS, RadarFilter, SensorFileError, read_radar_pcd
from fusion_moe.data.real_fixture import REAL_RADAR_SCANS


@pytest.fixture
def real_radar(real_fixture_root):
    """Paths of the three real radar scans of the fixture."""
    return [osp.join(real_fixture_root, 'radar', name) for name in sorted(REAL_RADAR_SCANS)]


@pytest.mark.parametrize('index', range(len(REAL_RADAR_SCANS)))
def test_default_filters_match_the_devkit_exactly(real_radar, index):
    path = real_radar[index]
    ours = read_radar_pcd(path)
    theirs = RadarPointCloud.from_file(path).points.T
    assert ours.shape == theirs.shape and ours.shape[1] == 18
    assert 0 < len(ours) < 125  # the default filters drop some of the 125 returns
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize('index', range(len(REAL_RADAR_SCANS)))
def test_disabled_filters_match_the_devkit_exactly(real_radar, index):
    path = real_radar[index]
    ours = read_radar_pcd(path, RadarFilter.disabled())
    theirs = RadarPointCloud.from_file(path, invalid_states=list(range(18)),
                                       dynprop_states=list(range(8)),
                                       ambig_states=list(range(5))).points.T
    assert ours.shape == (125, 18)
    np.testing.assert_array_equal(ours, theirs)


def test_custom_filter_matches_the_devkit_moving_only(real_radar):
    path = real_radar[0]
    ours = read_radar_pcd(path, RadarFilter(dynprop_states=(0, 2, 6)))
    theirs = RadarPointCloud.from_file(path, dynprop_states=[0, 2, 6]).points.T
    np.testing.assert_array_equal(ours, theirs)
    assert set(ours[:, RADAR_PCD_FIELDS.index('dyn_prop')]) <= {0, 2, 6}


def _copy_with(tmp_path, source: str, edit) -> str:
    raw = open(source, 'rb').read()
    out = tmp_path / 'bad.pcd'
    out.write_bytes(edit(raw))
    return str(out)


@pytest.mark.parametrize('edit, problem', [
    (lambda raw: raw.replace(b'HEIGHT 1', b'HEIGHT 2'), 'HEIGHT must be 1'),
    (lambda raw: raw.replace(b'DATA binary', b'DATA ascii'), 'must be "binary"'),
    (lambda raw: raw.replace(b'VERSION 0.7\n', b''), 'expected lines'),
    (lambda raw: raw.replace(b' vy_rms', b' vz_rms'), 'FIELDS'),
    (lambda raw: raw.replace(b'SIZE 4 4 4 1', b'SIZE 4 4 4 3'), 'unsupported TYPE/SIZE'),
    (lambda raw: raw.replace(b'WIDTH 125', b'WIDTH many'), 'not integers'),
    (lambda raw: raw.replace(b'DATA binary\n', b'DAT binary\n'), 'no "DATA" line'),
    (lambda raw: raw[:raw.index(b'DATA binary\n') + 12 + 43 * 100], 'truncated radar file'),
], ids=['height', 'ascii', 'no-version', 'fields', 'size', 'width', 'no-data', 'truncated'])
def test_malformed_files_raise_naming_file_and_problem(tmp_path, real_radar, edit, problem):
    path = _copy_with(tmp_path, real_radar[0], edit)
    with pytest.raises(SensorFileError, match=problem) as info:
        read_radar_pcd(path)
    assert info.value.path == path and path in str(info.value)


def test_missing_file_raises_naming_it(tmp_path):
    with pytest.raises(SensorFileError, match='does not exist'):
        read_radar_pcd(str(tmp_path / 'nope.pcd'))


def test_nan_in_a_later_point_is_refused_but_nan_first_point_means_empty(tmp_path, real_radar):
    raw = bytearray(open(real_radar[0], 'rb').read())
    start = raw.index(b'DATA binary\n') + len(b'DATA binary\n')
    nan = np.array([np.nan], np.float32).tobytes()
    later = bytearray(raw)
    later[start + 43 * 5:start + 43 * 5 + 4] = nan  # x of point 5
    (tmp_path / 'later.pcd').write_bytes(bytes(later))
    with pytest.raises(SensorFileError, match='NaN or Inf'):
        read_radar_pcd(str(tmp_path / 'later.pcd'))
    first = bytearray(raw)
    first[start:start + 4] = nan
    (tmp_path / 'first.pcd').write_bytes(bytes(first))
    assert read_radar_pcd(str(tmp_path / 'first.pcd')).shape == (0, 18)
    assert RadarPointCloud.from_file(str(tmp_path / 'first.pcd')).points.shape == (18, 0)
