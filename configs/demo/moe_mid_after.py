# "Fusion, then MoE": concat-conv fuser, then the demo MoE layer on every fused BEV cell.
#   python tools/train.py configs/demo/moe_mid_after.py --work-dir DIR
# Dense twin: configs/demo/dense_mid_after.py. Placements: fusion_moe/models/fusion/.
_base_ = ['../_base_/demo/cpu_detector.py', '../_base_/demo/moe_demo.py']

model = dict(fusion=dict(type='MidAfterFusion',
                         fuser=dict(type='ConcatConvFuser', out_channels=32),
                         moe={{_base_.moe_layer}},
                         dense_hidden_channels={{_base_.moe_dense_hidden_channels}}))
