"""tools/visualize.py and fusion_moe.viz draw the right things in the right places."""
import cv2
import numpy as np
import pytest
from mmdet3d.registry import DATASETS

from fusion_moe.viz import render_sample, stack_renders
from fusion_moe.viz.sample_render import render_bev
from tool_scripts import load_tool


def _tool():
    return load_tool('visualize')


def test_bev_puts_ego_forward_up_and_radar_arrows_along_velocity():
    """A radar return 20 m ahead moving left at 5 m/s: magenta above the centre, arrow left."""
    radar = np.array([[20.0, 0, 0, 5, 0, 5.0, 0, 0]])  # x y z rcs vx vy (ego == LiDAR here)
    panel = render_bev(np.zeros((0, 3)), radar, np.zeros((0, 8, 3)), np.zeros(0), np.eye(3),
                       size_px=220, range_m=55.0)
    magenta = np.all(panel == (255, 0, 255), axis=2)
    ys, xs = np.nonzero(magenta)
    scale = 220 / 110
    assert abs(np.median(ys) - (110 - 20 * scale)) < 3  # 20 m ahead = 40 px above centre
    assert xs.min() < 110 - 4 * scale  # the arrow reaches ~5 m to the left
    assert xs.max() <= 112


def test_render_sample_draws_cameras_and_bev(tiny_root):
    tool = _tool()
    from mmengine.config import Config
    cfg = Config.fromfile('configs/_base_/datasets/synthetic_fusion.py')
    ds_cfg = cfg.train_dataloader.dataset
    ds_cfg.update(data_root=tiny_root, pipeline=tool._loading_pipeline(cfg))
    ds = DATASETS.build(ds_cfg)
    results = ds.pipeline(ds.get_data_info(0))
    picture = render_sample(results, tile_width=160)
    tile_h = round(160 * 450 / 800)
    assert picture.shape == (24 + 2 * tile_h, 3 * 160 + 2 * tile_h, 3)
    bev = picture[24:, 3 * 160:]
    assert np.all(bev == (255, 0, 255), axis=2).sum() > 50  # radar drawn
    assert stack_renders([picture, picture]).shape[0] == 2 * (picture.shape[0] + 4)


def test_cli_renders_the_real_fixture_and_a_degraded_copy(tmp_path, real_fixture_root):
    out = tmp_path / 'real.png'
    _tool().main(['--real-fixture', real_fixture_root, '--out', str(out),
                  '--tile-width', '160', '--degradation', 'camera_dropout:5'])
    picture = cv2.imread(str(out))
    tile_h = round(160 * 900 / 1600)
    row = 24 + 2 * tile_h
    assert picture.shape[0] == 2 * (row + 4)
    clean, degraded = picture[24:row, :480], picture[row + 4 + 24:2 * row + 4, :480]
    assert clean.mean() > 40 and degraded.mean() < clean.mean()


def test_cli_refuses_a_malformed_degradation_argument():
    with pytest.raises(SystemExit):
        _tool().parse_args(['--degradation', 'fog'])
