# Dense twin of configs/demo/moe_mid_before.py: the same placement with its MoE layer(s) replaced
# by a dense FFN of the MoE's active width (moe_dense_hidden_channels); no routing statistics.
#   python tools/train.py configs/demo/dense_mid_before.py --work-dir DIR
_base_ = ['./moe_mid_before.py']

model = dict(fusion=dict(moe=None))
custom_hooks = []
