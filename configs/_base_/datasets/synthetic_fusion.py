# The synthetic nuScenes-format set at data/synth, made and indexed with
#   python tools/create_synthetic.py --out data/synth --scenes 10 --samples-per-scene 8 --seed 0
#   python tools/create_data.py nuscenes --root-path data/synth --version v1.0-mini
# Same pipelines as real nuScenes (the same code paths serve both); small loaders for CPU runs.
_base_ = ['./nuscenes_fusion.py']

data_root = 'data/synth/'
train_dataloader = dict(batch_size=2, num_workers=1, persistent_workers=False,
                        dataset=dict(data_root=data_root))
val_dataloader = dict(num_workers=1, persistent_workers=False,
                      dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(data_root=data_root, ann_file=data_root + 'nuscenes_infos_val.pkl')
test_evaluator = val_evaluator
