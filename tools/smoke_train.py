"""Train a config for a few iterations on a nuScenes-format set, with its training recipe on.

Checks that a nuScenes-size config runs end to end (CBGS, GT sampling, image and global 3D
augmentation, model, loss, backward, optimiser step) on a small set, e.g. the synthetic set
in v1.0-trainval form:

    python tools/create_synthetic.py --out data/synth_tv --scenes 11 --samples-per-scene 2 \\
        --image-size 400 225 --lidar-sweeps 1
    python tools/create_data.py nuscenes --root-path data/synth_tv --version v1.0-trainval \\
        --gt-database
    python tools/smoke_train.py CONFIG --data-root data/synth_tv --iters 2 --work-dir DIR

The config's training loop is replaced by ``ResumableIterBasedTrainLoop(max_iters=--iters)``
without validation, the batch size by ``--batch-size`` and the loader runs in the main process;
everything else (pipeline, model, optimiser) is the config's. Prints which recipe parts the
training set has, the loss of each iteration, seconds per iteration and the peak resident
memory of the process.
"""
import argparse
import resource
import time

from mmengine.config import Config, DictAction
from mmengine.hooks import Hook
from mmengine.runner import Runner

from fusion_moe.evaluation import point_data_at


class _LossLog(Hook):
    """Keep each iteration's total loss and wall time."""

    def __init__(self) -> None:
        self.rows = []
        self._start = 0.0

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        self._start = time.perf_counter()

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        loss = outputs['loss']
        loss = loss.detach() if hasattr(loss, 'detach') else loss
        self.rows.append((float(loss), time.perf_counter() - self._start))


def recipe_parts(cfg: Config) -> dict:
    """Which parts of the training recipe the config's training set uses."""
    dataset = cfg.train_dataloader.dataset
    cbgs = dataset.get('type') == 'CBGSDataset'
    while 'pipeline' not in dataset and 'dataset' in dataset:
        dataset = dataset['dataset']
    types = [t['type'] for t in dataset['pipeline']]
    return {'CBGS': cbgs, 'GT sampling': 'FusionObjectSample' in types,
            'image augmentation': 'MultiViewImageAug' in types,
            'global 3D augmentation': 'GlobalRotScaleTrans' in types}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--data-root', required=True, help='nuScenes-format root with info '
                        'files and the --gt-database of tools/create_data.py')
    parser.add_argument('--work-dir', required=True)
    parser.add_argument('--iters', type=int, default=2)
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def main(argv=None) -> list:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    point_data_at(cfg, args.data_root)
    cfg.work_dir = args.work_dir
    cfg.train_cfg = dict(type='ResumableIterBasedTrainLoop', max_iters=args.iters,
                         val_interval=args.iters + 1)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.test_cfg = cfg.test_dataloader = cfg.test_evaluator = None
    cfg.train_dataloader.update(batch_size=args.batch_size, num_workers=0,
                                persistent_workers=False)
    cfg.param_scheduler = None
    cfg.default_hooks.checkpoint = None
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    parts = recipe_parts(cfg)
    print('recipe: ' + ', '.join(f'{k} {"on" if v else "OFF"}' for k, v in parts.items()))
    runner = Runner.from_cfg(cfg)
    log = _LossLog()
    runner.register_hook(log, priority='LOWEST')
    runner.train()
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20
    for i, (loss, seconds) in enumerate(log.rows):
        print(f'iter {i + 1}: loss {loss:.4f}, {seconds:.1f} s')
    print(f'peak resident memory {peak_gb:.2f} GB')
    return log.rows


if __name__ == '__main__':
    main()
