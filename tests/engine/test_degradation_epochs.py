"""Training-time degradations draw a new stream each epoch, seeded by (seed, sample, epoch);
test-time ones stay per (seed, sample), as before."""
import zlib

import numpy as np

from fusion_moe.degradation import LidarFovLoss
from fusion_moe.registry import DATASETS


def _results(**extra) -> dict:
    points = np.random.default_rng(0).normal(size=(200, 6)).astype(np.float32) * 10
    return dict(points=points, sample_idx=11, degradations=[],
                modality_present={'camera': False, 'lidar': True, 'radar': False},
                context={'lighting': 'day', 'weather': 'clear', 'source': 'metadata'}, **extra)


def _centre(**extra) -> float:
    return LidarFovLoss(severity=3, seed=5)(_results(**extra))['degradations'][0]['params'][
        'centre_deg']


def test_each_training_epoch_degrades_a_sample_anew_and_reproducibly():
    by_epoch = [_centre(train_epoch=e) for e in range(4)]
    assert len(set(by_epoch)) == 4
    assert by_epoch == [_centre(train_epoch=e) for e in range(4)]


def test_test_time_streams_stay_per_seed_and_sample():
    expected = np.random.default_rng([5, 11, zlib.crc32(b'lidar_fov')]).uniform(-180.0, 180.0)
    assert _centre() == float(expected)  # the stream of (seed, sample, degradation) alone


def test_only_training_datasets_tell_the_epoch(synth_root):
    kwargs = dict(type='FusionNuScenesDataset', data_root=synth_root,
                  ann_file='nuscenes_infos_train.pkl', pipeline=[])
    train = DATASETS.build(kwargs)
    assert train.get_data_info(0)['train_epoch'] == 0
    train.set_epoch(3)
    assert train.get_data_info(0)['train_epoch'] == 3
    test = DATASETS.build(dict(kwargs, test_mode=True))
    test.set_epoch(3)
    assert 'train_epoch' not in test.get_data_info(0)
