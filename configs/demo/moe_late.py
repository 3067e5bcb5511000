# Decision level: per modality an encoder, a demo MoE layer (32 channels) and a CenterHead on
# the shared trunk; the heads' maps are fused by learned per-modality weights over the present
# modalities before decoding (fusion_moe/models/fusion/late_rule.py).
#   python tools/train.py configs/demo/moe_late.py --work-dir DIR
# Dense twin: configs/demo/dense_late.py.
_base_ = ['../_base_/demo/cpu_detector.py', '../_base_/demo/moe_demo.py']

model = dict(fusion=dict(type='LateFusion',
                         moe_channels=32,
                         moe={{_base_.moe_layer}},
                         dense_hidden_channels={{_base_.moe_dense_hidden_channels}}))
