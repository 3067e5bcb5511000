# nuScenes-size mid_after placement (fusion_moe/models/fusion/) on the camera + LiDAR + radar
# detector of configs/detector/, with the MoE layer of configs/_base_/moe/nus_placements.py.
# Dense twin: fusion-dense-mid_after_cam-lidar-radar_second_secfpn_8xb4-cosine-20e_nus-3d.py.
_base_ = ['../detector/fusion-centerpoint_cam-lidar-radar_second_secfpn_8xb4-cosine-20e_nus-3d.py',
          '../_base_/moe/nus_placements.py']

model = dict(fuser=None,
             fusion=dict(type='MidAfterFusion',
                         fuser=dict(type='ConcatConvFuser', out_channels=64),
                         moe={{_base_.moe_layer}},
                         dense_hidden_channels={{_base_.moe_dense_hidden_channels}}))
