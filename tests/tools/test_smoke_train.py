"""The nuScenes configs' training set, pointed at a small synthetic set in v1.0-trainval form,
serves samples with the whole recipe (CBGS, GT sampling, image and 3D augmentation), and
tools/smoke_train.py trains a config for the iterations it is asked for."""
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config

from fusion_moe.structures import CLASSES
from tool_scripts import load_tool

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
NUSCENES_CONFIG = osp.join(REPO, 'configs', 'detector',
                           'fusion-centerpoint_cam-lidar-radar_second_secfpn_8xb4-cosine-'
                           '20e_nus-3d.py')


@pytest.fixture(scope='module')
def trainval_root(tmp_path_factory):
    """11 scenes x 2 samples (v1.0-trainval names), tiny images, info files, GT database."""
    from fusion_moe.data import create_gt_database, create_nuscenes_infos
    from fusion_moe.data.synthetic import generate_dataset
    root = str(tmp_path_factory.mktemp('synth_trainval'))
    version = generate_dataset(root, num_scenes=11, samples_per_scene=2, seed=0,
                               image_size=(160, 90), lidar_sweeps=1)
    assert version == 'v1.0-trainval'
    create_nuscenes_infos(root, version, max_sweeps=1, max_radar_sweeps=2)
    create_gt_database(root, lidar_sweeps=1, radar_sweeps=2)
    return root


def test_the_nuscenes_training_set_serves_recipe_samples(trainval_root):
    from mmengine.registry import init_default_scope

    from fusion_moe.evaluation import point_data_at
    from fusion_moe.registry import DATASETS
    init_default_scope('mmdet3d')
    cfg = Config.fromfile(NUSCENES_CONFIG)
    point_data_at(cfg, trainval_root)
    assert load_tool('smoke_train').recipe_parts(cfg) == {
        'CBGS': True, 'GT sampling': True, 'image augmentation': True,
        'global 3D augmentation': True}
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    inner = dataset.dataset
    assert len(dataset) > len(inner)  # CBGS repeats samples of the rarer classes
    np.random.seed(0)
    sample = dataset[0]
    inputs, meta = sample['inputs'], sample['data_samples'].metainfo
    assert tuple(inputs['img'].shape) == (6, 3, 256, 704)  # BEVFusion's input size
    assert np.stack(meta['img_aug_matrix']).shape == (6, 4, 4)
    assert meta['lidar_aug_matrix'].shape == (4, 4)
    # GT sampling draws from this set's database (CenterPoint's counts per class: whether a
    # given sample gets pastes depends on how many boxes it already has)
    paste = next(t for t in inner.pipeline.transforms if type(t).__name__ == 'FusionObjectSample')
    assert paste.db_sampler.data_root.rstrip('/') == trainval_root.rstrip('/')
    assert set(paste.db_sampler.db_infos) == set(CLASSES)
    assert len(sample['data_samples'].gt_instances_3d) > 0


def test_smoke_train_runs_the_asked_iterations_and_reports_losses(
        trainval_root, tmp_path, capsys):
    rows = load_tool('smoke_train').main([
        osp.join(REPO, 'configs', 'demo', 'detector_cpu.py'), '--data-root', trainval_root,
        '--work-dir', str(tmp_path), '--iters', '2'])
    assert len(rows) == 2 and all(np.isfinite(loss) and seconds > 0 for loss, seconds in rows)
    out = capsys.readouterr().out
    assert 'recipe: CBGS OFF' in out and 'iter 2: loss' in out and 'peak resident memory' in out


def test_gt_sampling_stops_at_the_configured_epoch_through_the_cbgs_wrapper(trainval_root):
    """mmdet3d's DisableObjectSampleHook (in the nuScenes configs' default_hooks) reaches
    FusionObjectSample inside CBGSDataset, after which no sample gets pasted objects."""
    from types import SimpleNamespace

    from mmengine.logging import MMLogger
    from mmengine.registry import init_default_scope

    from fusion_moe.evaluation import point_data_at
    from fusion_moe.registry import DATASETS, HOOKS
    init_default_scope('mmdet3d')
    cfg = Config.fromfile(NUSCENES_CONFIG)
    point_data_at(cfg, trainval_root)
    hook = HOOKS.build(cfg.default_hooks.disable_object_sample)
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    paste = next(t for t in dataset.dataset.pipeline.transforms
                 if type(t).__name__ == 'FusionObjectSample')
    runner = SimpleNamespace(epoch=14, model=None, logger=MMLogger.get_current_instance(),
                             train_dataloader=SimpleNamespace(dataset=dataset))
    hook.before_train_epoch(runner)
    assert not paste.disabled
    runner.epoch = cfg.default_hooks.disable_object_sample.disable_after_epoch
    hook.before_train_epoch(runner)
    assert paste.disabled
    results = paste(dict(gt_bboxes_3d=None, gt_labels_3d=np.zeros(0, np.int64)))
    assert not results['gt_sampled'].any()
