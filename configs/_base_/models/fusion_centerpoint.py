# FusionDetector at nuScenes size: 0.2 m pillars over +-51.2 m (512 x 512 BEV cells, LiDAR
# frame), camera (ResNet-50 + FPN, Simple-BEV sampling) + LiDAR (pillars) + radar (point MLP),
# concat-conv fuser, SECOND + SECONDFPN, CenterHead (10 nuScenes classes with velocity) on a
# 128 x 128 heatmap (out_size_factor 4). Every grid value below is derived from
# `bev_point_cloud_range` and `bev_cell_m`; sensor-set configs only swap `model.encoders`.
# (Named apart from the dataset config's `point_cloud_range`, the point/box filter range,
# because mmengine refuses a key defined in two bases; both are +-51.2 m here.)
bev_point_cloud_range = [-51.2, -51.2, -5.0, 51.2, 51.2, 3.0]
bev_cell_m = 0.2
out_size_factor = 4
bev_grid_size = [round((bev_point_cloud_range[3] - bev_point_cloud_range[0]) / bev_cell_m),
                 round((bev_point_cloud_range[4] - bev_point_cloud_range[1]) / bev_cell_m), 1]
post_center_range = [bev_point_cloud_range[0] - 10, bev_point_cloud_range[1] - 10, -10.0,
                     bev_point_cloud_range[3] + 10, bev_point_cloud_range[4] + 10, 10.0]
# CenterHead labels are positions in the concatenation of the task class lists, so the
# tasks list the classes in dataset order (checked by the detector).
center_head_tasks = [
    dict(num_class=1, class_names=['car']),
    dict(num_class=2, class_names=['truck', 'trailer']),
    dict(num_class=2, class_names=['bus', 'construction_vehicle']),
    dict(num_class=2, class_names=['bicycle', 'motorcycle']),
    dict(num_class=2, class_names=['pedestrian', 'traffic_cone']),
    dict(num_class=1, class_names=['barrier']),
]

lidar_encoder = dict(type='LidarPillarEncoder', out_channels=64, max_points_per_pillar=20,
                     max_pillars=(30000, 60000))
# ImageNet ResNet-50 (torchvision's, as mmdet's and mmdet3d's camera configs) with the stem and
# stage 1 frozen and BatchNorm statistics kept (frozen_stages=1, norm_eval=True). The weights
# are used when at hand: a local file, or the URL already in the torch hub cache (the GPU image
# downloads it at build time; `download_pretrained=True` lets mmengine download it). Without
# them the encoder logs that training starts from scratch and freezes nothing
# (fusion_moe/models/encoders/camera/pretrained.py).
image_backbone_checkpoint = 'torchvision://resnet50'
camera_encoder = dict(
    type='CameraSamplingEncoder',
    backbone=dict(type='mmdet.ResNet', depth=50, num_stages=4, out_indices=(1, 2, 3),
                  frozen_stages=1, norm_cfg=dict(type='BN', requires_grad=True),
                  norm_eval=True, style='pytorch',
                  init_cfg=dict(type='Pretrained', checkpoint=image_backbone_checkpoint)),
    download_pretrained=False,
    neck=dict(type='mmdet.FPN', in_channels=[512, 1024, 2048], out_channels=128, num_outs=3),
    feature_channels=128, feature_level=0, out_channels=80,
    heights_m=(-2.0, -1.0, 0.0, 1.0, 2.0, 3.0), sample_stride=4)
radar_encoder = dict(type='RadarPointEncoder', mlp_channels=(32, 32))

model = dict(
    type='FusionDetector',
    data_preprocessor=dict(type='FusionDataPreprocessor'),
    bev_grid=dict(point_cloud_range=bev_point_cloud_range, cell_m=bev_cell_m),
    encoders=dict(camera=camera_encoder, lidar=lidar_encoder, radar=radar_encoder),
    fuser=dict(type='ConcatConvFuser', out_channels=64, modality_dropout=0.0),
    backbone=dict(type='SECOND', in_channels=64, out_channels=[64, 128, 256],
                  layer_nums=[3, 5, 5], layer_strides=[2, 2, 2],
                  norm_cfg=dict(type='BN', eps=1e-3, momentum=0.01),
                  conv_cfg=dict(type='Conv2d', bias=False)),
    neck=dict(type='SECONDFPN', in_channels=[64, 128, 256], out_channels=[128, 128, 128],
              upsample_strides=[0.5, 1, 2], norm_cfg=dict(type='BN', eps=1e-3, momentum=0.01),
              upsample_cfg=dict(type='deconv', bias=False), use_conv_for_no_stride=True),
    bbox_head=dict(
        type='CenterHead',
        in_channels=384,
        tasks=center_head_tasks,
        common_heads=dict(reg=(2, 2), height=(1, 2), dim=(3, 2), rot=(2, 2), vel=(2, 2)),
        share_conv_channel=64,
        bbox_coder=dict(type='CenterPointBBoxCoder', post_center_range=post_center_range,
                        max_num=500, score_threshold=0.1, out_size_factor=out_size_factor,
                        voxel_size=[bev_cell_m, bev_cell_m], pc_range=bev_point_cloud_range[:2],
                        code_size=9),
        separate_head=dict(type='SeparateHead', init_bias=-2.19, final_kernel=3),
        loss_cls=dict(type='mmdet.GaussianFocalLoss', reduction='mean'),
        loss_bbox=dict(type='mmdet.L1Loss', reduction='mean', loss_weight=0.25),
        norm_bbox=True,
        train_cfg=dict(grid_size=bev_grid_size, voxel_size=[bev_cell_m, bev_cell_m, 8.0],
                       out_size_factor=out_size_factor, dense_reg=1, gaussian_overlap=0.1,
                       max_objs=500, min_radius=2, point_cloud_range=bev_point_cloud_range,
                       code_weights=[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.2, 0.2]),
        test_cfg=dict(post_center_limit_range=post_center_range, max_per_img=500,
                      max_pool_nms=False, min_radius=[4, 12, 10, 1, 0.85, 0.175],
                      score_threshold=0.1, pc_range=bev_point_cloud_range[:2],
                      out_size_factor=out_size_factor, voxel_size=[bev_cell_m, bev_cell_m],
                      nms_type='rotate', pre_max_size=1000, post_max_size=83, nms_thr=0.2)))
