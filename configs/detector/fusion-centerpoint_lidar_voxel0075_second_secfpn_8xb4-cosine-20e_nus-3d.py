# LiDAR only with the sparse voxel encoder of CenterPoint's / BEVFusion's nuScenes models:
# 0.075 m voxels (x, y) x 0.2 m (z) over +-54 m, mmdet3d's SparseEncoder (spconv) downsampling
# 8x to a 180 x 180 BEV grid of 0.6 m cells (LiDAR frame), CenterPoint's voxel0075 SECOND +
# SECONDFPN, CenterHead at the BEV grid's resolution (out_size_factor 1 = 8 voxels).
# Same recipe as the other nuScenes configs (CBGS, GT sampling, global augmentation).
_base_ = ['./fusion-centerpoint_lidar_second_secfpn_8xb4-cosine-20e_nus-3d.py']

voxel_m = [0.075, 0.075, 0.2]
sparse_bev_range = [-54.0, -54.0, -5.0, 54.0, 54.0, 3.0]
sparse_cell_m = voxel_m[0] * 8  # SparseEncoder's three stride-2 stages
sparse_out_size_factor = 1
sparse_grid_size = [round((sparse_bev_range[3] - sparse_bev_range[0]) / sparse_cell_m),
                    round((sparse_bev_range[4] - sparse_bev_range[1]) / sparse_cell_m), 1]
sparse_post_center_range = [sparse_bev_range[0] - 7.2, sparse_bev_range[1] - 7.2, -10.0,
                            sparse_bev_range[3] + 7.2, sparse_bev_range[4] + 7.2, 10.0]

model = dict(
    bev_grid=dict(point_cloud_range=sparse_bev_range, cell_m=sparse_cell_m),
    encoders=dict(_delete_=True, lidar=dict(type='LidarSparseEncoder', voxel_m=voxel_m,
                                            max_points_per_voxel=10,
                                            max_voxels=(120000, 160000))),
    fuser=dict(out_channels=256),
    backbone=dict(in_channels=256, out_channels=[128, 256], layer_nums=[5, 5],
                  layer_strides=[1, 2]),
    neck=dict(in_channels=[128, 256], out_channels=[256, 256], upsample_strides=[1, 2]),
    bbox_head=dict(
        in_channels=512,
        bbox_coder=dict(post_center_range=sparse_post_center_range,
                        out_size_factor=sparse_out_size_factor,
                        voxel_size=[sparse_cell_m, sparse_cell_m],
                        pc_range=sparse_bev_range[:2]),
        train_cfg=dict(grid_size=sparse_grid_size,
                       voxel_size=[sparse_cell_m, sparse_cell_m, 8.0],
                       out_size_factor=sparse_out_size_factor,
                       point_cloud_range=sparse_bev_range),
        test_cfg=dict(post_center_limit_range=sparse_post_center_range,
                      pc_range=sparse_bev_range[:2], out_size_factor=sparse_out_size_factor,
                      voxel_size=[sparse_cell_m, sparse_cell_m])))

# LiDAR-only pipelines (CenterPoint's): points and boxes filtered to the +-54 m BEV range
# (tools/train.py checks that pipeline ranges and the BEV range agree); same GT sampling and
# global 3D augmentation as the shared base.
lidar_sweeps = {{_base_.lidar_sweeps}}
train_pipeline = [
    dict(type='LoadLidarSweeps', sweeps_num=lidar_sweeps, on_missing={{_base_.on_missing}}),
    dict(type='LoadAnnotations3D', with_bbox_3d=True, with_label_3d=True),
    dict(type='FusionObjectSample', db_sampler={{_base_.db_sampler}}),
    dict(type='GlobalRotScaleTrans', rot_range=[-0.3925, 0.3925],
         scale_ratio_range=[0.95, 1.05], translation_std=[0.0, 0.0, 0.0]),
    dict(type='BEVRandomFlip3D', flip_ratio_bev_horizontal=0.5, flip_ratio_bev_vertical=0.5),
    dict(type='PointsRangeFilter', point_cloud_range=sparse_bev_range),
    dict(type='ObjectRangeFilter', point_cloud_range=sparse_bev_range),
    dict(type='ObjectNameFilter', classes={{_base_.class_names}}),
    dict(type='PackFusionInputs', keys=['points', 'gt_bboxes_3d', 'gt_labels_3d']),
]
test_pipeline = [
    dict(type='LoadLidarSweeps', sweeps_num=lidar_sweeps, on_missing={{_base_.on_missing}}),
    dict(type='PointsRangeFilter', point_cloud_range=sparse_bev_range),
    dict(type='PackFusionInputs', keys=['points']),
]
train_dataloader = dict(dataset=dict(dataset=dict(pipeline=train_pipeline)))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
