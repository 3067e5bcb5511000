"""tools/robustness.py end to end on a tiny synthetic set with randomly initialised models:
a dense one through the command line, and one with an MoE layer and a reliability gate through
``RobustnessEval`` with the first as its baseline. Also ``tools/test.py --degradation``, which
must reproduce the tool's figure for the same condition (same seeds, same devkit numbers)."""
import json
import os.path as osp
import sys

import pytest
import torch
from mmengine.config import Config

sys.path.insert(0, osp.dirname(__file__))
import moe_fuser_for_tests  # noqa: E402,F401  (registers GatedMoEFuserForTests)
from tool_scripts import load_tool  # noqa: E402

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(REPO, 'configs', 'demo', 'detector_cpu.py')


def _config(root: str, out: str, fuser=None) -> str:
    """The demo detector on ``root``: 160 x 90 images, one LiDAR sweep, data made already."""
    fuser_line = f'model = dict(fuser={fuser!r})\n' if fuser else ''
    text = (f"_base_ = [{DEMO!r}]\n"
            "synthetic_data = None\n"
            "test_pipeline = [\n"
            "    dict(type='LoadLidarSweeps', sweeps_num=1),\n"
            "    dict(type='LoadCameraImages', downscale=2),\n"
            "    dict(type='LoadRadarSweeps', sweeps_num=2),\n"
            "    dict(type='PointsRangeFilter',\n"
            "         point_cloud_range=[-51.2, -51.2, -5.0, 51.2, 51.2, 3.0]),\n"
            "    dict(type='PackFusionInputs', keys=['points', 'img', 'radar_points'])]\n"
            f"test_dataloader = dict(dataset=dict(data_root={root + '/'!r}, "
            "pipeline=test_pipeline))\n"
            f"test_evaluator = dict(data_root={root + '/'!r}, "
            f"ann_file={root + '/nuscenes_infos_val.pkl'!r})\n" + fuser_line)
    path = osp.join(out, 'config.py')
    with open(path, 'w') as f:
        f.write(text)
    return path


def _random_checkpoint(config: str, out: str) -> str:
    from mmengine.registry import init_default_scope

    from fusion_moe.registry import MODELS
    init_default_scope('mmdet3d')
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(config).model)
    path = osp.join(out, 'random.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return path


@pytest.fixture(scope='module')
def tiny_synth(tmp_path_factory):
    """4 scenes x 2 samples (mini: 2 validation samples), 320 x 180 images."""
    from fusion_moe.data import create_nuscenes_infos
    from fusion_moe.data.synthetic import generate_dataset
    root = str(tmp_path_factory.mktemp('robustness_synth'))
    version = generate_dataset(root, num_scenes=4, samples_per_scene=2, seed=0,
                               image_size=(320, 180), lidar_sweeps=1)
    create_nuscenes_infos(root, version)
    return root


@pytest.fixture(scope='module')
def dense_run(tiny_synth, tmp_path_factory):
    out = str(tmp_path_factory.mktemp('dense'))
    config = _config(tiny_synth, out)
    checkpoint = _random_checkpoint(config, out)
    work_dir = osp.join(out, 'robustness')
    load_tool('robustness').main([config, checkpoint, '--work-dir', work_dir,
                                  '--corruptions', 'fog', 'lidar_dropout', '--severities', '5'])
    return config, checkpoint, work_dir


def _read(path):
    with open(path) as f:
        return f.read()


def test_results_hold_the_devkit_summary_of_every_condition(dense_run):
    config, checkpoint, work_dir = dense_run
    results = json.loads(_read(osp.join(work_dir, 'results.json')))
    assert results['model']['config'] == config
    assert results['model']['checkpoint'] == checkpoint
    assert results['model']['context_mode'] == 'off' and results['model']['moe_layers'] == []
    names = [n for n, c in results['conditions'].items() if c['kind'] != 'subset']
    assert names == ['clean', 'fog_5', 'lidar_dropout_5']
    for name in names:
        entry = results['conditions'][name]
        on_disk = _read(osp.join(work_dir, 'conditions', name, 'metrics_summary.json'))
        assert json.dumps(entry['devkit'], sort_keys=True) == \
            json.dumps(json.loads(on_disk), sort_keys=True)
        assert entry['routing'] == {}  # a dense model
        assert entry['num_samples'] == 2
    assert results['conditions']['fog_5']['degradations'] == [
        {'type': 'Fog', 'severity': 5, 'seed': 0, 'preset': 'default'}]
    assert results['data']['eval_set'] == 'mini_val'


def test_scores_follow_from_the_devkit_files(dense_run):
    _, _, work_dir = dense_run
    results = json.loads(_read(osp.join(work_dir, 'results.json')))
    nds = {n: json.loads(_read(osp.join(work_dir, 'conditions', n, 'metrics_summary.json')))
           ['nd_score'] for n in ('clean', 'fog_5', 'lidar_dropout_5')}
    scores = results['scores']['NDS']
    assert scores['multicorrupt']['RA']['fog']['5'] == pytest.approx(nds['fog_5'] / nds['clean'])
    assert scores['nuscenes_c']['RCE']['lidar_dropout']['5'] == pytest.approx(
        (nds['clean'] - nds['lidar_dropout_5']) / nds['clean'])
    assert scores['robo3d']['mRR'] == pytest.approx(
        (nds['fog_5'] + nds['lidar_dropout_5']) / (2 * nds['clean']))
    assert scores['multicorrupt']['RRA'] is None  # no baseline


def test_report_and_plots_are_written_and_remade_identically_from_the_json(dense_run, tmp_path):
    _, _, work_dir = dense_run
    report = _read(osp.join(work_dir, 'report.md'))
    assert '| fog_5 |' in report and 'context mode: **off**' in report
    assert osp.getsize(osp.join(work_dir, 'nds_vs_severity.png')) > 0
    assert not osp.exists(osp.join(work_dir, 'expert_utilisation.png'))  # dense
    load_tool('robustness').main(['--report', osp.join(work_dir, 'results.json'),
                                  '--work-dir', str(tmp_path)])
    assert _read(tmp_path / 'report.md') == report
    assert osp.getsize(tmp_path / 'nds_vs_severity.png') > 0


def test_tools_test_with_a_degradation_reproduces_the_tools_condition(dense_run, tmp_path):
    config, checkpoint, work_dir = dense_run
    load_tool('test').main([config, checkpoint, '--work-dir', str(tmp_path),
                            '--degradation', 'fog:5'])
    single = json.loads(_read(tmp_path / 'nuscenes_eval' / 'metrics_summary.json'))
    suite = json.loads(_read(osp.join(work_dir, 'conditions', 'fog_5', 'metrics_summary.json')))
    assert single['mean_ap'] == suite['mean_ap'] and single['nd_score'] == suite['nd_score']
    assert single['label_aps'] == suite['label_aps']


@pytest.fixture(scope='module')
def moe_run(tiny_synth, dense_run, tmp_path_factory):
    from fusion_moe.evaluation.robustness import get_suite
    from fusion_moe.evaluation.robustness.evaluate import RobustnessEval
    out = str(tmp_path_factory.mktemp('moe'))
    config = _config(tiny_synth, out, fuser=dict(type='GatedMoEFuserForTests', out_channels=32))
    checkpoint = _random_checkpoint(config, out)
    suite = get_suite('default')
    work_dir = osp.join(out, 'robustness')
    RobustnessEval(Config.fromfile(config), config, checkpoint, work_dir, suite,
                   suite.conditions(['lidar_dropout', 'camera_dropout'], [5]),
                   baseline=osp.join(dense_run[2], 'results.json'), real_subsets=()).run()
    return json.loads(_read(osp.join(work_dir, 'results.json'))), work_dir


def test_moe_model_gets_routing_analysis_per_condition(moe_run):
    results, _ = moe_run
    assert list(results['conditions']) == ['clean', 'lidar_dropout_5', 'camera_dropout_5']
    assert results['data']['real_subsets'] == {}  # real_subsets=(): none scored
    assert results['model']['moe_layers'] == ['fusion.fuser.moe']
    assert results['model']['reliability_gates'] == ['fusion.fuser.gate']
    clean = results['conditions']['clean']['routing']
    layer = clean['layers']['fusion.fuser.moe']
    assert sum(layer['expert_load']) == pytest.approx(1.0) and len(layer['expert_load']) == 4
    assert 0.0 <= layer['fallback_rate'] <= 1.0 and layer['routing_entropy'] > 0
    assert clean['overall']['top1_flip_rate'] is None  # the reference itself
    for name in ('lidar_dropout_5', 'camera_dropout_5'):
        flips = results['conditions'][name]['routing']['layers']['fusion.fuser.moe']['flips']
        assert flips['samples'] == 2 and flips['compared'] > 0
        assert 0.0 <= flips['rate'] <= 1.0
    # every camera lost: no sample had a camera to suppress; the LiDAR was there
    routing = results['conditions']['camera_dropout_5']['routing']
    suppression = routing['suppression']['fusion.fuser.gate']
    assert suppression['camera']['present'] == 0 and suppression['camera']['rate'] is None
    assert suppression['lidar']['present'] == 2


def test_scores_against_the_baseline_exist_only_where_the_baseline_ran(moe_run):
    results, _ = moe_run
    rra = results['scores']['NDS']['multicorrupt']['RRA']
    assert rra['lidar_dropout'] is not None and rra['camera_dropout'] is None
    assert results['baseline']['metrics']['NDS']['fog_5'] > 0


def test_moe_report_has_routing_and_its_plots(moe_run):
    _, work_dir = moe_run
    report = _read(osp.join(work_dir, 'report.md'))
    assert '## Routing' in report and '| camera_dropout_5 |' in report
    for plot in ('nds_vs_severity.png', 'expert_utilisation.png', 'fallback_vs_severity.png'):
        assert osp.getsize(osp.join(work_dir, plot)) > 0, plot
