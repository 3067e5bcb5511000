"""tools/render_degradations.py draws the fog-severity sheet of the real keyframe."""
import cv2

from fusion_moe.data.real_keyframe import build_real_keyframe_results, downscale_images
from tool_scripts import load_tool


def _render_module():
    return load_tool('render_degradations')


def test_fog_sheet_shows_clear_air_and_five_severities(real_fixture_root, tmp_path):
    clean = downscale_images(build_real_keyframe_results(real_fixture_root), 8)
    path = str(tmp_path / 'fog_severities.png')
    _render_module().fog_sheet(clean, seed=0, path=path)
    img = cv2.imread(path)
    assert img is not None and img.shape[1] > 1.5 * img.shape[0]    # six columns, landscape
    # fog returns are drawn in their own colour (orange: high red, low blue)
    orange = (img[:, :, 2] > 200) & (img[:, :, 1] > 80) & (img[:, :, 1] < 160) & \
        (img[:, :, 0] < 60)
    assert orange.sum() > 500
