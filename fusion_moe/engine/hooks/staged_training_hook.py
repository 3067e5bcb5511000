"""Staged MoE training (Mixpert / sparse upcycling) as an mmengine hook.

Stage 1, ``dense``: every ``MoELayer`` runs only its generalist dense FFN, trained on all tokens
together with the rest of the model.
Switch (at ``dense_iters`` iterations or ``dense_epochs`` epochs): each layer's experts are cloned
from its generalist with a little noise (``upcycle_layer``), and everything outside the MoE
layers' routing parts is frozen (the trunk, and by default the generalist, which stays as the
fallback expert).
Stage 2, ``moe``: only routers, experts and the other routing parts named in
``trainable_parts`` train; with ``freeze_trunk=False`` the trunk (encoders, fuser, backbone,
neck, head) keeps training beside them, only the generalist stays frozen (unless
``train_generalist``).

The stage lives in each layer's persistent ``dense_stage`` buffer, so a resumed run continues in
the right stage; freezing is re-applied on resume because ``requires_grad`` is not saved.
Frozen parameters get no gradient, so the optimizer skips them (their grad stays None).
"""
from typing import Optional, Sequence

from mmengine.hooks import Hook

from fusion_moe.models.moe import find_moe_layers, upcycle_layer
from fusion_moe.registry import HOOKS

DEFAULT_TRAINABLE_PARTS = ('routers', 'experts', 'context_bias', 'shared_experts')


@HOOKS.register_module()
class StagedMoETrainingHook(Hook):
    """Dense warm-up, upcycling, then router/expert training (trunk frozen by default).

    Args:
        dense_iters: switch before this training iteration (iteration-based schedules).
        dense_epochs: switch before this epoch (epoch-based schedules). Give exactly one.
        noise_std: upcycling noise, relative to each copied tensor's std.
        seed: seeds the upcycling noise (layer i uses seed + i).
        trainable_parts: attribute names of ``MoELayer`` that train in stage 2.
        train_generalist: also keep training the generalist in stage 2.
        freeze_trunk: freeze everything outside the MoE layers in stage 2 (default); False
            keeps the trunk training, so the MoE model's trunk gets as many epochs as its
            dense twin's.
    """
    priority = 'HIGH'  # switch before other hooks look at the model in the same iteration

    def __init__(self, dense_iters: Optional[int] = None, dense_epochs: Optional[int] = None,
                 noise_std: float = 0.01, seed: int = 0,
                 trainable_parts: Sequence[str] = DEFAULT_TRAINABLE_PARTS,
                 train_generalist: bool = False, freeze_trunk: bool = True) -> None:
        if (dense_iters is None) == (dense_epochs is None):
            raise ValueError('give exactly one of dense_iters and dense_epochs, got '
                             f'dense_iters={dense_iters}, dense_epochs={dense_epochs}')
        if (dense_iters or 0) < 0 or (dense_epochs or 0) < 0:
            raise ValueError('dense_iters / dense_epochs must be >= 0')
        self.dense_iters = dense_iters
        self.dense_epochs = dense_epochs
        self.noise_std = noise_std
        self.seed = seed
        self.trainable_parts = tuple(trainable_parts)
        self.train_generalist = train_generalist
        self.freeze_trunk = freeze_trunk

    def _layers(self, runner):
        layers = find_moe_layers(runner.model)
        if not layers:
            raise ValueError('StagedMoETrainingHook found no MoELayer in the model')
        return layers

    def _past_switch(self, runner) -> bool:
        if self.dense_iters is not None:
            return runner.iter >= self.dense_iters
        return runner.epoch >= self.dense_epochs

    def before_train(self, runner) -> None:
        layers = self._layers(runner)
        for _, layer in layers:
            unknown = [p for p in self.trainable_parts if not hasattr(layer, p)]
            if unknown:
                raise ValueError(f'trainable_parts {unknown} are not MoELayer attributes')
        if self._past_switch(runner):
            if any(layer.stage == 'dense' for _, layer in layers):
                self._switch(runner)
            else:
                self._freeze_trunk(runner)
        else:
            for _, layer in layers:
                layer.set_stage('dense')
            runner.logger.info(f'staged MoE training: dense stage for {len(layers)} layer(s)')

    def before_train_epoch(self, runner) -> None:
        if self.dense_epochs is not None:
            self._maybe_switch(runner)

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if self.dense_iters is not None:
            self._maybe_switch(runner)

    def _maybe_switch(self, runner) -> None:
        if self._past_switch(runner) and any(
                layer.stage == 'dense' for _, layer in self._layers(runner)):
            self._switch(runner)

    def _switch(self, runner) -> None:
        for i, (_, layer) in enumerate(self._layers(runner)):
            upcycle_layer(layer, self.noise_std, self.seed + i)
        self._freeze_trunk(runner)
        runner.logger.info(f'staged MoE training: upcycled and switched to the moe stage at '
                           f'iter {runner.iter}, epoch {runner.epoch}; trunk '
                           f'{"frozen" if self.freeze_trunk else "training"}')

    def _freeze_trunk(self, runner) -> None:
        """Stage 2's trainable set: the ``trainable_parts`` of every MoE layer (and the
        generalist if ``train_generalist``); the trunk too unless ``freeze_trunk``."""
        model = getattr(runner.model, 'module', runner.model)
        if self.freeze_trunk:
            for p in model.parameters():
                p.requires_grad_(False)
        parts = self.trainable_parts + (('generalist',) if self.train_generalist else ())
        for _, layer in self._layers(runner):
            if not self.freeze_trunk and not self.train_generalist \
                    and layer.generalist is not None:
                for p in layer.generalist.parameters():
                    p.requires_grad_(False)
            for part in parts:
                module = getattr(layer, part)
                if module is not None:
                    for p in module.parameters():
                        p.requires_grad_(True)
        # re-enter the current mode: a model that keeps frozen BatchNorm in eval mode
        # (FusionDetector.train) applies it now, not only at the next epoch's model.train()
        model.train(model.training)
