"""tools/train.py turns its flags into the Runner config (no training here)."""
import os
import os.path as osp

from tool_scripts import load_tool

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(REPO, 'configs', 'demo', 'detector_cpu.py')


def _train_module():
    return load_tool('train')


def test_flags_set_work_dir_resume_tensorboard_and_eval_output_dir(tmp_path):
    train = _train_module()
    args = train.parse_args([DEMO, '--work-dir', str(tmp_path), '--resume', '--tensorboard',
                             '--cfg-options', 'train_cfg.max_epochs=3'])
    cfg = train.build_cfg(args)
    assert cfg.work_dir == str(tmp_path)
    assert cfg.resume is False and cfg.load_from is None  # nothing to resume: from the start
    assert cfg.train_cfg.max_epochs == 3
    assert any(b['type'] == 'TensorboardVisBackend' for b in cfg.visualizer.vis_backends)
    assert cfg.val_evaluator.jsonfile_prefix == osp.join(str(tmp_path), 'nuscenes_eval')


def test_resume_from_a_named_checkpoint_and_data_root_override(tmp_path):
    train = _train_module()
    cfg = train.build_cfg(train.parse_args([DEMO, '--work-dir', str(tmp_path), '--resume',
                                            'ckpt.pth', '--data-root', '/elsewhere']))
    assert cfg.resume is True and cfg.load_from == 'ckpt.pth'
    assert cfg.train_dataloader.dataset.data_root == '/elsewhere/'
    assert cfg.val_evaluator.ann_file == '/elsewhere/nuscenes_infos_val.pkl'


def test_resume_without_a_file_continues_from_the_newest_complete_checkpoint(tmp_path):
    for step in (2, 4):
        (tmp_path / f'iter_{step}.pth').write_bytes(b'complete')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_4.pth'))
    train = _train_module()
    cfg = train.build_cfg(train.parse_args([DEMO, '--work-dir', str(tmp_path), '--resume']))
    assert cfg.resume is True and cfg.load_from == str(tmp_path / 'iter_4.pth')


def test_amp_on_cpu_trains_under_bf16_autocast(tmp_path):
    train = _train_module()
    cfg = train.build_cfg(train.parse_args([DEMO, '--work-dir', str(tmp_path), '--amp']))
    assert cfg.optim_wrapper.type == 'CPUBF16AutocastOptimWrapper'
    assert cfg.optim_wrapper.optimizer.type == 'AdamW'  # the rest of the wrapper is kept


def test_the_tools_leave_torchs_safe_loading_on(monkeypatch):
    monkeypatch.delenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', raising=False)
    _train_module()
    assert 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD' not in os.environ
