# Dense twin of fusion-moe-mid_after_...: the MoE layer(s) replaced by a dense FFN of the MoE's
# active width (moe_dense_hidden_channels = 256), no routing hooks.
_base_ = ['./fusion-moe-mid_after_cam-lidar-radar_second_secfpn_8xb4-cosine-20e_nus-3d.py']

model = dict(fusion=dict(moe=None))
custom_hooks = []
