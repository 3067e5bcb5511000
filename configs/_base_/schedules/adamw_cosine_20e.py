# AdamW with linear warm-up then cosine decay over 20 epochs (CenterPoint-like), grad clip 35.
lr = 2e-4
max_epochs = 20
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=lr, weight_decay=0.01),
    clip_grad=dict(max_norm=35, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=500),
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=lr * 1e-3, by_epoch=True,
         begin=0, end=max_epochs, convert_to_iter_based=True),
]
# EpochBasedTrainLoop plus exact resume (per-iteration seeding, mid-epoch skip) and a new
# degradation stream per epoch (fusion_moe/engine/loops.py)
train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=max_epochs,
                 val_interval=max_epochs)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# scale the learning rate linearly with the total batch size (8 GPUs x 4 samples)
auto_scale_lr = dict(enable=False, base_batch_size=32)
