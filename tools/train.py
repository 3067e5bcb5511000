"""Train a fusion_moe detector with mmengine's Runner.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp] [--tensorboard]
                          [--cfg-options key=value ...] [--launcher none|pytorch]

``--resume`` without a file continues from the newest complete checkpoint of the work dir
(checkpoints are written atomically); ``--amp`` trains in fp16 on CUDA and bf16 on CPU.

Configs that set ``synthetic_data = dict(out_root=..., num_scenes=..., ...)`` get that
synthetic nuScenes set (and its info files) made first if missing, so the demo runs from a
fresh clone. Evaluation writes the devkit's ``metrics_summary.json`` under
``<work_dir>/nuscenes_eval/``.
"""
import argparse
import logging
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a clone

from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.logging import print_log  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import fusion_moe  # noqa: E402,F401  (registration; safe checkpoint loading, engine/checkpoint.py)
from fusion_moe.engine.config_checks import check_point_ranges  # noqa: E402
from fusion_moe.engine.hooks import latest_checkpoint  # noqa: E402
from fusion_moe.evaluation import keep_eval_outputs_in, point_data_at  # noqa: E402


def ensure_synthetic_data(out_root: str, num_scenes: int = 10, samples_per_scene: int = 8,
                          seed: int = 0, **options) -> None:
    """Make the synthetic nuScenes set and its info files if they are missing (logged)."""
    from fusion_moe.data.create_infos import create_nuscenes_infos
    from fusion_moe.data.synthetic import generate_dataset, stale_reason, version_for
    version = version_for(num_scenes)
    stale = stale_reason(out_root)
    if stale is not None:  # made by an older generator: remade, never mixed
        print_log(f'{stale}: remaking the synthetic set and its info files', logger='current',
                  level=logging.WARNING)
    if stale is not None or not osp.isdir(osp.join(out_root, version)):
        print_log(f'{out_root}/{version} is missing or stale: generating the synthetic nuScenes '
                  f'set ({num_scenes} scenes x {samples_per_scene} samples, seed {seed})',
                  logger='current', level=logging.WARNING)
        # generate_dataset refuses (FileExistsError) to replace a root it did not make, before
        # anything there is touched; the old info files go only once the new set is in place
        version = generate_dataset(out_root, num_scenes=num_scenes,
                                   samples_per_scene=samples_per_scene, seed=seed,
                                   **{'overwrite': stale is not None, **options})
        if stale is not None:
            for split in ('train', 'val'):
                if osp.isfile(osp.join(out_root, f'nuscenes_infos_{split}.pkl')):
                    os.remove(osp.join(out_root, f'nuscenes_infos_{split}.pkl'))
    pkls = [osp.join(out_root, f'nuscenes_infos_{s}.pkl') for s in ('train', 'val')]
    if not all(osp.isfile(p) for p in pkls):
        print_log(f'info files missing in {out_root}: running create_nuscenes_infos',
                  logger='current', level=logging.WARNING)
        create_nuscenes_infos(out_root, version)


def make_synthetic_data_once(cfg: Config) -> None:
    """``ensure_synthetic_data`` on rank 0 while the other processes wait (after the Runner
    has joined the process group)."""
    if cfg.get('synthetic_data'):
        from mmengine.dist import barrier, get_rank
        if get_rank() == 0:
            ensure_synthetic_data(**cfg.synthetic_data)
        barrier()


def use_amp(cfg: Config) -> None:
    """fp16 autocast with a dynamic loss scale on CUDA (mmengine's AmpOptimWrapper), bf16
    autocast on CPU (fusion_moe's CPUBF16AutocastOptimWrapper; bf16 needs no loss scale)."""
    import torch
    if torch.cuda.is_available():
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
    else:
        cfg.optim_wrapper.type = 'CPUBF16AutocastOptimWrapper'


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a fusion_moe detector')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--work-dir', help='directory for logs, checkpoints and metrics')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from CKPT, or from the latest checkpoint of the work dir')
    parser.add_argument('--amp', action='store_true',
                        help='mixed precision: fp16 on CUDA, bf16 autocast on CPU')
    parser.add_argument('--tensorboard', action='store_true',
                        help='also log to TensorBoard under the work dir')
    parser.add_argument('--data-root',
                        help='read all data from this nuScenes-format root instead of the '
                             "config's (e.g. data/synth)")
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. train_cfg.max_epochs=2')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher (tools/dist_train.sh: pytorch)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def build_cfg(args: argparse.Namespace) -> Config:
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher
    if args.data_root:
        point_data_at(cfg, args.data_root)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    if args.amp:
        use_amp(cfg)
    if args.tensorboard:
        cfg.visualizer.vis_backends = list(cfg.visualizer.get('vis_backends') or []) + [
            dict(type='TensorboardVisBackend')]
    if args.resume == 'auto':  # the newest complete checkpoint; none: start from scratch
        cfg.load_from = latest_checkpoint(cfg.work_dir)
        cfg.resume = cfg.load_from is not None
        if not cfg.resume:
            print_log(f'--resume: no checkpoint in {cfg.work_dir}, training from the start',
                      logger='current', level=logging.WARNING)
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    keep_eval_outputs_in(cfg, osp.join(cfg.work_dir, 'nuscenes_eval'))
    check_point_ranges(cfg)
    return cfg


def init_cpu_distributed(cfg: Config) -> None:
    """Join the torchrun process group with gloo on a machine without CUDA.

    mmengine's ``init_dist`` calls ``torch.cuda.set_device``, which a CPU-only torch lacks;
    the Runner skips its own initialisation when a process group already exists (e.g. a
    second run in the same processes, which still needs the CPU model wrapper).
    """
    import torch
    import torch.distributed as dist
    if torch.cuda.is_available():
        return
    cfg.env_cfg.setdefault('dist_cfg', {})['backend'] = 'gloo'
    # DDP over CPU modules takes no device_ids (mmengine passes [LOCAL_RANK] by default)
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    wrapper.setdefault('type', 'MMDistributedDataParallel')
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
    if dist.is_initialized():
        return
    dist.init_process_group(backend='gloo')
    print_log(f'CPU distributed training: rank {dist.get_rank()} of {dist.get_world_size()} '
              f'(gloo)', logger='current', level=logging.INFO)


def limit_cpu_threads(cfg: Config) -> None:
    """Apply ``cpu_threads`` from the config on machines without CUDA.

    On a small shared CPU, torch's default (one thread per core in every process, data
    workers included) oversubscribes the cores; measured here, the demo ran 10x slower.
    """
    import torch
    threads = cfg.get('cpu_threads')
    if threads and not torch.cuda.is_available():
        torch.set_num_threads(int(threads))
        os.environ.setdefault('OMP_NUM_THREADS', str(threads))  # inherited by data workers
        print_log(f'CPU run: torch uses {threads} thread(s) per process (cfg.cpu_threads)',
                  logger='current', level=logging.INFO)


def main(argv=None) -> Runner:
    args = parse_args(argv)
    cfg = build_cfg(args)
    limit_cpu_threads(cfg)
    if args.launcher == 'pytorch':
        init_cpu_distributed(cfg)
    runner = Runner.from_cfg(cfg)  # joins the process group; datasets are built lazily
    make_synthetic_data_once(cfg)
    runner.train()
    return runner


if __name__ == '__main__':
    main()
