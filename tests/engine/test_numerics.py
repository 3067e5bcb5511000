"""Reduced precision and non-finite values: bf16 autocast on CPU trains without NaN / Inf (the
camera projection and the reliability gate stay in fp32), and the non-finite guard stops a run
at the first NaN, naming where it appeared, with the last good checkpoint kept."""
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.hooks import Hook
from mmengine.optim import build_optim_wrapper
from mmengine.runner import Runner

from fusion_moe.engine import load_checkpoint_file
from fusion_moe.engine.hooks import NonFiniteError, latest_checkpoint
from fusion_moe.models.encoders.camera.view_transform.sampling import (bev_points_lidar,
                                                                       sample_cameras_to_bev)
from fusion_moe.models.moe import ModalityReliabilityGate
from fusion_moe.registry import DATASETS, HOOKS, MODELS
from fusion_moe.structures import CLASSES, BEVGrid
from tool_scripts import load_script
from toy_moe import ToyMoERegressor, ToyTokenDataset, toy_config


def _detector_test_helpers():
    """tiny_model_cfg and front_camera_lidar2img of the detector tests' conftest."""
    return load_script('tests/models/detector/conftest.py')


def _bf16_wrapper(model, lr=1e-3):
    return build_optim_wrapper(model, dict(type='CPUBF16AutocastOptimWrapper',
                                           optimizer=dict(type='AdamW', lr=lr)))


# ---- the known hazards -------------------------------------------------------------------

@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16])
def test_camera_sampling_under_autocast_is_finite_and_equals_fp32_on_the_same_features(dtype):
    det = _detector_test_helpers()
    grid = BEVGrid.from_config([-51.2, -51.2, -5.0, 51.2, 51.2, 3.0], 0.8)
    points = bev_points_lidar(grid, (-1.0, 0.0, 1.0, 2.0), sample_stride=2)
    # a camera at the LiDAR origin: cells beside and behind it project to |u| >> 65504 px
    lidar2img = torch.tensor(det.front_camera_lidar2img((900, 1600)), dtype=torch.float32)
    lidar2img = lidar2img.expand(1, 2, 4, 4)
    feats = torch.randn(1, 2, 8, 57, 100).to(dtype)
    reference, seen_fp32 = sample_cameras_to_bev(feats.float(), lidar2img, points, (900, 1600))
    with torch.autocast('cpu', dtype=dtype):
        mean, seen = sample_cameras_to_bev(feats, lidar2img, points, (900, 1600))
    assert mean.dtype == torch.float32 and bool(torch.isfinite(mean).all())
    assert torch.equal(seen, seen_fp32) and 0 < int(seen.bool().sum()) < seen.numel()
    torch.testing.assert_close(mean, reference)


def test_reliability_gate_loss_is_fp32_under_autocast():
    torch.manual_seed(0)
    gate = ModalityReliabilityGate({'camera': 4, 'lidar': 4})
    present = torch.tensor([True, True, False])
    maps = {m: (torch.randn(3, 4, 8, 8).bfloat16(), present) for m in ('camera', 'lidar')}
    targets = {'camera': torch.tensor([1.0, 0.0, 0.0]), 'lidar': torch.tensor([1.0, 1.0, 0.0])}
    reference = gate({m: (x.float(), p) for m, (x, p) in maps.items()}, targets)[2]
    with torch.autocast('cpu', dtype=torch.bfloat16):
        _, scores, losses = gate(maps, targets)
    loss = losses['loss_reliability']
    assert loss.dtype == torch.float32 and bool(torch.isfinite(loss))
    torch.testing.assert_close(loss, reference['loss_reliability'])
    assert scores['camera'][2] == 0  # an absent modality stays unreliable
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in gate.parameters() if p.grad is not None)


# ---- short bf16 runs -----------------------------------------------------------------------

def test_bf16_training_keeps_router_logits_and_gates_fp32_and_finite():
    torch.manual_seed(0)
    model = ToyMoERegressor(router=dict(type='TopKRouter', top_k=2))
    wrapper = _bf16_wrapper(model, lr=0.01)
    records, embed_dtypes = [], []
    model.moe.register_forward_hook(lambda m, args, out: records.append(out[1]))
    model.embed.register_forward_hook(lambda m, args, out: embed_dtypes.append(out.dtype))
    dataset = ToyTokenDataset(length=8)
    for step in range(4):
        batch = pseudo_collate([dataset[(2 * step + i) % 8] for i in range(2)])
        log_vars = model.train_step(batch, wrapper)
        assert all(bool(torch.isfinite(v)) for v in log_vars.values()), log_vars
    assert embed_dtypes == [torch.bfloat16] * 4  # autocast was on
    for record in records:
        assert record.logits.dtype == record.gates.dtype == torch.float32
        assert bool(torch.isfinite(record.logits).all() and torch.isfinite(record.gates).all())


def test_bf16_training_under_the_harshest_degradations_has_finite_losses(synth_root):
    det = _detector_test_helpers()
    pcr = det.TINY_PCR
    pipeline = [
        dict(type='LoadLidarSweeps', sweeps_num=1), dict(type='LoadCameraImages'),
        dict(type='LoadRadarSweeps', sweeps_num=2),
        dict(type='LoadAnnotations3D', with_bbox_3d=True, with_label_3d=True),
        dict(type='Fog', severity=5), dict(type='Night', severity=5),
        dict(type='LidarBeamReduction', severity=5),
        dict(type='PointsRangeFilter', point_cloud_range=pcr),
        dict(type='ObjectRangeFilter', point_cloud_range=pcr),
        dict(type='ObjectNameFilter', classes=list(CLASSES)),
        dict(type='PackFusionInputs')]
    dataset = DATASETS.build(dict(type='FusionNuScenesDataset', data_root=synth_root,
                                  ann_file='nuscenes_infos_train.pkl', pipeline=pipeline))
    torch.manual_seed(0)
    model = MODELS.build(det.tiny_model_cfg())
    wrapper = _bf16_wrapper(model)
    backbone_dtypes, camera_maps = [], []
    model.backbone.register_forward_hook(lambda m, a, out: backbone_dtypes.append(out[0].dtype))
    model.encoders['camera'].register_forward_hook(lambda m, a, out: camera_maps.append(out[0]))
    for step in range(3):
        batch = pseudo_collate([dataset[(2 * step + i) % len(dataset)] for i in range(2)])
        assert all(d['degradations'] for d in
                   (s.metainfo for s in batch['data_samples']))  # all three applied
        log_vars = model.train_step(batch, wrapper)
        assert all(bool(torch.isfinite(v)) for v in log_vars.values()), (step, log_vars)
    assert backbone_dtypes == [torch.bfloat16] * 3  # autocast was on
    assert all(bool(torch.isfinite(m).all()) for m in camera_maps)


# ---- the non-finite guard --------------------------------------------------------------------

@HOOKS.register_module()
class _PoisonWeightAfterIteration(Hook):
    """Makes ``head.weight`` NaN after iteration ``iteration``, as a non-finite gradient would."""
    priority = 'HIGHEST'  # after the optimizer step, before the guard looks

    def __init__(self, iteration: int) -> None:
        self.iteration = iteration

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if runner.iter + 1 == self.iteration:
            with torch.no_grad():
                runner.model.head.weight[0, 0] = float('nan')


def _guarded_run(tmp_path, **dataset):
    cfg = toy_config(str(tmp_path / 'work'), max_epochs=1, length=8, num_workers=0)
    cfg['train_dataloader']['sampler']['shuffle'] = False  # sample 5 in iteration 3
    cfg['train_dataloader']['dataset'].update(dataset)
    cfg['randomness'] = dict(seed=0)  # not deterministic mode: that is process-wide
    cfg['experiment_name'] = f'guard_{tmp_path.name}'
    return Config(cfg)


def test_a_nan_loss_stops_the_run_naming_the_first_non_finite_tensor(tmp_path):
    runner = Runner.from_cfg(_guarded_run(tmp_path, poison=[5]))
    with pytest.raises(NonFiniteError, match=r'iteration 3: non-finite loss loss_regression '
                                             r'\(shape \(\), 1 NaN.*first non-finite tensor: '
                                             r'output of poison \(shape \(2, 16\), 16 NaN.*'
                                             r'before the optimizer step; the last good '
                                             r'checkpoint is .*iter_2\.pth'):
        runner.train()
    work = tmp_path / 'work'
    assert latest_checkpoint(str(work)) == str(work / 'iter_2.pth')
    assert not (work / 'iter_3.pth').exists()
    kept = load_checkpoint_file(str(work / 'iter_2.pth'))['state_dict']
    assert all(bool(torch.isfinite(v).all()) for v in kept.values() if v.is_floating_point())


def test_a_non_finite_weight_after_a_step_stops_the_run_before_it_is_checkpointed(tmp_path):
    cfg = _guarded_run(tmp_path)
    cfg.custom_hooks.append(dict(type='_PoisonWeightAfterIteration', iteration=2))
    with pytest.raises(NonFiniteError, match=r'iteration 2: head\.weight holds non-finite '
                                             r'values \(shape \(1, 16\), 1 NaN.*after the '
                                             r'optimizer step.*last good checkpoint is '
                                             r'.*iter_1\.pth'):
        Runner.from_cfg(cfg).train()
    assert not (tmp_path / 'work' / 'iter_2.pth').exists()
    assert latest_checkpoint(str(tmp_path / 'work')) == str(tmp_path / 'work' / 'iter_1.pth')
