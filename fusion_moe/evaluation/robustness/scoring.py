"""Step 5 of the benchmark: robustness scores of a results object (and of its baseline).

Separate from the orchestrator so that a ``results.json`` can be re-scored against another
baseline without the model (:func:`rescore_file`, ``tools/robustness.py --report R --baseline B``).
"""
import json
from typing import Dict, Optional

from .algo import robustness_scores
from .data_classes import METRIC_KEYS, RobustnessResults, load_results


def baseline_entry(baseline: RobustnessResults, path: str) -> dict:
    """What a results file keeps of its baseline: enough to re-plot and re-score it alone."""
    return {'path': path, 'model': baseline.model.serialize(),
            'suite': {'name': baseline.suite.get('name'),
                      'version': baseline.suite.get('version')},
            'metrics': {metric: {name: cond.metric(metric)
                                 for name, cond in baseline.conditions.items()}
                        for metric in METRIC_KEYS},
            'degradations': {name: cond.degradations
                             for name, cond in baseline.conditions.items()}}


def baseline_table(entry: dict, metric: str, results: RobustnessResults
                   ) -> Dict[str, Dict[int, float]]:
    """``{corruption: {severity: value}}`` of the baseline, for the results' corruption
    conditions that the baseline also ran: same condition name and the same degradation
    pipeline (``fog_3`` of two suites with different presets does not match)."""
    values = entry['metrics'][metric]
    pipelines = entry.get('degradations') or {}
    table: Dict[str, Dict[int, float]] = {}
    for name, cond in results.conditions.items():
        same = name in values and (name not in pipelines or pipelines[name] == cond.degradations)
        if cond.kind == 'corruption' and same:
            table.setdefault(cond.corruption, {})[int(cond.severity)] = float(values[name])
    return table


def score_results(results: RobustnessResults, baseline: Optional[dict] = None) -> dict:
    """``{metric: {suite: scores}}`` for NDS and mAP (see ``algo.robustness_scores``)."""
    if 'clean' not in results.conditions:
        raise KeyError('results have no clean condition: robustness scores are relative to it')
    scores = {}
    for metric in METRIC_KEYS:
        table = results.corruption_table(metric)
        base = baseline_table(baseline, metric, results) if baseline is not None else None
        scores[metric] = robustness_scores(table, results.conditions['clean'].metric(metric),
                                           base)
    return scores


def rescore_file(results_path: str, baseline_path: str) -> RobustnessResults:
    """Score ``results_path`` against another run's results.json and rewrite it (no model)."""
    results = load_results(results_path)
    results.baseline = baseline_entry(load_results(baseline_path), baseline_path)
    results.scores = score_results(results, results.baseline)
    with open(results_path, 'w') as f:
        json.dump(results.serialize(), f, indent=1)
    return results
