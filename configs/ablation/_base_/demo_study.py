# What the demo-size ablation grids share: the schedule of every cell and the conditions.
# Grid keys: fusion_moe/ablation/grid.py.
_epochs = 3  # placement.py's README/docs entry says how the epochs were chosen

cfg_options = {
    'train_cfg.max_epochs': _epochs,
    # the demo schedule: linear warm-up, then cosine over the epochs (param_scheduler[1])
    'param_scheduler.1.T_max': _epochs,
    'param_scheduler.1.end': _epochs,
}
# clean, fog and night at severity 3, and a sensor failure (camera, severity 3)
conditions = dict(suite='default', corruptions=['fog', 'night', 'camera_dropout'],
                  severities=[3], seed=0)
