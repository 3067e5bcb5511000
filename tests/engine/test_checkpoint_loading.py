"""Checkpoints load through torch's weights-only unpickler with a narrow allow-list: what
tools/train.py writes loads, a pickle that would run code is refused naming the file, and
tools/test.py refuses weights that do not fit the model unless ``--strict false``."""
import io
import logging
import os
import os.path as osp
import pickletools
import zipfile
from collections import OrderedDict

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.runner.checkpoint import _load_checkpoint

import fusion_moe.engine.checkpoint as checkpoint_module
from fusion_moe.engine import (CheckpointMismatchError, UnsafeCheckpointError,
                               load_checkpoint_file, load_model_weights)
from fusion_moe.registry import MODELS
from tool_scripts import load_tool

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(REPO, 'configs', 'demo', 'detector_cpu.py')


class _RunsCode:
    """Unpickling this runs ``os.system`` (what a malicious checkpoint does)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}', )


class _ReachesAnAttribute:
    """Unpickling this calls ``getattr(HistoryBuffer, '__init__')``: the allow-listed getattr
    must refuse every name but HistoryBuffer's statistics methods."""

    def __reduce__(self):
        from mmengine.logging.history_buffer import HistoryBuffer
        return getattr, (HistoryBuffer, '__init__')


def _globals_in(path: str) -> set:
    """``'module name'`` of every GLOBAL opcode in a torch checkpoint's pickle."""
    with zipfile.ZipFile(path) as archive:
        data = archive.read(next(n for n in archive.namelist() if n.endswith('data.pkl')))
    return {arg for op, arg, _ in pickletools.genops(data)
            if op.name == 'GLOBAL'}


def _mmengine_like_checkpoint(path: str) -> None:
    """The parts of a checkpoint that Runner.save_checkpoint writes: weights, a message hub
    with HistoryBuffers, numpy dataset metainfo, optimizer and scheduler states."""
    hub = MessageHub('ckpt_test')
    for step in range(3):
        hub.update_scalar('train/loss', 0.5 / (step + 1))
    hub.update_info('iter', 3)
    model = torch.nn.Linear(2, 1)
    optimizer = torch.optim.AdamW(model.parameters())
    model(torch.ones(1, 2)).sum().backward()
    optimizer.step()
    torch.save({'meta': {'epoch': 1, 'iter': 3, 'seed': 0, 'cfg': 'x = 1',
                         'dataset_meta': {'classes': ('car', ), 'palette': np.zeros((1, 3)),
                                          'scale': np.float64(0.5)}},
                'state_dict': OrderedDict(model.state_dict()),
                'message_hub': hub.state_dict(), 'optimizer': optimizer.state_dict(),
                'param_schedulers': [{'last_step': 3, 'base_values': [0.1]}]}, path)


def test_a_training_checkpoint_loads_with_the_weights_only_unpickler(tmp_path):
    path = str(tmp_path / 'iter_3.pth')
    _mmengine_like_checkpoint(path)
    needed = _globals_in(path)
    assert {'mmengine.logging.history_buffer HistoryBuffer', '__builtin__ getattr',
            'numpy.core.multiarray _reconstruct'} <= needed  # beyond torch's defaults
    assert torch.serialization.get_unsafe_globals_in_checkpoint(path) == []  # all allowed
    loaded = _load_checkpoint(path)  # mmengine's loader: --resume, load_from, tools/test.py
    assert loaded['message_hub']['log_scalars']['train/loss'].mean() == pytest.approx(0.5 * 11 / 18)
    assert loaded['meta']['dataset_meta']['palette'].shape == (1, 3)


@pytest.mark.parametrize('load', [load_checkpoint_file, _load_checkpoint],
                         ids=['load_checkpoint_file', 'mmengine_load_checkpoint'])
def test_a_checkpoint_whose_pickle_runs_code_is_refused_naming_the_file(tmp_path, monkeypatch,
                                                                        load):
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')  # an old habit must not matter
    marker = tmp_path / 'code_ran'
    path = str(tmp_path / 'downloaded.pth')
    torch.save({'state_dict': {}, 'meta': _RunsCode(str(marker))}, path)
    with pytest.raises(UnsafeCheckpointError, match=r'downloaded\.pth: refused to load this '
                                                    r"checkpoint: it needs the global "
                                                    r"'posix\.system'") as info:
        load(path)
    assert info.value.path == path
    assert not marker.exists()


def test_getattr_is_allowed_only_for_the_history_buffer_statistics(tmp_path):
    path = str(tmp_path / 'gadget.pth')
    torch.save({'meta': _ReachesAnAttribute()}, path)
    with pytest.raises(UnsafeCheckpointError, match="gadget.pth.*refused getattr.*'__init__'"):
        load_checkpoint_file(path)


def test_a_truncated_checkpoint_is_an_error_naming_the_file(tmp_path):
    path = tmp_path / 'iter_3.pth'
    _mmengine_like_checkpoint(str(path))
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(RuntimeError, match=r'iter_3\.pth: not a readable checkpoint'):
        load_checkpoint_file(str(path))


# ---- tools/test.py: the weights must fit the model ------------------------------------------

def _test_tool():
    return load_tool('test')


@pytest.fixture(scope='module')
def demo_weights():
    return MODELS.build(Config.fromfile(DEMO).model).state_dict()


def _save(path, state) -> str:
    torch.save({'meta': {}, 'state_dict': state}, str(path))
    return str(path)


def test_tools_test_refuses_a_checkpoint_without_the_models_weights(tmp_path):
    ckpt = _save(tmp_path / 'empty.pth', {})
    with pytest.raises(CheckpointMismatchError, match=r"empty\.pth: holds none of the model's "
                                                      r'\d+ weights.*randomly initialised'):
        _test_tool().main([DEMO, ckpt, '--work-dir', str(tmp_path / 'work')])


def test_tools_test_refuses_missing_and_unexpected_keys_naming_them(tmp_path, demo_weights):
    state = OrderedDict(demo_weights)
    state.pop('bbox_head.shared_conv.conv.weight')
    state['neck.extra.weight'] = torch.zeros(3)
    ckpt = _save(tmp_path / 'other_model.pth', state)
    with pytest.raises(CheckpointMismatchError, match=r'other_model\.pth: does not fit the model; '
                                                      r'missing keys: bbox_head\.shared_conv\.'
                                                      r'conv\.weight; unexpected keys: neck\.'
                                                      r'extra\.weight .*--strict false'):
        _test_tool().main([DEMO, ckpt, '--work-dir', str(tmp_path / 'work')])


def test_strict_false_loads_the_keys_that_fit_and_logs_the_others(tmp_path, demo_weights,
                                                                  monkeypatch):
    assert _test_tool().parse_args([DEMO, 'x.pth', '--strict', 'false']).strict is False
    logged = []
    monkeypatch.setattr(checkpoint_module, 'print_log',
                        lambda msg, level=logging.INFO, **kw: logged.append((level, msg)))
    state = OrderedDict((k, torch.full_like(v, 0.5) if v.is_floating_point() else v)
                        for k, v in demo_weights.items())
    missing = state.pop('bbox_head.shared_conv.conv.weight')
    model = MODELS.build(Config.fromfile(DEMO).model)
    before = model.state_dict()['bbox_head.shared_conv.conv.weight'].clone()
    load_model_weights(model, _save(tmp_path / 'partial.pth', state), strict=False)
    after = model.state_dict()
    assert torch.equal(after['bbox_head.shared_conv.conv.weight'], before)
    assert missing.shape == before.shape
    assert torch.all(after['fusion.fuser.fuse.0.weight'] == 0.5)
    warning = [m for level, m in logged if level == logging.WARNING]
    assert warning and 'partial.pth: partial load (strict=False); missing keys: ' \
                       'bbox_head.shared_conv.conv.weight' in warning[0]


def test_a_pickle_that_is_not_a_checkpoint_dict_is_refused(tmp_path):
    path = tmp_path / 'list.pth'
    buffer = io.BytesIO()
    torch.save([1, 2, 3], buffer)
    path.write_bytes(buffer.getvalue())
    with pytest.raises(CheckpointMismatchError, match=r'list\.pth: holds a list'):
        load_model_weights(torch.nn.Linear(1, 1), str(path))
