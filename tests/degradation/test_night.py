"""Night: dark, noisy camera images; LiDAR and radar untouched."""
import copy

import cv2
import numpy as np
import pytest

from fusion_moe.degradation import build_degradation
from fusion_moe.degradation.night import simulate_night


def grey(img):
    return img.astype(np.float64).mean(axis=2)


def noise_level(img):
    """Std of the high-pass residual: what is left after a 5x5 blur."""
    g = grey(img)
    return (g - cv2.GaussianBlur(g, (5, 5), 0)).std()


@pytest.fixture(scope='module')
def night_by_severity(_real_small_clean):
    return {s: build_degradation('night', s, light_sources=False)(copy.deepcopy(_real_small_clean))
            for s in range(1, 6)}


def test_night_gets_darker_with_severity(night_by_severity, _real_small_clean):
    clean = np.mean([grey(i).mean() for i in _real_small_clean['img']])
    means = [np.mean([grey(i).mean() for i in night_by_severity[s]['img']]) for s in range(1, 6)]
    assert means[0] < clean
    assert all(a > b for a, b in zip(means, means[1:])), means
    assert means[-1] < 0.35 * clean


def test_night_noise_grows_relative_to_signal(night_by_severity):
    snr = []
    for s in range(1, 6):
        imgs = night_by_severity[s]['img']
        snr.append(np.mean([grey(i).mean() / noise_level(i) for i in imgs]))
    assert all(a > b for a, b in zip(snr, snr[1:])), snr


def test_noise_is_poisson_gaussian_signal_dependent():
    """Brighter flat patches carry more absolute noise (shot noise), a black one still some
    (read noise)."""
    rng = np.random.default_rng(0)
    levels = (0, 60, 200)
    img = np.concatenate([np.full((64, 64, 3), v, np.uint8) for v in levels], axis=1)
    out = simulate_night(img, 0.3, rng, light_sources=False)['img'].astype(np.float64)
    # measure in linear units, where shot noise variance is proportional to the signal
    linear = (out / 255.0) ** 2.2
    stds = [linear[:, 64 * i:64 * (i + 1)].std() for i in range(3)]
    assert stds[0] > 0
    assert stds[0] < stds[1] < stds[2]


def test_light_sources_add_bright_glows(small_results):
    with_lights = build_degradation('night', 4, light_sources=True)(copy.deepcopy(small_results))
    without = build_degradation('night', 4, light_sources=False)(copy.deepcopy(small_results))
    bright_with = sum(int((grey(i) > 200).sum()) for i in with_lights['img'])
    bright_without = sum(int((grey(i) > 200).sum()) for i in without['img'])
    assert with_lights['degradations'][-1]['params']['light_sources'] > 0
    assert bright_with > bright_without


def test_night_leaves_lidar_and_radar_untouched(small_results):
    clean = copy.deepcopy(small_results)
    out = build_degradation('night', 5)(small_results)
    assert np.array_equal(out['points'].tensor.numpy(), clean['points'].tensor.numpy())
    assert np.array_equal(out['radar_points'], clean['radar_points'])


def test_night_sets_lighting_and_keeps_weather(small_results):
    small_results['context'] = {'lighting': 'day', 'weather': 'rain', 'source': 'metadata'}
    out = build_degradation('night', 1)(small_results)
    assert out['context'] == {'lighting': 'night', 'weather': 'rain', 'source': 'injected'}


def test_night_skips_an_absent_camera(small_results):
    small_results['modality_present']['camera'] = False
    before = [i.copy() for i in small_results['img']]
    out = build_degradation('night', 3)(small_results)
    assert all(np.array_equal(a, b) for a, b in zip(before, out['img']))
    assert out['degradations'][-1]['params']['cameras'] == 0
