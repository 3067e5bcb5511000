"""The suites' robustness scores, computed here by hand from devkit summaries, match the tool.

Model NDS: clean 0.60; fog 0.54 (s1), 0.45 (s3); night 0.57 (s1), 0.30 (s3).
Baseline NDS: clean 0.50; fog 0.48, 0.40; night 0.45, 0.25.
"""
import pytest
from devkit_summaries import devkit_summary

from fusion_moe.evaluation.robustness import (ConditionResult, ModelInfo, RobustnessResults,
                                              robustness_scores)
from fusion_moe.evaluation.robustness.scoring import baseline_entry, score_results

MODEL = {'clean': 0.60, 'fog_1': 0.54, 'fog_3': 0.45, 'night_1': 0.57, 'night_3': 0.30}
BASE = {'clean': 0.50, 'fog_1': 0.48, 'fog_3': 0.40, 'night_1': 0.45, 'night_3': 0.25}


def _results(nds_by_condition) -> RobustnessResults:
    conditions = {}
    for name, nds in nds_by_condition.items():
        corruption, severity = (None, None) if name == 'clean' else name.rsplit('_', 1)
        conditions[name] = ConditionResult(
            name=name, kind='clean' if name == 'clean' else 'corruption',
            devkit=devkit_summary(nds), gt_class_counts={},
            corruption=corruption, severity=None if severity is None else int(severity))
    return RobustnessResults(model=ModelInfo('cfg.py', 'ckpt.pth', 'off'), suite={}, seed=0,
                             data={}, conditions=conditions)


@pytest.fixture(scope='module')
def scores():
    model, base = _results(MODEL), _results(BASE)
    return score_results(model, baseline_entry(base, 'base/results.json'))['NDS']


def test_devkit_summaries_have_the_chosen_nds():
    assert devkit_summary(0.45)['nd_score'] == pytest.approx(0.45)
    assert devkit_summary(0.45)['mean_ap'] == pytest.approx(0.40)


def test_multicorrupt_resistance_ability_and_relative_resistance_ability(scores):
    mc = scores['multicorrupt']
    # RA = NDS_c,s / NDS_clean
    assert mc['RA']['fog'] == {'1': pytest.approx(0.54 / 0.60), '3': pytest.approx(0.75)}
    assert mc['RA']['night'] == {'1': pytest.approx(0.95), '3': pytest.approx(0.50)}
    # mRA = mean over corruptions of the mean over severities = (0.825 + 0.725) / 2
    assert mc['mRA'] == pytest.approx(0.775)
    # RRA = sum_s NDS / sum_s NDS_base - 1: fog 0.99 / 0.88 - 1, night 0.87 / 0.70 - 1
    assert mc['RRA']['fog'] == pytest.approx(0.125)
    assert mc['RRA']['night'] == pytest.approx(0.87 / 0.70 - 1.0)
    assert mc['mRRA'] == pytest.approx((0.125 + 0.87 / 0.70 - 1.0) / 2)


def test_nuscenes_c_relative_corruption_error(scores):
    nc = scores['nuscenes_c']
    # RCE = (NDS_clean - NDS_c,s) / NDS_clean
    assert nc['RCE']['fog'] == {'1': pytest.approx(0.10), '3': pytest.approx(0.25)}
    assert nc['RCE']['night'] == {'1': pytest.approx(0.05), '3': pytest.approx(0.50)}
    assert nc['mRCE'] == pytest.approx((0.175 + 0.275) / 2)


def test_robo3d_corruption_error_and_resilience_rate(scores):
    r3 = scores['robo3d']
    # CE = sum_s (1 - NDS) / sum_s (1 - NDS_base): fog 1.01 / 1.12, night 1.13 / 1.30
    assert r3['CE']['fog'] == pytest.approx(1.01 / 1.12)
    assert r3['CE']['night'] == pytest.approx(1.13 / 1.30)
    assert r3['mCE'] == pytest.approx((1.01 / 1.12 + 1.13 / 1.30) / 2)
    # RR = sum_s NDS / (S * NDS_clean): fog 0.99 / 1.2, night 0.87 / 1.2
    assert r3['RR'] == {'fog': pytest.approx(0.825), 'night': pytest.approx(0.725)}
    assert r3['mRR'] == pytest.approx(0.775)


def test_scores_of_the_map_metric_use_the_devkit_mean_ap():
    model = _results(MODEL)
    mc = score_results(model)['mAP']['multicorrupt']
    # mAP = 2 NDS - 0.5 here: clean 0.70, fog_3 0.40
    assert mc['RA']['fog']['3'] == pytest.approx(0.40 / 0.70)


def test_without_a_baseline_the_relative_scores_are_none_not_zero():
    scores = score_results(_results(MODEL))['NDS']
    assert scores['multicorrupt']['RRA'] is None and scores['multicorrupt']['mRRA'] is None
    assert scores['robo3d']['CE'] is None and scores['robo3d']['mCE'] is None


def test_a_corruption_the_baseline_lacks_gets_none_and_is_left_out_of_the_mean():
    scores = robustness_scores({'fog': {1: 0.54}, 'snow': {1: 0.5}}, 0.6,
                               baseline={'fog': {1: 0.48, 3: 0.40}})
    assert scores['multicorrupt']['RRA']['snow'] is None
    # only severity 1 is common: 0.54 / 0.48 - 1
    assert scores['multicorrupt']['RRA']['fog'] == pytest.approx(0.125)
    assert scores['multicorrupt']['mRRA'] == pytest.approx(0.125)
    assert scores['robo3d']['CE']['fog'] == pytest.approx(0.46 / 0.52)


def test_a_zero_clean_score_gives_undefined_ratios():
    scores = robustness_scores({'fog': {1: 0.0}}, 0.0)
    assert scores['multicorrupt']['RA']['fog']['1'] is None
    assert scores['multicorrupt']['mRA'] is None
    assert scores['robo3d']['RR']['fog'] is None


def test_a_baseline_condition_of_the_same_name_but_another_pipeline_does_not_count():
    model, base = _results(MODEL), _results(BASE)
    base.conditions['fog_3'].degradations = [dict(type='LidarFog', severity=3,
                                                  preset='nuscenes_c')]
    rra = score_results(model, baseline_entry(base, 'b.json'))['NDS']['multicorrupt']['RRA']
    assert rra['fog'] == pytest.approx(0.54 / 0.48 - 1.0)  # severity 1 only
