# Real nuScenes (camera + LiDAR + radar) at data/nuscenes, with info files written by
#   python tools/create_data.py nuscenes --root-path data/nuscenes --version v1.0-trainval
# Pipelines end with PackFusionInputs; the results dict before packing follows
# fusion_moe/structures/sensors.py. Degradation configs insert their transforms before packing.
dataset_type = 'FusionNuScenesDataset'
data_root = 'data/nuscenes/'
# LiDAR frame of the keyframe, metres: (x_min, y_min, z_min, x_max, y_max, z_max).
point_cloud_range = [-51.2, -51.2, -5.0, 51.2, 51.2, 3.0]
class_names = ['car', 'truck', 'trailer', 'bus', 'construction_vehicle', 'bicycle',
               'motorcycle', 'pedestrian', 'traffic_cone', 'barrier']
metainfo = dict(classes=class_names)
input_modality = dict(use_lidar=True, use_camera=True, use_radar=True)
lidar_sweeps = 10        # previous LiDAR sweeps (20 Hz) added to each keyframe
radar_sweeps = 6         # scans per radar (13 Hz), the sample's own included
camera_downscale = 2     # decode JPEGs at 1/2 size (800 x 450) with libjpeg's scaled DCT
on_missing = 'raise'     # or 'mark_absent': a bad/missing sensor file marks that modality absent
backend_args = None

load_sensors = [
    dict(type='LoadLidarSweeps', sweeps_num=lidar_sweeps, on_missing=on_missing),
    dict(type='LoadCameraImages', downscale=camera_downscale, on_missing=on_missing),
    dict(type='LoadRadarSweeps', sweeps_num=radar_sweeps, on_missing=on_missing),
]
pack = dict(type='PackFusionInputs',
            keys=['points', 'img', 'radar_points', 'gt_bboxes_3d', 'gt_labels_3d'])
# Global 3D augmentation as CenterPoint's nuScenes configs (rotation +-22.5 deg, scale 0.95-1.05,
# BEV flips), kept consistent across sensors: mmdet3d moves the LiDAR points and boxes,
# BEVRandomFlip3D flips them without mirroring the surround images, and
# PropagateLidarAugmentation moves the radar points and the camera projections to match.
global_augmentation = [
    dict(type='GlobalRotScaleTrans', rot_range=[-0.3925, 0.3925],
         scale_ratio_range=[0.95, 1.05], translation_std=[0.0, 0.0, 0.0]),
    dict(type='BEVRandomFlip3D', flip_ratio_bev_horizontal=0.5, flip_ratio_bev_vertical=0.5),
    dict(type='PropagateLidarAugmentation'),
]
train_pipeline = [
    *load_sensors,
    dict(type='LoadAnnotations3D', with_bbox_3d=True, with_label_3d=True),
    *global_augmentation,
    dict(type='PointsRangeFilter', point_cloud_range=point_cloud_range),
    dict(type='ObjectRangeFilter', point_cloud_range=point_cloud_range),
    dict(type='ObjectNameFilter', classes=class_names),
    pack,
]
test_pipeline = [
    *load_sensors,
    dict(type='PointsRangeFilter', point_cloud_range=point_cloud_range),
    dict(type='PackFusionInputs', keys=['points', 'img', 'radar_points']),
]

train_dataloader = dict(
    batch_size=4,
    num_workers=4,
    # workers restart each epoch and so see the dataset's new epoch: training-time
    # degradations draw a new stream per epoch (fusion_moe/engine/loops.py)
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='nuscenes_infos_train.pkl',
        pipeline=train_pipeline,
        metainfo=metainfo,
        modality=input_modality,
        test_mode=False,
        box_type_3d='LiDAR',
        backend_args=backend_args))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='nuscenes_infos_val.pkl',
        pipeline=test_pipeline,
        metainfo=metainfo,
        modality=input_modality,
        test_mode=True,
        box_type_3d='LiDAR',
        backend_args=backend_args))
test_dataloader = val_dataloader

# Metrics come from the nuScenes devkit through mmdet3d's NuScenesMetric.
val_evaluator = dict(
    type='NuScenesMetric',
    data_root=data_root,
    ann_file=data_root + 'nuscenes_infos_val.pkl',
    metric='bbox',
    backend_args=backend_args)
test_evaluator = val_evaluator
