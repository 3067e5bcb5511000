# Dense twin of the demo's MoE model (configs/demo/demo_moe.py), trained the same way (same
# training-time degradations and schedule): its MoE layer is a dense FFN of the MoE's active
# width (moe_dense_hidden_channels). No router, so no context bias, staging or fallback.
#   python tools/train.py configs/demo/demo_dense.py --work-dir DIR
_base_ = ['./demo_moe.py']

model = dict(fusion=dict(moe=None))
custom_hooks = []
