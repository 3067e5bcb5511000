"""The base dataset configs build datasets whose pipelines run end to end."""
import pytest
from mmdet3d.registry import DATASETS
from mmengine.config import Config

CONFIGS = ['configs/_base_/datasets/nuscenes_fusion.py',
           'configs/_base_/datasets/synthetic_fusion.py']
REQUIRED = ('train_dataloader', 'val_dataloader', 'test_dataloader', 'val_evaluator',
            'test_evaluator', 'point_cloud_range', 'class_names', 'input_modality',
            'train_pipeline', 'test_pipeline')


@pytest.mark.parametrize('path', CONFIGS)
def test_config_defines_the_shared_variables(path):
    cfg = Config.fromfile(path)
    for key in REQUIRED:
        assert key in cfg, key
    assert cfg.train_pipeline[-1]['type'] == 'PackFusionInputs'
    assert cfg.test_pipeline[-1]['type'] == 'PackFusionInputs'
    assert cfg.val_evaluator['type'] == 'NuScenesMetric'
    train_set = cfg.train_dataloader.dataset
    train_set = train_set.dataset if train_set.type == 'CBGSDataset' else train_set
    root = train_set.data_root
    assert cfg.val_evaluator['ann_file'].startswith(root)
    assert cfg.test_dataloader.dataset.data_root == root


def test_nuscenes_trains_with_the_recipe_and_the_cpu_synthetic_base_without():
    nus, synth = (Config.fromfile(path) for path in CONFIGS)
    assert nus.train_dataloader.dataset.type == 'CBGSDataset'
    types = [t['type'] for t in nus.train_dataloader.dataset.dataset.pipeline]
    assert types.index('FusionObjectSample') < types.index('MultiViewImageAug') < \
        types.index('GlobalRotScaleTrans')
    sampler = nus.train_pipeline[types.index('FusionObjectSample')]['db_sampler']
    assert sampler['info_path'] == nus.data_root + 'nuscenes_dbinfos_train.pkl'
    assert [t['type'] for t in nus.test_pipeline].count('MultiViewImageAug') == 1
    assert synth.train_dataloader.dataset.type == 'FusionNuScenesDataset'
    for pipeline in (synth.train_pipeline, synth.test_pipeline):
        kinds = [t['type'] for t in pipeline]
        assert 'FusionObjectSample' not in kinds and 'MultiViewImageAug' not in kinds


def test_point_data_at_retargets_the_wrapped_dataset_and_the_gt_database():
    from fusion_moe.evaluation import point_data_at
    cfg = Config.fromfile(CONFIGS[0])
    point_data_at(cfg, 'data/synth_tv')
    inner = cfg.train_dataloader.dataset.dataset
    assert inner.data_root == 'data/synth_tv/'
    sampler = next(t['db_sampler'] for t in inner.pipeline if 'db_sampler' in t)
    assert sampler['data_root'] == 'data/synth_tv/'
    assert sampler['info_path'] == 'data/synth_tv/nuscenes_dbinfos_train.pkl'
    assert cfg.val_dataloader.dataset.data_root == 'data/synth_tv/'


@pytest.mark.parametrize('split', ['train', 'val'])
def test_config_pipelines_run_on_a_nuscenes_format_set(tiny_root, split):
    cfg = Config.fromfile(CONFIGS[1])
    dataset_cfg = cfg[f'{split}_dataloader'].dataset
    dataset_cfg.data_root = tiny_root
    ds = DATASETS.build(dataset_cfg)
    sample = ds[0]
    inputs, data_sample = sample['inputs'], sample['data_samples']
    assert inputs['points'].shape[1] == 6 and inputs['radar_points'].shape[1] == 8
    assert tuple(inputs['img'].shape) == (6, 3, 450, 800)
    assert data_sample.metainfo['modality_present'] == {'camera': True, 'lidar': True,
                                                        'radar': True}
    assert data_sample.metainfo['context']['source'] == 'metadata'
    if split == 'train':
        boxes = data_sample.gt_instances_3d.bboxes_3d
        assert len(boxes) > 10 and boxes.tensor.shape[1] == 9
        assert (data_sample.gt_instances_3d.labels_3d >= 0).all()
        # trained under global 3D augmentation, carried to radar and cameras
        assert data_sample.metainfo['lidar_aug_matrix'].shape == (4, 4)
    else:
        assert 'lidar_aug_matrix' not in data_sample.metainfo
