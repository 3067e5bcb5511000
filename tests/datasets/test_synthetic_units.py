"""Specification of the synthetic nuScenes generator's parts: naming and splits, scene
descriptions, the sensor models (LiDAR, camera, radar file format), options and determinism."""
import json
import os
import sys

import numpy as np
import pytest
from nuscenes.utils import splits
from nuscenes.utils.data_classes import RadarPointCloud

from fusion_moe.data.synthetic import generate_dataset, scene_identities, version_for
from fusion_moe.data.synthetic.camera import CameraRenderer
from fusion_moe.data.synthetic.geometry import invert_pose, transform_points
from fusion_moe.data.synthetic.lidar import GROUND, NUM_AZIMUTHS, NUM_BEAMS, cast_scan
from fusion_moe.data.synthetic.naming import scene_names
from fusion_moe.data.synthetic.radar_pcd import PCD_DTYPE, encode_radar_pcd
from fusion_moe.data.synthetic.rig import build_rig
from fusion_moe.data.synthetic.world import WorldParts
from fusion_moe.structures import context_from_description
from fusion_moe.data.real_fixture import REAL_INFO_FILE, REAL_RADAR_SCANS
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # synth_fixtures
from synth_fixtures import RATES_SET, files_under, make_set  # noqa: E402


def _one_box_world(center, half, colour=(0, 0, 255)) -> WorldParts:
    return WorldParts(np.array([center], dtype=np.float64), np.array([half], dtype=np.float64),
                      np.zeros(1), np.zeros(1, dtype=np.int64),
                      np.array([colour], dtype=np.uint8), np.array([0.5], dtype=np.float32))


# ---- versions, scene names, descriptions ----------------------------------------------------
def test_version_follows_scene_count():
    assert version_for(1) == 'v1.0-mini'
    assert version_for(10) == 'v1.0-mini'
    assert version_for(11) == 'v1.0-trainval'
    with pytest.raises(ValueError, match='num_scenes'):
        version_for(0)
    with pytest.raises(ValueError, match='num_scenes'):
        version_for(851)


@pytest.mark.parametrize('num_scenes', [2, 4, 10, 11, 40])
def test_scene_names_are_official_and_cover_train_and_val(num_scenes):
    names = scene_names(num_scenes)
    mini = num_scenes <= 10
    train = set(splits.mini_train if mini else splits.train)
    val = set(splits.mini_val if mini else splits.val)
    assert len({n for n, _ in names}) == num_scenes
    assert all((n in val) == s.endswith('val') and (n in train) == s.endswith('train')
               for n, s in names)
    assert any(s.endswith('val') for _, s in names)
    assert any(s.endswith('train') for _, s in names)


def test_descriptions_state_conditions_that_parse_back_to_the_scene_context():
    scenes = scene_identities(10, night_share=0.3, rain_share=0.4, seed=3)
    assert sum(s.lighting == 'night' for s in scenes) == 3
    assert sum(s.weather == 'rain' for s in scenes) == 4
    for s in scenes:
        ctx = context_from_description(s.description)
        assert (ctx['lighting'], ctx['weather']) == (s.lighting, s.weather), s.description
        if s.lighting == 'night':
            assert s.description.startswith('Night')
        elif s.weather == 'rain':
            assert s.description.startswith('Rain')


def test_night_scenes_start_in_the_evening_local_time():
    scenes = scene_identities(10, night_share=0.5, rain_share=0.0, seed=1)
    for s in scenes:
        hour = int(s.log_name.split('-')[4])
        assert (hour >= 19) == (s.lighting == 'night'), s.log_name


# ---- LiDAR -----------------------------------------------------------------------------------
def test_lidar_scan_hits_ground_and_a_box_at_the_right_range():
    rng = np.random.default_rng(0)
    # a 2 m cube whose near face is 10 m ahead of the LiDAR (LiDAR frame: ground 1.84 m below)
    parts = _one_box_world((11.0, 0.0, -0.84), (1.0, 1.0, 1.0))
    scan = cast_scan(parts, np.eye(4), 1.84, wet=False, rng=rng)
    pts, owner = scan.points, scan.owner
    assert pts.dtype == np.float32 and pts.shape[1] == 5
    assert 0.6 * NUM_BEAMS * NUM_AZIMUTHS < len(pts) <= NUM_BEAMS * NUM_AZIMUTHS
    on_box = owner == 0
    assert on_box.sum() > 50
    np.testing.assert_allclose(pts[on_box, 0], 10.0, atol=0.1)
    assert np.all(np.abs(pts[on_box, 1]) <= 1.05)
    ground = owner == GROUND
    np.testing.assert_allclose(pts[ground, 2], -1.84, atol=0.12)
    # nothing is seen through the box
    behind = (pts[:, 0] > 10.2) & (np.abs(pts[:, 1]) < 0.9) & (pts[:, 2] > -1.7)
    assert not behind.any()
    assert set(np.unique(pts[:, 4]).astype(int)) <= set(range(NUM_BEAMS))
    assert pts[:, 3].min() >= 0 and pts[:, 3].max() <= 255


# ---- cameras ---------------------------------------------------------------------------------
def test_camera_draws_a_box_where_it_projects_and_handles_occlusion():
    rig = build_rig((320, 180))
    cam = rig.cameras['CAM_FRONT']
    renderer = CameraRenderer(cam, 'day', 'clear', lane_y_m=-1.75)
    # ego frame: a red box 15 m ahead, a blue box 30 m ahead right behind it
    far = _one_box_world((30.0, 0.0, 1.0), (1.0, 1.0, 1.0), colour=(255, 0, 0))
    near = _one_box_world((15.0, 0.0, 1.0), (1.0, 1.0, 1.0), colour=(0, 0, 255))
    both = WorldParts(*[np.concatenate([getattr(near, f), getattr(far, f)])
                        for f in ('centers', 'half', 'yaw', 'owner', 'colours',
                                  'reflectivity')])
    both.owner[1] = 1
    frame = renderer.render(both, 2, 0.0, np.zeros((0, 7)), seed=0)
    uvw = transform_points(invert_pose(cam.ego_T_cam), np.array([14.0, 0.0, 1.0])) @ \
        cam.intrinsic.T
    u, v = (uvw[:2] / uvw[2]).round().astype(int)
    b, g, r = frame.image[v, u].astype(int)
    assert r > 120 and r > b + 60, (b, g, r)
    assert frame.visible_px[0] > 100
    assert frame.projected_px[1] > 0
    assert frame.visible_px[1] < 0.2 * frame.projected_px[1]  # hidden behind the red box


def test_night_images_are_darker_and_rain_images_dimmer_than_day():
    cam = build_rig((320, 180)).cameras['CAM_FRONT']
    empty = WorldParts(np.zeros((0, 3)), np.zeros((0, 3)), np.zeros(0),
                       np.zeros(0, dtype=np.int64), np.zeros((0, 3), np.uint8),
                       np.zeros(0, np.float32))
    means = {}
    for lighting, weather in (('day', 'clear'), ('day', 'rain'), ('night', 'clear')):
        r = CameraRenderer(cam, lighting, weather, lane_y_m=-1.75)
        means[lighting, weather] = r.render(empty, 0, 0.0, np.zeros((0, 7)), 0).image.mean()
    assert means['night', 'clear'] < 0.4 * means['day', 'clear']
    assert means['day', 'rain'] < 0.9 * means['day', 'clear']


# ---- radar file format -----------------------------------------------------------------------
def test_radar_pcd_is_read_back_by_the_devkit(tmp_path):
    rng = np.random.default_rng(0)
    rec = np.zeros(7, dtype=PCD_DTYPE)
    for field in ('x', 'y', 'rcs', 'vx', 'vy', 'vx_comp', 'vy_comp'):
        rec[field] = rng.normal(size=7)
    rec['ambig_state'] = 3
    rec['dyn_prop'] = [0, 1, 2, 3, 4, 5, 7]
    rec['id'] = np.arange(7)
    path = tmp_path / 'r.pcd'
    path.write_bytes(encode_radar_pcd(rec))
    RadarPointCloud.disable_filters()
    try:
        pc = RadarPointCloud.from_file(str(path))
    finally:
        RadarPointCloud.default_filters()
    assert pc.points.shape == (18, 7)
    np.testing.assert_array_equal(pc.points[0], rec['x'].astype(np.float64))
    np.testing.assert_array_equal(pc.points[3], rec['dyn_prop'])
    np.testing.assert_array_equal(pc.points[8], rec['vx_comp'].astype(np.float64))
    # default devkit filters drop dyn_prop 7 (stopped) only
    assert RadarPointCloud.from_file(str(path)).points.shape[1] == 6


def test_radar_pcd_header_matches_the_real_sensor_files_and_empty_scans_are_marked(
        real_fixture_root):
    real = sorted(REAL_RADAR_SCANS)[0]
    with open(os.path.join(real_fixture_root, 'radar', real), 'rb') as f:
        real_header = f.read().split(b'DATA binary\n')[0].decode().splitlines()
    ours = encode_radar_pcd(np.zeros(125, dtype=PCD_DTYPE)).split(b'DATA binary\n')[0]
    assert ours.decode().splitlines() == real_header
    empty = encode_radar_pcd(np.zeros(0, dtype=PCD_DTYPE))
    assert b'WIDTH 1\n' in empty  # one NaN point: nuScenes' marker for "no returns"
    with pytest.raises(TypeError, match='dtype'):
        encode_radar_pcd(np.zeros(3, dtype=np.float32))


# ---- options and safety ----------------------------------------------------------------------
def test_unknown_options_and_bad_counts_are_rejected(tmp_path):
    with pytest.raises(TypeError, match='lidar_beams'):
        generate_dataset(str(tmp_path), num_scenes=2, lidar_beams=64)
    with pytest.raises(ValueError, match='samples_per_scene'):
        generate_dataset(str(tmp_path), num_scenes=2, samples_per_scene=1)
    with pytest.raises(ValueError, match='night_share'):
        generate_dataset(str(tmp_path), num_scenes=2, night_share=1.5)
    with pytest.raises(ValueError, match='seed'):
        generate_dataset(str(tmp_path), num_scenes=2, seed=-1)
    with pytest.raises(ValueError, match='image_size'):
        generate_dataset(str(tmp_path), num_scenes=2, image_size=(8, 8))
    with pytest.raises(ValueError, match='workers'):
        generate_dataset(str(tmp_path), num_scenes=2, workers=-1)
    assert not os.listdir(tmp_path)  # nothing written for rejected arguments


def test_refuses_to_delete_a_folder_it_did_not_write(tmp_path):
    (tmp_path / 'samples').mkdir()
    (tmp_path / 'samples' / 'precious.txt').write_text('real data')
    with pytest.raises(FileExistsError, match='not a synthetic set'):
        generate_dataset(str(tmp_path), num_scenes=2, samples_per_scene=2, overwrite=True)
    assert (tmp_path / 'samples' / 'precious.txt').exists()


# ---- default rates, layout and determinism ---------------------------------------------------
@pytest.fixture(scope='module')
def rates_sets(tmp_path_factory):
    a = tmp_path_factory.mktemp('synth_rates_a')
    b = tmp_path_factory.mktemp('synth_rates_b')
    make_set(a, seed=5, workers=1, **RATES_SET)  # scenes one after the other in this process
    make_set(b, seed=5, workers=2, **RATES_SET)  # scenes in two forked worker processes
    return str(a), str(b)


def test_same_seed_gives_byte_identical_sets_for_any_number_of_workers(rates_sets, tmp_path):
    a, b = rates_sets
    files_a, files_b = files_under(a), files_under(b)
    assert sorted(files_a) == sorted(files_b)
    assert all(files_a[k] == files_b[k] for k in files_a)
    make_set(tmp_path, seed=6, **RATES_SET)
    other = files_under(str(tmp_path))
    assert other['v1.0-mini/sample_annotation.json'] != files_a['v1.0-mini/sample_annotation.json']


def test_sensor_rates_and_layout_follow_nuscenes(rates_sets):
    from nuscenes import NuScenes
    root = rates_sets[0]
    nusc = NuScenes('v1.0-mini', root, verbose=False)
    for folder in ('samples', 'sweeps'):
        assert os.path.isdir(os.path.join(root, folder, 'LIDAR_TOP'))
    sample = nusc.get('sample', nusc.scene[0]['first_sample_token'])
    nxt = nusc.get('sample', sample['next'])
    assert nxt['timestamp'] - sample['timestamp'] == 500_000  # 2 Hz keyframes, microseconds
    # LiDAR: 9 sweeps between keyframes, 50 ms apart (20 Hz)
    sd = nusc.get('sample_data', nxt['data']['LIDAR_TOP'])
    chain = []
    while sd['prev']:
        sd = nusc.get('sample_data', sd['prev'])
        chain.append(sd)
    assert [c['is_key_frame'] for c in chain] == [False] * 9 + [True]
    assert all(c['filename'].startswith('sweeps/LIDAR_TOP/') for c in chain[:-1])
    gaps = np.diff([c['timestamp'] for c in chain[::-1]])
    np.testing.assert_allclose(gaps, 50_000, atol=1)
    # radar: 13 Hz, keyframe scan within half a period of the sample
    for channel in ('RADAR_FRONT', 'RADAR_BACK_LEFT'):
        key = nusc.get('sample_data', nxt['data'][channel])
        assert abs(key['timestamp'] - nxt['timestamp']) <= 1e6 / 13 / 2 + 1
        prev = nusc.get('sample_data', key['prev'])
        assert abs(key['timestamp'] - prev['timestamp'] - 1e6 / 13) <= 1
    # cameras: keyframes only, at the requested size
    cam = nusc.get('sample_data', sample['data']['CAM_FRONT'])
    assert (cam['width'], cam['height']) == RATES_SET['image_size']
    with open(os.path.join(root, 'SYNTHETIC.json')) as f:
        meta = json.load(f)
    assert meta['options']['lidar_sweeps'] == 9 and meta['seed'] == 5


# ---- CLI and timing API ----------------------------------------------------------------------
def test_cli_writes_a_set_the_devkit_loads_and_reports_progress(tmp_path, capsys, caplog):
    from nuscenes import NuScenes
    from tool_scripts import load_tool
    cli = load_tool('create_synthetic')
    out = tmp_path / 'synth'
    with caplog.at_level('INFO', logger='fusion_moe.data.synthetic.generator'):
        assert cli.main(['--out', str(out), '--scenes', '2', '--samples-per-scene', '2',
                         '--seed', '1', '--image-size', '64', '36', '--lidar-sweeps', '0']) == 0
    assert capsys.readouterr().out.strip().endswith('v1.0-mini')
    progress = [r.getMessage() for r in caplog.records if 'ETA' in r.getMessage()]
    assert len(progress) == 2  # one line per scene: keyframes done, rate and time left
    assert '2/4 keyframes' in progress[0] and '4/4 keyframes' in progress[1]
    nusc = NuScenes('v1.0-mini', str(out), verbose=False)
    assert len(nusc.sample) == 4
    with pytest.raises(FileExistsError, match='overwrite'):
        cli.main(['--out', str(out), '--scenes', '2', '--samples-per-scene', '2'])


def test_keyframe_timing_reports_throughput_per_stage():
    from fusion_moe.data.synthetic import generate_keyframe_timing
    timing = generate_keyframe_timing(image_size=(64, 36), samples_per_scene=2, num_scenes=1)
    assert timing['keyframes'] == 2
    assert timing['keyframes_per_s'] == pytest.approx(2 / timing['seconds'])
    assert timing['keyframes_per_cpu_s'] == pytest.approx(2 / timing['cpu_seconds'])
    for stage in ('setup', 'lidar', 'camera', 'radar', 'io_tables'):
        assert timing[f'stage_{stage}'] > 0


def test_rig_matches_the_real_nuscenes_calibration(real_fixture_root):
    import pickle
    with open(os.path.join(real_fixture_root, REAL_INFO_FILE), 'rb') as f:
        real = pickle.load(f)['data_list'][0]
    rig = build_rig((1600, 900))
    for name, cam in rig.cameras.items():
        real_k = np.array(real['images'][name]['cam2img'])
        real_pose = np.array(real['images'][name]['cam2ego'])
        np.testing.assert_allclose(cam.intrinsic, real_k, rtol=0.01, atol=1.0)
        np.testing.assert_allclose(cam.ego_T_cam[:3, 3], real_pose[:3, 3], atol=0.05)
        cos = cam.ego_T_cam[:3, 2] @ real_pose[:3, 2]  # optical axes
        assert cos > np.cos(np.deg2rad(2.0)), name
    real_lidar = np.array(real['lidar_points']['lidar2ego'])
    np.testing.assert_allclose(rig.ego_T_lidar[:3, 3], real_lidar[:3, 3], atol=0.05)
    np.testing.assert_allclose(rig.ego_T_lidar[:3, :3], real_lidar[:3, :3], atol=0.03)
