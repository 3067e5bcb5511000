"""A toy model with fusion_moe's MoE layer, an in-memory dataset and a Runner config for them.

Small enough that a dozen iterations of ``tools/train.py`` take well under a second, and with
every kind of state an exact resume must restore: AdamW moments, a warm-up + cosine schedule,
dropout and router noise (global torch RNG), a random augmentation in the dataset (global numpy
RNG, drawn in the data worker), shuffled data order, the MoE layer's usage EMA and the
aux-loss-free expert bias updated by ``ExpertLoadBiasHook``.

Imported by the tests and, through ``custom_imports``, by the ``tools/train.py`` subprocesses
(``tests/engine`` on ``PYTHONPATH``).

Shapes: B samples, N = 16 tokens per sample, D = 8 features.
"""
import json
import os
import signal
from typing import List, Optional

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from torch import nn

from fusion_moe.models.moe import MoELayer
from fusion_moe.registry import DATASETS, HOOKS, MODELS

NUM_TOKENS, IN_CHANNELS = 16, 8


@DATASETS.register_module()
class ToyTokenDataset(torch.utils.data.Dataset):
    """``length`` samples of (N, D) tokens whose mean predicts a scalar target.

    Args:
        length: number of samples.
        augment_std: std of a noise added from numpy's *global* generator on every load (like
            mmdet3d's random augmentations); 0 = none.
        poison: sample indices flagged ``poison`` (the model turns them into NaN).
    """

    def __init__(self, length: int = 12, augment_std: float = 0.05,
                 poison: Optional[List[int]] = None) -> None:
        self.length = length
        self.augment_std = augment_std
        self.poison = set(poison or [])
        self.metainfo = {'classes': ('toy', )}
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Called by the training loop before each pass; echoed in every sample."""
        self.epoch = epoch

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, idx: int) -> dict:
        rng = np.random.default_rng(idx)
        tokens = rng.normal(size=(NUM_TOKENS, IN_CHANNELS)).astype(np.float32)
        if self.augment_std:
            tokens += np.random.normal(0.0, self.augment_std, tokens.shape).astype(np.float32)
        target = np.float32(np.tanh(tokens[:, :2].sum(1).mean()))
        return {'inputs': torch.from_numpy(tokens),
                'data_samples': {'sample_idx': idx, 'target': torch.tensor(target),
                                 'poison': idx in self.poison, 'epoch': self.epoch}}


class _PoisonFlagged(nn.Module):
    """Identity, except that rows of poisoned samples become NaN (a stand-in for a layer that
    overflows on bad input)."""

    def forward(self, x_BC: torch.Tensor, poisoned_B: torch.Tensor) -> torch.Tensor:
        return torch.where(poisoned_B[:, None], torch.full_like(x_BC, float('nan')), x_BC)


@MODELS.register_module()
class ToyMoERegressor(BaseModel):
    """tokens (B, N, D) -> linear + dropout -> MoELayer -> mean over tokens -> linear -> (B,).

    Args:
        num_experts: E.
        router: the MoE layer's router config.
        dropout: dropout after the token embedding.
        aux_loss_weights: the MoE layer's auxiliary loss weights.
    """

    def __init__(self, num_experts: int = 4, router: Optional[dict] = None,
                 dropout: float = 0.1, aux_loss_weights: Optional[dict] = None) -> None:
        super().__init__()
        self.embed = nn.Linear(IN_CHANNELS, 16)
        self.dropout = nn.Dropout(dropout)
        self.moe = MoELayer(16, 32, num_experts,
                            router=router or dict(type='NoisyTopKRouter', top_k=2),
                            use_expert_bias=True,
                            aux_loss_weights=aux_loss_weights or dict(balance=0.01, z=0.001,
                                                                      usage=0.01))
        self.poison = _PoisonFlagged()
        self.head = nn.Linear(16, 1)

    def forward(self, inputs: List[torch.Tensor], data_samples: Optional[dict] = None,
                mode: str = 'tensor'):
        x_BND = torch.stack(inputs)
        b, n, d = x_BND.shape
        h_TC = self.dropout(F.gelu(self.embed(x_BND.reshape(b * n, d))))
        y_TC, record = self.moe(h_TC, sample_ids=torch.arange(b).repeat_interleave(n))
        pooled_BC = y_TC.view(b, n, -1).mean(1)
        # pseudo_collate turns the per-sample dicts into one dict of lists
        samples = data_samples or {'poison': [False] * b}
        poisoned_B = torch.tensor([bool(p) for p in samples['poison']])
        pred_B = self.head(self.poison(pooled_BC, poisoned_B))[:, 0]
        if mode == 'loss':
            target_B = torch.stack(list(samples['target'])).float()
            return {'loss_regression': F.mse_loss(pred_B.float(), target_B),
                    **record.aux_losses}
        return pred_B


@HOOKS.register_module()
class KillAtIterationHook(Hook):
    """SIGKILL this process after training iteration ``iteration`` (1-based) and after every
    other hook of that iteration, checkpointing included: a crash mid-run."""
    priority = 'LOWEST'

    def __init__(self, iteration: int) -> None:
        self.iteration = iteration

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if runner.iter + 1 == self.iteration:
            os.kill(os.getpid(), signal.SIGKILL)


@HOOKS.register_module()
class RecordBatchesHook(Hook):
    """Append ``{iter, sample_idx, epoch, loss}`` of every training iteration to a JSON-lines
    file (the logged loss: after ``ProcessMeanLossHook``, i.e. the global batch's under DDP),
    plus the logged routing entropy when ``RoutingStatisticsHook`` logs it."""
    priority = 'LOWEST'

    def __init__(self, out_file: str) -> None:
        self.out_file = out_file

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        hub = runner.message_hub
        entropy = hub.log_scalars.get('train/moe/moe/routing_entropy')
        record = dict(iter=runner.iter + 1, rank=runner.rank,
                      sample_idx=[int(i) for i in data_batch['data_samples']['sample_idx']],
                      epoch=[int(e) for e in data_batch['data_samples']['epoch']],
                      loss=float(hub.get_scalar('train/loss').current()),
                      entropy=None if entropy is None else float(entropy.current()))
        with open(self.out_file, 'a') as f:
            f.write(json.dumps(record) + '\n')


def toy_config(work_dir: str, max_epochs: int = 2, length: int = 12, batch_size: int = 2,
               num_workers: int = 1, checkpoint_every: int = 1, **model) -> dict:
    """A Runner config training :class:`ToyMoERegressor` with fusion_moe's loop and hooks."""
    return dict(
        default_scope='mmdet3d',
        custom_imports=dict(imports=['fusion_moe', 'toy_moe'], allow_failed_imports=False),
        work_dir=work_dir,
        model=dict(type='ToyMoERegressor', **model),
        train_dataloader=dict(batch_size=batch_size, num_workers=num_workers,
                              persistent_workers=False,
                              sampler=dict(type='DefaultSampler', shuffle=True),
                              collate_fn=dict(type='pseudo_collate'),
                              dataset=dict(type='ToyTokenDataset', length=length)),
        train_cfg=dict(type='ResumableEpochBasedTrainLoop', max_epochs=max_epochs),
        optim_wrapper=dict(type='OptimWrapper',
                           optimizer=dict(type='AdamW', lr=0.01, weight_decay=0.01),
                           clip_grad=dict(max_norm=5.0)),
        param_scheduler=[
            dict(type='LinearLR', start_factor=0.2, by_epoch=False, begin=0, end=4),
            dict(type='CosineAnnealingLR', T_max=max_epochs, by_epoch=True, begin=0,
                 end=max_epochs, convert_to_iter_based=True)],
        default_hooks=dict(
            logger=dict(type='LoggerHook', interval=1),
            checkpoint=dict(type='AtomicCheckpointHook', interval=checkpoint_every,
                            by_epoch=False),
            non_finite_guard=dict(type='NonFiniteGuardHook'),
            process_mean_loss=dict(type='ProcessMeanLossHook')),
        custom_hooks=[dict(type='ExpertLoadBiasHook', update_rate=0.01)],
        env_cfg=dict(dist_cfg=dict(backend='gloo'),
                     mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0)),
        randomness=dict(seed=3, deterministic=True),
        log_level='WARNING')
