"""The runner end to end on a tiny synthetic set: a grid of a cell that trains (one iteration)
and a cell whose training crashes. Each cell runs the project's tools in subprocesses; the
table gets the devkit's numbers of the good cell and the error of the bad one, the rest goes
on; running again skips what is finished, retries what failed and resumes an interrupted
training from its checkpoint."""
import json
import os
import os.path as osp

import pytest

from fusion_moe.ablation import load_grid, read_rows, run_grid
from fusion_moe.ablation.cell_runner import CellRunner

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(REPO, 'configs', 'demo', 'detector_cpu.py')
GOOD, BAD = 'kind-good', 'kind-bad'


@pytest.fixture(scope='module')
def tiny_grid(tmp_path_factory):
    """4 scenes x 2 samples (2 validation samples), 320 x 180 images; a grid of two cells."""
    from fusion_moe.data import create_nuscenes_infos
    from fusion_moe.data.synthetic import generate_dataset
    root = str(tmp_path_factory.mktemp('ablation_synth'))
    version = generate_dataset(root, num_scenes=4, samples_per_scene=2, seed=0,
                               image_size=(320, 180), lidar_sweeps=1)
    create_nuscenes_infos(root, version)
    out = tmp_path_factory.mktemp('ablation_grid')
    (out / 'model_good.py').write_text(f'_base_ = [{DEMO!r}]\nsynthetic_data = None\n')
    (out / 'model_bad.py').write_text("_base_ = ['model_good.py']\n"
                                      "model = dict(fuser=dict(type='NoSuchFuserForTests'))\n")
    (out / 'grid.py').write_text(
        "model_config = 'model_{kind}.py'\n"
        "axes = dict(kind=['good', 'bad'])\n"
        "fixed = dict(placement='mid', moe='dense')\n"
        "cfg_options = {'train_dataloader.dataset.pipeline.1.downscale': 2,\n"
        "               'test_dataloader.dataset.pipeline.1.downscale': 2}\n"
        "conditions = dict(suite='default', corruptions=['fog'], severities=[5])\n"
        f"data_root = {root!r}\n")
    return load_grid(str(out / 'grid.py')), str(out / 'work')


@pytest.fixture(scope='module')
def first_run(tiny_grid):
    grid, work = tiny_grid
    lines = []
    summary = run_grid(grid, work, max_iters=1, echo=lines.append)
    return grid, work, summary, lines


def _cell_rows(work, cell):
    return [r for r in read_rows(osp.join(work, 'results.csv')) if r['cell'] == cell]


def test_the_good_cell_gets_the_devkit_numbers_of_every_condition(first_run):
    grid, work, summary, _ = first_run
    assert summary['ran'] == 2 and summary['failed'] == 1
    rows = _cell_rows(work, GOOD)
    assert [r['condition'] for r in rows] == ['clean', 'fog_5']
    with open(osp.join(work, 'cells', GOOD, 'robustness', 'results.json')) as f:
        results = json.load(f)
    for row in rows:
        devkit = results['conditions'][row['condition']]['devkit']
        assert float(row['NDS']) == pytest.approx(devkit['nd_score'])
        assert float(row['mAP']) == pytest.approx(devkit['mean_ap'])
        assert row['status'] == 'ok' and row['error'] == ''
        assert (row['placement'], row['moe'], row['seed']) == ('mid', 'dense', '')
        assert float(row['train_s']) > 0 and float(row['eval_s']) > 0
        assert float(row['wall_s']) == pytest.approx(float(row['train_s']) +
                                                     float(row['eval_s']), abs=0.2)
    assert osp.isfile(osp.join(work, rows[0]['checkpoint']))
    assert rows[0]['checkpoint'].endswith('iter_1.pth')


def test_active_flops_are_left_empty_with_a_note_until_model_info_exists(first_run):
    _, work, _, _ = first_run
    row = _cell_rows(work, GOOD)[0]
    if osp.isfile(osp.join(REPO, 'tools', 'model_info.py')):
        assert float(row['active_flops']) > 0
    else:
        assert row['active_flops'] == ''
        assert 'tools/model_info.py does not exist' in row['notes']


def test_a_failing_cell_is_recorded_with_its_error_and_the_others_go_on(first_run):
    _, work, _, lines = first_run
    rows = _cell_rows(work, BAD)
    assert [r['condition'] for r in rows] == ['clean', 'fog_5']
    for row in rows:
        assert row['status'] == 'failed' and row['NDS'] == '' and row['mAP'] == ''
        assert row['error'].startswith('train: exit code')
        assert 'NoSuchFuserForTests' in row['error']
    assert any('2/2 cells done' in line and '1 failed' in line for line in lines)
    summary = open(osp.join(work, 'summary.md')).read()
    assert '## Failed cells' in summary and BAD in summary


def test_each_invocation_is_logged_with_its_data_commit_and_wall_time(first_run):
    grid, work, summary, _ = first_run
    with open(osp.join(work, 'runs.json')) as f:
        (run,) = json.load(f)['runs']
    assert run['grid'] == grid.path and run['max_iters'] == 1 and run['cells_to_run'] == 2
    assert run['data'] == {'data_root': grid.data_root}
    assert run['wall_s'] == pytest.approx(summary['wall_s'], abs=0.2) and run['failed'] == 1
    text = open(osp.join(work, 'summary.md')).read()
    assert '## Runs' in text and f'- data: `{grid.data_root}`' in text


def test_running_again_skips_the_finished_cell_and_retries_the_failed_one(first_run):
    grid, work, _, _ = first_run
    good_log = osp.join(work, 'cells', GOOD, 'train.log')
    bad_log = osp.join(work, 'cells', BAD, 'train.log')
    sizes = osp.getsize(good_log), osp.getsize(bad_log)
    lines = []
    summary = run_grid(grid, work, max_iters=1, echo=lines.append)
    assert summary['skipped'] == 1 and summary['ran'] == 1
    assert osp.getsize(good_log) == sizes[0]  # not trained again
    assert osp.getsize(bad_log) > sizes[1]  # tried again
    assert '1/2 cells done (1 skipped as finished, 0 failed), 1 left' in lines[1]
    assert len(read_rows(osp.join(work, 'results.csv'))) == 4  # rows replaced, not doubled
    with open(osp.join(work, 'runs.json')) as f:
        assert [r['cells_to_run'] for r in json.load(f)['runs']] == [2, 1]


def test_an_interrupted_cell_resumes_its_training_from_the_last_checkpoint(first_run):
    grid, work, _, _ = first_run
    cell = next(c for c in grid.cells if c.cell_id == GOOD)
    cell_dir = osp.join(work, 'cells', GOOD)
    # as if killed after the checkpoint was written but before the cell was recorded
    os.remove(osp.join(cell_dir, 'train', 'finished.json'))
    before = open(osp.join(cell_dir, 'train.log')).read()
    result = CellRunner(grid, work, max_iters=1).run(cell)
    assert result.status == 'ok'
    log = open(osp.join(cell_dir, 'train.log')).read()[len(before):]
    assert '--resume' in log and 'resumed epoch: 0, iter: 1' in log
    assert 'Epoch(train)' not in log and 'Iter(train)' not in log  # nothing trained again
