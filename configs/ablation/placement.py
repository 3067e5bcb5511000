# The placement study: where fusion sits relative to the MoE layers, each placement against its
# dense twin (an FFN of the MoE's active width), 2 seeds, at demo size on the synthetic set;
# evaluated clean, in fog and at night (severity 3) and with a camera failure (severity 3):
#   python tools/ablate.py configs/ablation/placement.py --work-dir work_dirs/ablation_placement
# (--max-iters 5 for a smoke run). The model configs are configs/demo/{moe,dense}_<placement>.py;
# their MoE layer is configs/_base_/demo/moe_demo.py (TopKRouter top-2 of 4 experts, oracle
# context bias, no generalist fallback). Schedule and conditions: _base_/demo_study.py.
_base_ = ['./_base_/demo_study.py']

model_config = '../demo/{moe}_{placement}.py'
axes = dict(
    placement=['early', 'mid_before', 'mid_after', 'late'],
    moe={'moe': {},
         'dense': {'_columns': dict(router='none', context='none', fallback='none')}},
    seed=[0, 1],
)
fixed = dict(router='topk2', context='oracle', fallback='off')
