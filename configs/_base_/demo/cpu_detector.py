# The CPU demo detector without its fusion: grid, CPU-sized loading, camera / LiDAR / radar
# encoders, SECOND + SECONDFPN trunk, CenterHead, schedule. Every demo detector inherits it and
# adds `model.fuser` (configs/demo/detector_cpu.py) or a placement `model.fusion`
# (configs/demo/{moe,dense}_*.py).
# Grid: 0.8 m cells over +-51.2 m (128 x 128, LiDAR frame); backbone, neck and CenterHead
# run at 1.6 m (64 x 64, out_size_factor 2) to fit the CPU budget.
_base_ = ['../datasets/synthetic_fusion.py', '../default_runtime.py']

synthetic_data = dict(out_root='data/synth', num_scenes=10, samples_per_scene=8, seed=0)

bev_point_cloud_range = [-51.2, -51.2, -5.0, 51.2, 51.2, 3.0]
bev_cell_m = 0.8
out_size_factor = 2  # heatmap cells of 1.6 m (64 x 64)
bev_grid_size = [round((bev_point_cloud_range[3] - bev_point_cloud_range[0]) / bev_cell_m),
                 round((bev_point_cloud_range[4] - bev_point_cloud_range[1]) / bev_cell_m), 1]
post_center_range = [bev_point_cloud_range[0] - 10, bev_point_cloud_range[1] - 10, -10.0,
                     bev_point_cloud_range[3] + 10, bev_point_cloud_range[4] + 10, 10.0]
demo_classes = ['car', 'truck', 'trailer', 'bus', 'construction_vehicle', 'bicycle',
                'motorcycle', 'pedestrian', 'traffic_cone', 'barrier']

# ---------------------------------------------------------------- data (CPU-sized loading)
demo_sensors = [
    dict(type='LoadLidarSweeps', sweeps_num=1),
    dict(type='LoadCameraImages', downscale=8),  # 200 x 113 images
    dict(type='LoadRadarSweeps', sweeps_num=3),
]
demo_pack_keys = ['points', 'img', 'radar_points', 'gt_bboxes_3d', 'gt_labels_3d']
train_dataloader = dict(
    batch_size=2, num_workers=1,
    dataset=dict(pipeline=[
        *demo_sensors,
        dict(type='LoadAnnotations3D', with_bbox_3d=True, with_label_3d=True),
        dict(type='PointsRangeFilter', point_cloud_range=bev_point_cloud_range),
        dict(type='ObjectRangeFilter', point_cloud_range=bev_point_cloud_range),
        dict(type='ObjectNameFilter', classes=demo_classes),
        dict(type='PackFusionInputs', keys=demo_pack_keys),
    ]))
demo_test_pipeline = [
    *demo_sensors,
    dict(type='PointsRangeFilter', point_cloud_range=bev_point_cloud_range),
    dict(type='PackFusionInputs', keys=['points', 'img', 'radar_points']),
]
val_dataloader = dict(batch_size=2, num_workers=1, dataset=dict(pipeline=demo_test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='FusionNuScenesMetric')
test_evaluator = val_evaluator

# ---------------------------------------------------------------- model
model = dict(
    type='FusionDetector',
    data_preprocessor=dict(type='FusionDataPreprocessor'),
    bev_grid=dict(point_cloud_range=bev_point_cloud_range, cell_m=bev_cell_m),
    encoders=dict(
        camera=dict(
            type='CameraSamplingEncoder',
            # stage strides (1, 1): features at 1/4 of the 200 x 113 image (50 x 28); at 1/8
            # (25 x 14) one feature row spans about 3 degrees, the rise of the ground between
            # 12 and 20 m ahead, too coarse to place an object along its ray
            backbone=dict(type='mmdet.ResNet', depth=18, base_channels=16, num_stages=2,
                          strides=(1, 1), dilations=(1, 1), out_indices=(1, ),
                          norm_cfg=dict(type='BN'), style='pytorch'),
            neck=None, feature_channels=32, feature_level=0, out_channels=16,
            # LiDAR-frame z of the sampled heights: LIDAR_TOP is 1.84 m above the ground, so
            # these are 0.24-2.04 m above it, where cars, pedestrians and cones stand (the
            # former (-1, 0, 1, 2) sampled 0.84-3.84 m and missed all but a car's top half)
            heights_m=(-1.6, -1.0, -0.4, 0.2), sample_stride=2),
        lidar=dict(type='LidarPillarEncoder', out_channels=32, max_points_per_pillar=10,
                   max_pillars=(16384, 16384)),
        radar=dict(type='RadarPointEncoder', mlp_channels=(16, ))),
    backbone=dict(type='SECOND', in_channels=32, out_channels=[32, 64], layer_nums=[2, 2],
                  layer_strides=[2, 2], norm_cfg=dict(type='BN', eps=1e-3, momentum=0.01),
                  conv_cfg=dict(type='Conv2d', bias=False)),
    neck=dict(type='SECONDFPN', in_channels=[32, 64], out_channels=[32, 32],
              upsample_strides=[1, 2], norm_cfg=dict(type='BN', eps=1e-3, momentum=0.01),
              upsample_cfg=dict(type='deconv', bias=False), use_conv_for_no_stride=True),
    bbox_head=dict(
        type='CenterHead',
        in_channels=64,
        tasks=[dict(num_class=10, class_names=demo_classes)],
        common_heads=dict(reg=(2, 2), height=(1, 2), dim=(3, 2), rot=(2, 2), vel=(2, 2)),
        share_conv_channel=32,
        bbox_coder=dict(type='CenterPointBBoxCoder', post_center_range=post_center_range,
                        max_num=300, score_threshold=0.02, out_size_factor=out_size_factor,
                        voxel_size=[bev_cell_m, bev_cell_m],
                        pc_range=bev_point_cloud_range[:2], code_size=9),
        separate_head=dict(type='SeparateHead', head_conv=32, init_bias=-2.19, final_kernel=3),
        loss_cls=dict(type='mmdet.GaussianFocalLoss', reduction='mean'),
        loss_bbox=dict(type='mmdet.L1Loss', reduction='mean', loss_weight=0.25),
        norm_bbox=True,
        train_cfg=dict(grid_size=bev_grid_size, voxel_size=[bev_cell_m, bev_cell_m, 8.0],
                       out_size_factor=out_size_factor, dense_reg=1, gaussian_overlap=0.1,
                       max_objs=300, min_radius=2, point_cloud_range=bev_point_cloud_range,
                       code_weights=[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.2, 0.2]),
        test_cfg=dict(post_center_limit_range=post_center_range, max_per_img=300,
                      max_pool_nms=False, min_radius=[4], score_threshold=0.02,
                      pc_range=bev_point_cloud_range[:2], out_size_factor=out_size_factor,
                      voxel_size=[bev_cell_m, bev_cell_m], nms_type='rotate',
                      pre_max_size=1000, post_max_size=300, nms_thr=0.2)))

# ---------------------------------------------------------------- schedule
lr = 3e-3
max_epochs = 12
optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='AdamW', lr=lr, weight_decay=0.01),
                     clip_grad=dict(max_norm=35, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=lr * 1e-2, by_epoch=True,
         begin=0, end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=max_epochs,
                 val_interval=max_epochs)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(logger=dict(type='LoggerHook', interval=10),
                     checkpoint=dict(type='AtomicCheckpointHook', interval=max_epochs,
                                     max_keep_ckpts=1))
log_processor = dict(window_size=10)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
cpu_threads = 1  # tools/train.py: one torch thread in the main process + one data worker
