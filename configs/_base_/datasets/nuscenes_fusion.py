# Real nuScenes (camera + LiDAR + radar) at data/nuscenes, with info files written by
#   python tools/create_data.py nuscenes --root-path data/nuscenes --version v1.0-trainval
# Training uses the field's nuScenes recipe: CBGS, GT sampling (needs --gt-database), image
# augmentation and global 3D augmentation, all kept consistent across the sensors.
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
# The pipelines without the training recipe below (CPU-sized synthetic runs use these).
basic_train_pipeline = [
    *load_sensors,
    dict(type='LoadAnnotations3D', with_bbox_3d=True, with_label_3d=True),
    *global_augmentation,
    dict(type='PointsRangeFilter', point_cloud_range=point_cloud_range),
    dict(type='ObjectRangeFilter', point_cloud_range=point_cloud_range),
    dict(type='ObjectNameFilter', classes=class_names),
    pack,
]
basic_test_pipeline = [
    *load_sensors,
    dict(type='PointsRangeFilter', point_cloud_range=point_cloud_range),
    dict(type='PackFusionInputs', keys=['points', 'img', 'radar_points']),
]

# ---- the nuScenes training recipe (CenterPoint / BEVFusion on mmdet3d) ----
# GT sampling: CenterPoint's nuScenes database sampler (mmdet3d configs/_base_/datasets/
# nus-3d.py, centerpoint_*_nus-3d.py) over the database of
#   python tools/create_data.py nuscenes --root-path data/nuscenes --version v1.0-trainval \
#       --gt-database
# pasting each object's LiDAR points and its radar returns (FusionObjectSample); the images
# are not changed (pasted objects are not drawn into them, as in BEVFusion / TransFusion).
db_sampler = dict(
    type='FusionDataBaseSampler',
    data_root=data_root,
    info_path=data_root + 'nuscenes_dbinfos_train.pkl',
    rate=1.0,
    prepare=dict(filter_by_difficulty=[-1], filter_by_min_points={c: 5 for c in class_names}),
    classes=class_names,
    sample_groups=dict(car=2, truck=3, construction_vehicle=7, bus=4, trailer=6, barrier=2,
                       motorcycle=6, bicycle=6, pedestrian=2, traffic_cone=2),
    points_loader=dict(type='LoadPointsFromFile', coord_type='LIDAR', load_dim=6,
                       use_dim=[0, 1, 2, 3, 4, 5], backend_args=backend_args),
    backend_args=backend_args)
# Image augmentation as BEVFusion's nuScenes recipe: 256 x 704 inputs, scales 0.38-0.55 of the
# 1600 px images (0.864-1.25 of the width-fitting scale), +-5.4 deg rotations, random flips;
# test time 0.48 (1.09), centred, no rotation (fusion_moe/data/image_aug.py).
image_final_hw = (256, 704)
train_image_augmentation = dict(type='MultiViewImageAug', final_hw=image_final_hw,
                                resize_range=(0.864, 1.25), rotate_deg=(-5.4, 5.4),
                                flip_ratio=0.5)
test_image_augmentation = dict(type='MultiViewImageAug', final_hw=image_final_hw,
                               test_resize=1.09, training=False)
# Order: GT sampling on the scene as recorded (training-time degradations are inserted after
# it, before the image augmentation), then image and global 3D augmentation, which commute.
train_pipeline = [
    *load_sensors,
    dict(type='LoadAnnotations3D', with_bbox_3d=True, with_label_3d=True),
    dict(type='FusionObjectSample', db_sampler=db_sampler),
    train_image_augmentation,
    *global_augmentation,
    dict(type='PointsRangeFilter', point_cloud_range=point_cloud_range),
    dict(type='ObjectRangeFilter', point_cloud_range=point_cloud_range),
    dict(type='ObjectNameFilter', classes=class_names),
    pack,
]
test_pipeline = [
    *load_sensors,
    test_image_augmentation,
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
    # class-balanced grouping and sampling (CBGS, mmdet3d's CBGSDataset): samples repeated so
    # that every class is seen about equally often (about 4.5x the nuScenes train split)
    dataset=dict(
        type='CBGSDataset',
        dataset=dict(
            type=dataset_type,
            data_root=data_root,
            ann_file='nuscenes_infos_train.pkl',
            pipeline=train_pipeline,
            metainfo=metainfo,
            modality=input_modality,
            test_mode=False,
            box_type_3d='LiDAR',
            backend_args=backend_args)))
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
