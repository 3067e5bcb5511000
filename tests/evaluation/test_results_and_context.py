"""results.json round trips through its data classes; the context mode is recorded, can be
overridden, and an oracle run says plainly that the router was told the injected condition."""
import json

import pytest
from devkit_summaries import devkit_summary
from torch import nn

from fusion_moe.evaluation.robustness import (ConditionResult, ModelInfo, RobustnessResults,
                                              load_results)
from fusion_moe.evaluation.robustness.context_mode import apply_context_mode
from fusion_moe.evaluation.robustness.report import render_report
from fusion_moe.models.moe import MoELayer


def _results(context_mode='off') -> RobustnessResults:
    return RobustnessResults(
        model=ModelInfo('configs/x.py', 'x.pth', context_mode, moe_layers=[]),
        suite={'name': 'default', 'version': 1, 'description': 'ours', 'corruptions': []},
        seed=3, data={'data_root': 'data/synth/', 'version': 'v1.0-mini',
                      'eval_set': 'mini_val', 'num_samples': 16},
        conditions={'clean': ConditionResult('clean', 'clean', devkit_summary(0.6), {}),
                    'fog_3': ConditionResult('fog_3', 'corruption', devkit_summary(0.45), {},
                                             corruption='fog', severity=3)})


def test_results_round_trip_through_json(tmp_path):
    results = _results()
    path = tmp_path / 'results.json'
    path.write_text(json.dumps(results.serialize()))
    again = load_results(str(path))
    assert json.dumps(again.serialize(), sort_keys=True) == \
        json.dumps(results.serialize(), sort_keys=True)
    assert again.corruption_table('NDS') == {'fog': {3: pytest.approx(0.45)}}
    assert render_report(again) == render_report(results)


def test_a_file_that_is_not_a_results_file_is_refused_by_name(tmp_path):
    bad = tmp_path / 'metrics_summary.json'
    bad.write_text(json.dumps(devkit_summary(0.5)))
    with pytest.raises(ValueError, match='metrics_summary.json: not a robustness results'):
        load_results(str(bad))
    broken = tmp_path / 'broken.json'
    broken.write_text('{"format": ')
    with pytest.raises(ValueError, match='broken.json: not valid JSON'):
        load_results(str(broken))


class _Routed(nn.Module):
    def __init__(self, context_bias):
        super().__init__()
        self.moe = MoELayer(8, 16, num_experts=4, context_bias=context_bias)


def test_the_context_mode_is_read_from_the_model_or_overridden():
    assert apply_context_mode(nn.Linear(2, 2), None) == ('off', 'model')  # dense: no bias
    with pytest.raises(ValueError, match='no context bias'):
        apply_context_mode(nn.Linear(2, 2), 'oracle')
    model = _Routed('estimated')
    assert apply_context_mode(model, None) == ('estimated', 'model')
    assert apply_context_mode(model, 'oracle') == ('oracle', '--context-mode')
    assert model.moe.context_bias.mode == 'oracle'
    with pytest.raises(ValueError, match='without a context estimator'):
        apply_context_mode(_Routed('oracle'), 'estimated')
    with pytest.raises(ValueError, match='must be one of'):
        apply_context_mode(model, 'psychic')


def test_an_oracle_report_says_the_router_was_told_the_injected_condition():
    report = render_report(_results('oracle'))
    assert 'context mode: **oracle**' in report
    assert 'Oracle context: the router was told the injected condition.' in report
    assert 'told the injected condition' not in render_report(_results('estimated'))


def test_side_by_side_table_has_one_column_per_model_and_their_ndss():
    from fusion_moe.evaluation.robustness.compare import side_by_side
    from fusion_moe.evaluation.robustness.scoring import score_results
    a, b = _results(), _results()
    b.conditions['fog_3'].devkit = devkit_summary(0.30)
    for r in (a, b):
        r.scores = score_results(r)
    lines = side_by_side({'A': a, 'B': b}).splitlines()
    assert lines[0].split() == ['model', 'A', 'B']
    fog3 = next(x for x in lines if x.startswith('fog_3 NDS'))
    assert fog3.split()[-2:] == ['0.4500', '0.3000']
    assert next(x for x in lines if x.startswith('mRA')).split()[-2:] == ['0.750', '0.500']
    assert lines[-1] == '(no MoE model: no routing summary)'
