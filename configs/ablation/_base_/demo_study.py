# What the demo-size ablation grids share: the schedule of every cell and the conditions.
# Grid keys: fusion_moe/ablation/grid.py.
# 12 epochs, the demo configs' own schedule. Measured CPU time per cell on the realistic
# synthetic sensors (generator version 3; docs/ablation/README.md): training start-up ~7 s +
# 7-15 s per epoch (early cheapest, late dearest), the 4 evaluations 18-21 s, model info a few
# s. 16 cells x (7 + 12 x ~12 + 20) s ~ 2900 CPU s, i.e. ~24 min on 2 idle cores with
# --jobs 2, ~30 min at 80 % parallel efficiency: within the 60 min target with a margin of 2.
_epochs = 12

cfg_options = {
    'train_cfg.max_epochs': _epochs,
    # the demo schedule: linear warm-up, then cosine over the epochs (param_scheduler[1])
    'param_scheduler.1.T_max': _epochs,
    'param_scheduler.1.end': _epochs,
}
# clean, fog and night at severity 3, and a sensor failure (camera, severity 3)
conditions = dict(suite='default', corruptions=['fog', 'night', 'camera_dropout'],
                  severities=[3], seed=0)
