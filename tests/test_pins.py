"""The CPU setup and the GPU image install the same pinned versions from one file."""
import re
from pathlib import Path

import pytest

from tool_scripts import load_script

ROOT = Path(__file__).resolve().parents[1]
PINS = ROOT / 'requirements' / 'pins.txt'


def _load_gpu_pins_module():
    return load_script('docker/gpu_pins.py')


def test_pins_cover_the_stack_the_brief_fixes():
    pins = _load_gpu_pins_module().read_pins(PINS)
    assert pins == {**pins, 'torch': '2.13.0', 'numpy': '1.26.4', 'setuptools': '80.9.0',
                    'mmengine': '0.10.7', 'mmcv': '2.1.0', 'mmdet': '3.3.0', 'mmdet3d': '1.4.0',
                    'nuscenes-devkit': '1.2.0', 'open3d': '0.20.0', 'spconv': '2.3.8',
                    'imagecorruptions': '1.1.2'}


def test_gpu_pins_keep_every_version_and_rename_only_cuda_packages():
    gp = _load_gpu_pins_module()
    cpu = gp.read_pins(PINS)
    gpu = dict(line.split('==') for line in gp.gpu_pins(cpu, 'cu126'))
    assert gpu['spconv-cu126'] == cpu['spconv'] and gpu['cumm-cu126'] == cpu['cumm']
    assert {k: v for k, v in gpu.items() if not k.endswith('-cu126')} == \
        {k: v for k, v in cpu.items() if k not in gp.CUDA_RENAMED}
    with pytest.raises(ValueError):
        gp.gpu_pins(cpu, 'cuda12')


def test_dockerfile_states_no_version_of_its_own():
    text = (ROOT / 'docker' / 'Dockerfile').read_text()
    assert 'gpu_pins.py requirements/pins.txt' in text
    # Package installs name no '==' version: every version comes from the generated pins file.
    for line in text.splitlines():
        if 'pip install' in line:
            assert not re.search(r'==\s*\d', line), line
    # The Debian packages open3d needs are installed, as the CPU setup does.
    for deb in ('libusb-1.0-0', 'libvulkan1', 'mesa-vulkan-drivers'):
        assert deb in text
    setup = (ROOT / 'tools' / 'setup_env.sh').read_text()
    assert 'requirements/pins.txt' in setup and not re.search(r'\b\w+==\d', setup)


def test_malformed_pin_line_is_an_error_naming_the_line(tmp_path):
    bad = tmp_path / 'pins.txt'
    bad.write_text('torch==2.13.0\nmmcv>=2\n')
    with pytest.raises(ValueError, match='pins.txt:2'):
        _load_gpu_pins_module().read_pins(bad)


def test_bench_extra_pins_agree_with_setup_cfg_and_never_repin_the_stack():
    """requirements/bench.txt pins the `bench` extra and what it pulls in; setup.cfg's extra
    names the same versions, and neither moves a package of requirements/pins.txt."""
    import configparser
    gp = _load_gpu_pins_module()
    bench = gp.read_pins(ROOT / 'requirements' / 'bench.txt')
    assert not set(bench) & set(gp.read_pins(PINS)), 'bench.txt repins a pins.txt package'
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / 'setup.cfg')
    extra = [line.strip() for line in cfg['options.extras_require']['bench'].splitlines()
             if line.strip()]
    assert extra, 'setup.cfg has an empty bench extra'
    for line in extra:
        name, version = line.split('==')
        assert bench[name.lower()] == version, line
    for peer in ('mixture-of-experts', 'st-moe-pytorch', 'soft-moe-pytorch'):
        assert peer in bench
