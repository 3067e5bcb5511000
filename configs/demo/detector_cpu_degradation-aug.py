# The CPU demo detector (configs/demo/detector_cpu.py) trained with degradations as augmentation:
# with probability 0.3 a training sample gets fog, night, camera or LiDAR failure at a random
# severity (configs/_base_/degradations/train_augmentation.py), after loading, in the sensors'
# frame. Ablation of the robustness benchmark: does degraded training data make the dense
# detector more robust?
#   python tools/train.py configs/demo/detector_cpu_degradation-aug.py --work-dir DIR
_base_ = ['./detector_cpu.py', '../_base_/degradations/train_augmentation.py']

train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadLidarSweeps', sweeps_num=1),  # as detector_cpu.py's demo_sensors
    dict(type='LoadCameraImages', downscale=8),
    dict(type='LoadRadarSweeps', sweeps_num=3),
    dict(type='LoadAnnotations3D', with_bbox_3d=True, with_label_3d=True),
    dict(type='PointsRangeFilter', point_cloud_range={{_base_.bev_point_cloud_range}}),
    dict(type='ObjectRangeFilter', point_cloud_range={{_base_.bev_point_cloud_range}}),
    dict(type='ObjectNameFilter', classes={{_base_.demo_classes}}),
    {{_base_.degradation_augmentation}},
    dict(type='PackFusionInputs', keys={{_base_.demo_pack_keys}}),
]))
