# Camera (ResNet-50 + FPN, Simple-BEV sampling) + LiDAR (0.2 m pillars) + radar (point MLP),
# concat-conv fuser, SECOND + SECONDFPN, CenterHead; nuScenes, 8 GPUs x 4 samples, 20 epochs.
_base_ = [
    '../_base_/datasets/nuscenes_fusion.py', '../_base_/models/fusion_centerpoint.py',
    '../_base_/schedules/adamw_cosine_20e.py', '../_base_/default_runtime.py'
]
train_dataloader = dict(batch_size=4, num_workers=4)
# the devkit's metrics_summary.json is kept under <work_dir>/nuscenes_eval (tools/train.py)
val_evaluator = dict(type='FusionNuScenesMetric')
test_evaluator = val_evaluator
# GT sampling off for the last 5 of the 20 epochs, so training ends on real scenes
# (mmdet3d's TransFusion / BEVFusion recipe; the hook finds FusionObjectSample as ObjectSample)
default_hooks = dict(disable_object_sample=dict(type='DisableObjectSampleHook',
                                                disable_after_epoch=15))
