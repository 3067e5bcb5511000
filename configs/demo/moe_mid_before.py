# "MoE, then fusion": each modality's BEV map (projected to 32 channels) through the demo MoE
# layer with its own router, then the concat-conv fuser.
#   python tools/train.py configs/demo/moe_mid_before.py --work-dir DIR
# Dense twin: configs/demo/dense_mid_before.py.
_base_ = ['../_base_/demo/cpu_detector.py', '../_base_/demo/moe_demo.py']

model = dict(fusion=dict(type='MidBeforeFusion',
                         fuser=dict(type='ConcatConvFuser', out_channels=32),
                         moe_channels=32,
                         moe={{_base_.moe_layer}},
                         dense_hidden_channels={{_base_.moe_dense_hidden_channels}}))
