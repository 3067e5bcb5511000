"""tools/train.py turns its flags into the Runner config (no training here)."""
import importlib.util
import os.path as osp

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(REPO, 'configs', 'demo', 'detector_cpu.py')


@pytest.fixture(autouse=True)
def _keep_env(monkeypatch):
    """train.py sets TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD on import; keep it out of this process."""
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '0')


def _train_module():
    spec = importlib.util.spec_from_file_location('fusion_train_tool',
                                                  osp.join(REPO, 'tools', 'train.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_flags_set_work_dir_resume_tensorboard_and_eval_output_dir(tmp_path):
    train = _train_module()
    args = train.parse_args([DEMO, '--work-dir', str(tmp_path), '--resume', '--tensorboard',
                             '--cfg-options', 'train_cfg.max_epochs=3'])
    cfg = train.build_cfg(args)
    assert cfg.work_dir == str(tmp_path)
    assert cfg.resume is True and cfg.load_from is None  # latest checkpoint of the work dir
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


def test_amp_without_cuda_is_a_clear_refusal(tmp_path):
    train = _train_module()
    with pytest.raises(SystemExit, match='CUDA'):
        train.build_cfg(train.parse_args([DEMO, '--work-dir', str(tmp_path), '--amp']))
