# The placement study: where fusion sits relative to the MoE layers, each placement against its
# dense twin (an FFN of the MoE's active width), 2 seeds, at demo size on the synthetic set;
# evaluated clean, in fog and at night (severity 3) and with a camera failure (severity 3):
#   python tools/ablate.py configs/ablation/placement.py --work-dir work_dirs/ablation_placement
# (--max-iters 5 for a smoke run). The model configs are configs/demo/{moe,dense}_<placement>.py;
# their MoE layer is configs/_base_/demo/moe_demo.py (TopKRouter top-2 of 4 experts, oracle
# context bias, no generalist fallback). Grid keys: fusion_moe/ablation/grid.py.
_epochs = 3  # so that 16 cells x (train + 4 evaluations) fit 60 min on 2 cores (see docs/)

model_config = '../demo/{moe}_{placement}.py'
axes = dict(
    placement=['early', 'mid_before', 'mid_after', 'late'],
    moe={'moe': {},
         'dense': {'_columns': dict(router='none', context='none', fallback='none')}},
    seed=[0, 1],
)
fixed = dict(router='topk2', context='oracle', fallback='off')
cfg_options = {
    'train_cfg.max_epochs': _epochs,
    # the demo schedule: linear warm-up, then cosine over the epochs (param_scheduler[1])
    'param_scheduler.1.T_max': _epochs,
    'param_scheduler.1.end': _epochs,
}
conditions = dict(suite='default', corruptions=['fog', 'night', 'camera_dropout'],
                  severities=[3], seed=0)
