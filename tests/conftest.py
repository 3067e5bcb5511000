"""Suite-wide settings: CPU, offline, one thread per test process; the real-fixture marker.

Tests that read the real nuScenes fixture (``FUSION_MOE_REAL_DATA``, default
``../shared/data/nuscenes-real``; see ``fusion_moe/data/real_fixture.py``) carry the
``real_fixture`` marker: every test that requests the ``real_fixture_root`` fixture, directly or
through another fixture, gets it automatically. When the fixture is absent those tests are
left out (deselected) and one line at the end of the session says how many and how to run
them;
``--require-real-fixture`` (CI) turns the absence into failures instead. A
``FUSION_MOE_REAL_DATA`` that is set but points at an incomplete fixture is a usage error.
"""
import os
import os.path as osp
import sys

os.environ.setdefault('OMP_NUM_THREADS', '1')
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))  # tool_scripts.py, for every test dir

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)

from fusion_moe.data.real_fixture import (REAL_FIXTURE_ENV, REAL_FIXTURE_ROOT,  # noqa: E402
                                          real_fixture_problem)

_skipped_for_fixture = []


def pytest_addoption(parser):
    parser.addoption('--require-real-fixture', action='store_true',
                     help='fail, instead of skipping, the tests that need the real nuScenes '
                          f'fixture when it is absent (${REAL_FIXTURE_ENV})')


def pytest_configure(config):
    config.addinivalue_line('markers', 'real_fixture: needs the real nuScenes fixture '
                                       f'(${REAL_FIXTURE_ENV}, default ../shared/data/'
                                       f'nuscenes-real)')
    problem = real_fixture_problem()
    if problem and os.environ.get(REAL_FIXTURE_ENV):
        raise pytest.UsageError(f'{REAL_FIXTURE_ENV} is set, but {problem}')


@pytest.fixture(scope='session')
def real_fixture_root() -> str:
    """The real nuScenes fixture's directory."""
    problem = real_fixture_problem()
    if problem:
        raise FileNotFoundError(f'this test needs the real nuScenes fixture, but {problem}; '
                                f'set {REAL_FIXTURE_ENV}=/path/to/nuscenes-real')
    return REAL_FIXTURE_ROOT


def pytest_collection_modifyitems(config, items):
    for item in items:
        if 'real_fixture_root' in getattr(item, 'fixturenames', ()):
            item.add_marker(pytest.mark.real_fixture)
    if real_fixture_problem() is None or config.getoption('--require-real-fixture'):
        return
    # deselected rather than skipped: pytest's -ra would list every skip location; the one
    # line of pytest_terminal_summary says what was left out and why
    kept = []
    for item in items:
        if item.get_closest_marker('real_fixture') is not None:
            _skipped_for_fixture.append(item)
        else:
            kept.append(item)
    if _skipped_for_fixture:
        config.hook.pytest_deselected(items=list(_skipped_for_fixture))
        items[:] = kept


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if _skipped_for_fixture:
        terminalreporter.write_line(
            f'{len(_skipped_for_fixture)} tests need the real nuScenes fixture and were not '
            f'run ({real_fixture_problem()}): set {REAL_FIXTURE_ENV}=/path/to/nuscenes-real '
            f'(its README: ../shared/data/nuscenes-real/README.md) to run them', yellow=True)
