# The synthetic nuScenes-format set at data/synth, made and indexed with
#   python tools/create_synthetic.py --out data/synth --scenes 10 --samples-per-scene 8 --seed 0
#   python tools/create_data.py nuscenes --root-path data/synth --version v1.0-mini
# Same loading and global 3D augmentation as real nuScenes (the same code paths serve both),
# without the nuScenes training recipe (CBGS, GT sampling, image augmentation; the
# nuScenes-size configs train on this set with `tools/train.py CONFIG --data-root data/synth`
# after `tools/create_data.py ... --gt-database`); small loaders for CPU runs.
_base_ = ['./nuscenes_fusion.py']

data_root = 'data/synth/'
train_pipeline = {{_base_.basic_train_pipeline}}
test_pipeline = {{_base_.basic_test_pipeline}}
train_dataloader = dict(
    batch_size=2, num_workers=1, persistent_workers=False,
    dataset=dict(_delete_=True, type={{_base_.dataset_type}}, data_root=data_root,
                 ann_file='nuscenes_infos_train.pkl', pipeline=train_pipeline,
                 metainfo={{_base_.metainfo}}, modality={{_base_.input_modality}},
                 test_mode=False, box_type_3d='LiDAR'))
val_dataloader = dict(num_workers=1, persistent_workers=False,
                      dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(data_root=data_root, ann_file=data_root + 'nuscenes_infos_val.pkl')
test_evaluator = val_evaluator
