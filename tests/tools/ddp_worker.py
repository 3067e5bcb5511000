"""One process of the 2-process gloo DDP test; run by torchrun from test_dist_train.py.

    python -m torch.distributed.run --nproc_per_node 2 tests/tools/ddp_worker.py OUT_DIR

Everything goes through ``tools/train.py`` (mmengine Runner + MMDistributedDataParallel, gloo
on CPU), in two runs per process:

1. ``fusion``: a tiny FusionDetector for a few iterations on an in-memory dataset; each rank
   saves its parameters before and after training and the sample indices it trained on
   (``rank{r}_init.pt``, ``rank{r}_final.pt``).
2. ``toy``: the toy MoE model of ``tests/engine/toy_moe.py`` (MoE layer with balance, z and
   usage losses and the expert-bias hook), 2 processes x batch 2; and, before the process
   group exists, rank 0 forks a single-process run of the same config with batch 4
   (``toy_single``). Each writes its per-iteration logged loss and routing entropy
   (``toy_*.jsonl``) and final parameters and buffers (``toy_*rank{r}_final.pt``).
   Further models (e.g. fusion placements) can be added to ``PARITY_MODELS``.
"""
import os
import os.path as osp
import sys

import numpy as np
import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path[:0] = [REPO, osp.join(REPO, 'tools'), osp.join(REPO, 'tests', 'engine')]
torch.set_num_threads(1)

import fusion_moe  # noqa: E402,F401
from mmdet3d.structures import Det3DDataSample, LiDARInstance3DBoxes  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.hooks import Hook  # noqa: E402
from mmengine.structures import InstanceData  # noqa: E402
from toy_moe import toy_config  # noqa: E402
from train import main as train_main  # noqa: E402

from fusion_moe.registry import DATASETS, HOOKS  # noqa: E402
from fusion_moe.structures import CLASSES  # noqa: E402

PCR = [-12.8, -12.8, -5.0, 12.8, 12.8, 3.0]
CELL = 1.6


@DATASETS.register_module()
class DDPTestFusionDataset(torch.utils.data.Dataset):
    """8 packed samples, each one car at a sample-dependent place, LiDAR + radar."""

    def __init__(self, length: int = 8) -> None:
        self.length = length
        self.metainfo = {'classes': CLASSES}

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, idx: int) -> dict:
        rng = np.random.default_rng(idx)
        cx, cy = rng.uniform(-8, 8, 2)
        car = np.array([[cx, cy, -1.0, 4.5, 1.9, 1.6, 0.3, 1.0, 0.0]], dtype=np.float32)
        pts = np.zeros((200, 6), np.float32)
        pts[:, 0] = cx + rng.uniform(-2, 2, 200)
        pts[:, 1] = cy + rng.uniform(-0.9, 0.9, 200)
        pts[:, 2] = rng.uniform(-1, 0.6, 200)
        radar = np.array([[cx, cy, 0, 10, 1, 0, 0, 0]], np.float32)
        sample = Det3DDataSample()
        sample.set_metainfo(dict(sample_idx=idx, box_type_3d=LiDARInstance3DBoxes,
                                 modality_present=dict(camera=False, lidar=True, radar=True)))
        gt = InstanceData()
        gt.bboxes_3d = LiDARInstance3DBoxes(torch.from_numpy(car), box_dim=9)
        gt.labels_3d = torch.tensor([0])
        sample.gt_instances_3d = gt
        return {'inputs': {'points': torch.from_numpy(pts),
                           'radar_points': torch.from_numpy(radar)},
                'data_samples': sample}


@HOOKS.register_module()
class DumpRankStateHook(Hook):
    """Save this rank's parameters (and buffers) before/after training and the samples it
    trained on, as ``{prefix}rank{r}_init.pt`` / ``{prefix}rank{r}_final.pt``."""

    def __init__(self, out_dir: str, prefix: str = '') -> None:
        self.out_dir = out_dir
        self.prefix = prefix
        self.seen = []

    @staticmethod
    def _state(runner, buffers: bool = False) -> dict:
        model = runner.model.module if hasattr(runner.model, 'module') else runner.model
        named = model.named_buffers() if buffers else model.named_parameters()
        return {k: v.detach().clone() for k, v in named}

    def _path(self, runner, when: str) -> str:
        return osp.join(self.out_dir, f'{self.prefix}rank{runner.rank}_{when}.pt')

    def before_train(self, runner) -> None:
        torch.save(self._state(runner), self._path(runner, 'init'))

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        samples = data_batch['data_samples']
        self.seen += ([int(s.metainfo['sample_idx']) for s in samples]
                      if isinstance(samples, list) else [int(i) for i in samples['sample_idx']])

    def after_train(self, runner) -> None:
        torch.save({'state': self._state(runner), 'buffers': self._state(runner, buffers=True),
                    'seen': self.seen}, self._path(runner, 'final'))


def tiny_config(out_dir: str) -> Config:
    grid = [round((PCR[3] - PCR[0]) / CELL), round((PCR[4] - PCR[1]) / CELL), 1]
    post = [PCR[0] - 5, PCR[1] - 5, -10.0, PCR[3] + 5, PCR[4] + 5, 10.0]
    model = dict(
        type='FusionDetector',
        bev_grid=dict(point_cloud_range=PCR, cell_m=CELL),
        encoders=dict(lidar=dict(type='LidarPillarEncoder', out_channels=8,
                                 max_points_per_pillar=8, max_pillars=(500, 500)),
                      radar=dict(type='RadarPointEncoder', mlp_channels=(8, ))),
        fuser=dict(type='ConcatConvFuser', out_channels=16),
        backbone=dict(type='SECOND', in_channels=16, out_channels=[16], layer_nums=[1],
                      layer_strides=[1]),
        bbox_head=dict(
            type='CenterHead', in_channels=16,
            tasks=[dict(num_class=10, class_names=list(CLASSES))],
            common_heads=dict(reg=(2, 2), height=(1, 2), dim=(3, 2), rot=(2, 2), vel=(2, 2)),
            share_conv_channel=16,
            bbox_coder=dict(type='CenterPointBBoxCoder', post_center_range=post, max_num=50,
                            score_threshold=0.0, out_size_factor=1, voxel_size=[CELL, CELL],
                            pc_range=PCR[:2], code_size=9),
            separate_head=dict(type='SeparateHead', init_bias=-2.19, final_kernel=3),
            loss_cls=dict(type='mmdet.GaussianFocalLoss', reduction='mean'),
            loss_bbox=dict(type='mmdet.L1Loss', reduction='mean', loss_weight=0.25),
            norm_bbox=True,
            train_cfg=dict(grid_size=grid, voxel_size=[CELL, CELL, 8.0], out_size_factor=1,
                           dense_reg=1, gaussian_overlap=0.1, max_objs=50, min_radius=2,
                           point_cloud_range=PCR, code_weights=[1.0] * 8 + [0.2, 0.2]),
            test_cfg=dict(post_center_limit_range=post, max_per_img=50, max_pool_nms=False,
                          min_radius=[4], score_threshold=0.0, pc_range=PCR[:2],
                          out_size_factor=1, voxel_size=[CELL, CELL], nms_type='rotate',
                          pre_max_size=100, post_max_size=30, nms_thr=0.2)))
    return Config(dict(
        default_scope='mmdet3d',
        model=model,
        train_dataloader=dict(batch_size=2, num_workers=0,
                              sampler=dict(type='DefaultSampler', shuffle=False),
                              collate_fn=dict(type='pseudo_collate'),
                              dataset=dict(type='DDPTestFusionDataset')),
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=3),
        optim_wrapper=dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.05,
                                                               momentum=0.9)),
        default_hooks=dict(logger=dict(type='LoggerHook', interval=1),
                           checkpoint=dict(type='CheckpointHook', interval=1000)),
        custom_hooks=[dict(type='DumpRankStateHook', out_dir=out_dir)],
        env_cfg=dict(dist_cfg=dict(backend='gloo')),
        randomness=dict(seed=0),
        log_level='WARNING'))


def toy_parity_config(out_dir: str, name: str, batch_size: int) -> Config:
    """The toy MoE model without randomness that depends on how the batch is split (no
    dropout, no router noise, no augmentation), routing rates logged every iteration."""
    cfg = toy_config(osp.join(out_dir, f'work_{name}'), max_epochs=1, length=16,
                     batch_size=batch_size, num_workers=0, checkpoint_every=1000,
                     router=dict(type='TopKRouter', top_k=2), dropout=0.0)
    cfg['train_dataloader']['dataset']['augment_std'] = 0.0
    # DeepSeek-V3's bias step; near-uniform early routing makes larger steps oscillate
    cfg['custom_hooks'][0]['update_rate'] = 1e-3
    rank = os.environ.get('RANK', '0') if name != 'single' else '0'
    cfg['custom_hooks'] += [
        dict(type='RoutingStatisticsHook', train_interval=1),
        dict(type='RecordBatchesHook', out_file=osp.join(out_dir, f'toy_{name}_{rank}.jsonl')),
        dict(type='DumpRankStateHook', out_dir=out_dir, prefix=f'toy_{name}_')]
    cfg['experiment_name'] = f'toy_{name}_{rank}'
    return Config(cfg)


#: name -> config builder(out_dir, name, per-process batch size) of the parity runs
PARITY_MODELS = {'toy': toy_parity_config}
PARITY_BATCH = 4  # samples per step, split over the processes


def _run_single_process_references(out: str) -> None:
    """Fork (before the process group exists) one non-distributed run per parity model."""
    for name, build in PARITY_MODELS.items():
        path = osp.join(out, f'{name}_single.py')
        build(out, 'single', PARITY_BATCH).dump(path)
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                train_main([path])
            except BaseException as err:
                print(f'single-process run of {name} failed: {err!r}', file=sys.stderr)
                code = 1
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        if status:
            raise SystemExit(f'single-process run of {name} failed ({status})')


if __name__ == '__main__':
    out = sys.argv[1]
    rank = os.environ.get('RANK', '0')
    if rank == '0':
        _run_single_process_references(out)
    cfg_path = osp.join(out, f'tiny_ddp_{rank}.py')
    tiny_config(out).dump(cfg_path)
    train_main([cfg_path, '--work-dir', osp.join(out, 'work'), '--launcher', 'pytorch'])
    world = int(os.environ.get('WORLD_SIZE', '1'))
    for name, build in PARITY_MODELS.items():
        path = osp.join(out, f'{name}_ddp_{rank}.py')
        build(out, 'ddp', PARITY_BATCH // world).dump(path)
        train_main([path, '--launcher', 'pytorch'])
    # Leave together and close the process group: a rank that exits while the other's gloo
    # threads still talk to it aborts in C++ ("terminate called without an active exception").
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
