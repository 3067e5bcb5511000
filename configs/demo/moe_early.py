# Sensor level: LiDAR points painted with camera pixels + radar points -> one shared pillar net;
# the demo MoE layer routes its pillar tokens with one router per sensor (lidar, radar). No
# per-modality encoders.
#   python tools/train.py configs/demo/moe_early.py --work-dir DIR
# Dense twin: configs/demo/dense_early.py.
_base_ = ['../_base_/demo/cpu_detector.py', '../_base_/demo/moe_demo.py']

model = dict(encoders=None,
             fusion=dict(type='EarlyFusion', pillar_channels=32, out_channels=32,
                         max_points_per_pillar=10, max_pillars=(16384, 16384),
                         moe={{_base_.moe_layer}},
                         dense_hidden_channels={{_base_.moe_dense_hidden_channels}}))
