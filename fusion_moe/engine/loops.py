"""Training loops whose runs can be killed and resumed without changing the result.

mmengine's loops restore the model, optimizer, schedulers and message hub on ``--resume``, but

- ``EpochBasedTrainLoop`` restarts a half-done epoch from its first batch, so a run resumed
  from an iteration checkpoint trains those batches twice;
- neither restores the global random state (Python, numpy, torch) of the moment the checkpoint
  was written: dropout, noisy routers and random augmentations then draw other numbers.

These loops (registered in mmdet3d's ``LOOPS``) fix both, and give the training dataset its
epoch:

1. Before fetching batch ``step`` (the global training iteration) they seed Python's, numpy's
   and torch's global generators from ``(seed, step)`` (plus the rank with
   ``randomness.diff_rank_seed``). The random state of every iteration is then a function of
   the seed and the iteration alone: an interrupted and resumed run draws the same numbers as
   an uninterrupted one, whatever ran in between (validation, checkpointing, a restart).
2. Resumed mid-epoch, the epoch loop fetches and discards the batches of that epoch which were
   trained before the checkpoint (as mmengine's iteration loop already does), so the data
   order and the data workers' own random streams continue where they stopped. This costs the
   loading time of those batches, not their training time.
3. Before each pass over the data they call ``set_epoch(epoch)`` on the training dataset (and
   the datasets it wraps), so training-time degradations draw a new stream every epoch (see
   ``fusion_moe/degradation/base.py``). Data workers see the new epoch when they start, i.e.
   with ``persistent_workers=False`` and a sampler that ends (``DefaultSampler``); otherwise a
   warning says the streams stay those of the first epoch.
"""
import logging
import random
from typing import Iterator, Optional, Sequence

import numpy as np
import torch
from mmengine.dataset import InfiniteSampler
from mmengine.dist import get_rank
from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop

from fusion_moe.registry import LOOPS


def step_seed(seed: int, step: int, rank: Optional[int] = None) -> int:
    """A 32-bit seed for one training iteration, from ``(seed, step[, rank])``."""
    entropy = [int(seed) & 0xFFFFFFFF, int(step)] + ([int(rank)] if rank is not None else [])
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


def seed_global_rngs(seed: int) -> None:
    """Seed Python's ``random``, numpy's global generator and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def set_dataset_epoch(dataset, epoch: int) -> int:
    """Call ``set_epoch(epoch)`` on ``dataset`` and every dataset it wraps (``.dataset``,
    ``.datasets``); returns how many accepted it."""
    done = 0
    if callable(getattr(dataset, 'set_epoch', None)):
        dataset.set_epoch(epoch)
        done += 1
    inner = getattr(dataset, 'dataset', None)
    if inner is not None and inner is not dataset:
        done += set_dataset_epoch(inner, epoch)
    for child in getattr(dataset, 'datasets', None) or []:
        done += set_dataset_epoch(child, epoch)
    return done


def _workers_restart(loader) -> bool:
    """Whether each pass over ``loader`` starts new data workers (which copy the dataset)."""
    if loader.num_workers == 0:
        return True
    return not (getattr(loader, 'persistent_workers', False)
                or isinstance(getattr(loader, 'sampler', None), InfiniteSampler))


class _SeedEachStep:
    """Common part of the two loops: per-step seeding and the dataset's epoch."""

    def _step_rng(self, step: int) -> None:
        runner = self.runner
        diff_rank = bool((runner.cfg.get('randomness') or {}).get('diff_rank_seed', False))
        seed_global_rngs(step_seed(runner.seed, step, get_rank() if diff_rank else None))

    def _enter_data_pass(self, data_pass: int) -> None:
        loader = self.dataloader
        if set_dataset_epoch(loader.dataset, data_pass) and data_pass > 0 and \
                not _workers_restart(loader) and not getattr(self, '_warned_workers', False):
            print_log('the training data workers are not restarted between passes '
                      '(persistent_workers=True or an InfiniteSampler), so they keep the '
                      "dataset's first epoch and training-time degradations repeat their "
                      'first-epoch draws; use persistent_workers=False and a DefaultSampler '
                      'for a new stream each epoch', logger='current', level=logging.WARNING)
            self._warned_workers = True

    def _seeded(self, batches: Iterator, first_step: int) -> Iterator[Sequence[dict]]:
        step = first_step
        while True:
            self._step_rng(step)
            try:
                batch = next(batches)
            except StopIteration:
                return
            yield batch
            step += 1


@LOOPS.register_module()
class ResumableEpochBasedTrainLoop(_SeedEachStep, EpochBasedTrainLoop):
    """``EpochBasedTrainLoop`` with per-step seeding, mid-epoch resume and dataset epochs.

    Same arguments as mmengine's ``EpochBasedTrainLoop``.
    """

    def run_epoch(self) -> None:
        """Iterate one epoch (skipping, after a mid-epoch resume, the batches already trained)."""
        self.runner.call_hook('before_train_epoch')
        self.runner.model.train()
        num_batches = len(self.dataloader)
        first_step = self._epoch * num_batches
        trained = self._iter - first_step
        if not 0 <= trained <= num_batches:
            raise RuntimeError(
                f'resumed at iteration {self._iter} of epoch {self._epoch}, which does not fit '
                f'{num_batches} batches per epoch; the train dataloader (dataset, batch size or '
                f'number of processes) differs from the run that wrote the checkpoint')
        if trained:
            print_log(f'resumed in the middle of epoch {self._epoch + 1}: loading and skipping '
                      f'its first {trained} of {num_batches} batches, which were trained before '
                      f'the checkpoint', logger='current', level=logging.WARNING)
        self._enter_data_pass(self._epoch)
        for idx, data_batch in enumerate(self._seeded(iter(self.dataloader), first_step)):
            if idx < trained:
                continue
            self.run_iter(idx, data_batch)
        self.runner.call_hook('after_train_epoch')
        self._epoch += 1


class _SeededInfiniteIterator:
    """Wraps mmengine's infinite dataloader iterator: seeds before every fetch and moves the
    dataset to the next epoch at the start of each pass over the data."""

    def __init__(self, loop: 'ResumableIterBasedTrainLoop', inner: Iterator) -> None:
        self.loop = loop
        self.inner = inner
        self.step = 0
        self.num_batches = len(loop.dataloader)

    def __iter__(self):
        return self

    def __next__(self) -> Sequence[dict]:
        if self.step % self.num_batches == 0 and self.step > 0:
            self.loop._enter_data_pass(self.step // self.num_batches)
        self.loop._step_rng(self.step)
        self.step += 1
        return next(self.inner)


@LOOPS.register_module()
class ResumableIterBasedTrainLoop(_SeedEachStep, IterBasedTrainLoop):
    """``IterBasedTrainLoop`` with per-step seeding and dataset epochs (one per data pass).

    mmengine's loop already skips the batches trained before a resume; here every fetch,
    skipped ones included, is preceded by the seeding of its step. Same arguments as
    mmengine's ``IterBasedTrainLoop``.
    """

    def __init__(self, runner, dataloader, max_iters: int, **kwargs) -> None:
        super().__init__(runner, dataloader, max_iters, **kwargs)
        # The first pass's iterator was made by the base class; datasets start at epoch 0.
        self.dataloader_iterator = _SeededInfiniteIterator(self, self.dataloader_iterator)
