"""Aux-loss-free load balancing (DeepSeek-V3) and per-expert load logging.

Like torchtitan, the layer only counts tokens (``MoELayer.tokens_per_expert``, a non-persistent
buffer) in its forward pass; the bias update happens outside it. After every training iteration
(after the optimizer step, before the next forward) this hook all-reduces the counts over DDP
processes and, for layers built with ``use_expert_bias=True``, moves each expert's selection bias
by ``update_rate`` towards balance: ``bias += rate * sign(mean load - load)``, re-centred to
zero mean. The bias changes which experts are selected, never the gate values. Every
``log_interval`` iterations it logs the per-expert load fractions and max/mean load.
"""
import torch
from mmengine.dist import all_reduce
from mmengine.hooks import Hook

from fusion_moe.models.moe import find_moe_layers
from fusion_moe.registry import HOOKS


@HOOKS.register_module()
class ExpertLoadBiasHook(Hook):
    """Update expert selection biases from the measured load and log the load.

    Args:
        update_rate: bias step per iteration (DeepSeek-V3 uses 1e-3).
        log_interval: log the load every this many iterations.
    """
    priority = 'NORMAL'

    def __init__(self, update_rate: float = 1e-3, log_interval: int = 50) -> None:
        if update_rate < 0 or log_interval < 1:
            raise ValueError(f'need update_rate >= 0 and log_interval >= 1, got '
                             f'{update_rate}, {log_interval}')
        self.update_rate = update_rate
        self.log_interval = log_interval

    @torch.no_grad()
    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        log_now = self.every_n_train_iters(runner, self.log_interval)
        for name, layer in find_moe_layers(runner.model):
            load_E = layer.tokens_per_expert.clone()
            all_reduce(load_E, op='sum')
            total = float(load_E.sum())
            if total > 0 and layer.use_expert_bias:
                delta_E = self.update_rate * torch.sign(load_E.mean() - load_E)
                layer.expert_bias += delta_E - delta_E.mean()
            if total > 0 and log_now:
                fraction_E = load_E / total
                hub = runner.message_hub
                hub.update_scalar(f'train/moe/{name}/load_max_over_mean',
                                  float(fraction_E.max() * fraction_E.numel()))
                for e, value in enumerate(fraction_E.tolist()):
                    hub.update_scalar(f'train/moe/{name}/load_e{e}', value)
            layer.tokens_per_expert.zero_()
