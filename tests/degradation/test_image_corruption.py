"""ImageNet-C corruptions through the imagecorruptions package."""
import copy

import numpy as np
import pytest

from fusion_moe.degradation import ImageCorruption, build_degradation
from fusion_moe.degradation.corruption import corruption_names, shift_hsv_value


def test_all_nineteen_package_corruptions_are_offered():
    assert len(corruption_names()) == 19
    assert {'brightness', 'contrast', 'motion_blur', 'snow', 'fog'} <= set(corruption_names())


def test_unknown_corruption_is_refused_with_the_list():
    with pytest.raises(ValueError, match='motion_blur'):
        ImageCorruption('smudge', 3)


def test_brightness_brightens_and_contrast_flattens(tiny_results):
    clean = np.mean([i.mean() for i in tiny_results['img']])
    clean_std = np.mean([i.std() for i in tiny_results['img']])
    bright = build_degradation('brightness', 4)(copy.deepcopy(tiny_results))
    flat = build_degradation('contrast', 4)(copy.deepcopy(tiny_results))
    assert np.mean([i.mean() for i in bright['img']]) > clean + 20
    assert np.mean([i.std() for i in flat['img']]) < 0.5 * clean_std


def test_channel_order_is_kept(tiny_results):
    """Our images are BGR, the package works in RGB: frost's bluish tint must come out blue,
    i.e. in channel 0 of our BGR images."""
    grey = [np.full_like(img, 100) for img in tiny_results['img']]
    tiny_results['img'] = grey
    out = build_degradation('frost', 4)(tiny_results)
    blue = np.mean([img[..., 0].mean() for img in out['img']])
    red = np.mean([img[..., 2].mean() for img in out['img']])
    assert blue > red + 3


def test_corruption_does_not_disturb_global_numpy_random_state(tiny_results):
    np.random.seed(123)
    expected = np.random.rand(3)
    np.random.seed(123)
    build_degradation('gaussian_noise', 3)(tiny_results)
    assert np.array_equal(np.random.rand(3), expected)


def test_image_fog_is_recorded_under_its_own_name_and_sets_weather(tiny_results):
    out = build_degradation('image_fog', 2)(tiny_results)
    assert out['degradations'][-1]['name'] == 'image_fog'
    assert out['degradations'][-1]['params']['corruption'] == 'fog'
    assert out['context']['weather'] == 'fog'


def test_severity_is_passed_through(tiny_results):
    stds = [np.mean([i.std() for i in build_degradation('contrast', s)(
        copy.deepcopy(tiny_results))['img']]) for s in range(1, 6)]
    assert all(a > b for a, b in zip(stds, stds[1:])), stds


@pytest.mark.parametrize('severity,shift', [(1, .1), (2, .2), (3, .3), (4, .4), (5, .5)])
def test_hsv_value_shift_is_the_packages_brightness(severity, shift, tiny_results):
    from imagecorruptions import corrupt
    rgb = tiny_results['img'][0][:, :, ::-1].copy()
    assert np.array_equal(shift_hsv_value(rgb, shift),
                          corrupt(rgb, corruption_name='brightness', severity=severity))


def test_multicorrupt_brightness_goes_past_the_packages_strongest(tiny_results):
    strongest = build_degradation('brightness', 5)(copy.deepcopy(tiny_results))
    means = [np.mean([i.mean() for i in strongest['img']])]
    for severity, shift in ((1, 0.5), (2, 0.6), (3, 0.7)):
        out = build_degradation('brightness', severity, preset='multicorrupt')(
            copy.deepcopy(tiny_results))
        record = out['degradations'][-1]
        assert record['preset'] == 'multicorrupt' and record['params']['value_shift'] == shift
        means.append(np.mean([i.mean() for i in out['img']]))
    assert means[1] == pytest.approx(means[0])              # MultiCorrupt 1 = package 5
    assert means[1] < means[2] < means[3]
