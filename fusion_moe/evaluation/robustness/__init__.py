"""The robustness benchmark, organised like the nuScenes devkit's detection evaluation.

- ``algo.py``: the suites' robustness scores (pure functions of devkit metrics);
- ``class_presence.py``: mAP / NDS over the classes a split contains (devkit formulas);
- ``routing_analysis.py``: one condition's routing entry from the hooks' outputs;
- ``data_classes.py``: ``results.json`` as data classes with serialize / deserialize;
- ``suites.py``: the injector's suites (``default``, ``multicorrupt``, ``nuscenes_c``) as
  conditions to evaluate;
- ``conditions.py``: ``fog:3`` specs, degraded test pipelines, real-condition subsets;
- ``devkit_scoring.py``: the devkit's ``DetectionEval`` with its tables loaded once;
- ``scoring.py``: scores of a results object (re-scoring without the model);
- ``evaluate.py``: the orchestrator, in numbered steps; ``report.py``: report.md and plots.
"""
from .algo import (corruption_error, mean_relative_corruption_error, mean_resistance_ability,
                   relative_corruption_error, relative_resistance_ability, resilience_rate,
                   resistance_ability, robustness_scores)
from .class_presence import absent_classes, present_class_metrics
from .conditions import (REAL_SUBSETS, condition_name, degrade_test_pipeline,
                         parse_degradation_spec, real_condition_subsets)
from .data_classes import ConditionResult, ModelInfo, RobustnessResults, load_results
from .suites import SUITES, ConditionSpec, Suite, get_suite

__all__ = ['REAL_SUBSETS', 'SUITES', 'ConditionResult', 'ConditionSpec',
           'ModelInfo', 'RobustnessResults', 'Suite', 'absent_classes', 'condition_name',
           'corruption_error', 'degrade_test_pipeline', 'get_suite', 'load_results',
           'mean_relative_corruption_error', 'mean_resistance_ability',
           'parse_degradation_spec', 'present_class_metrics', 'real_condition_subsets',
           'relative_corruption_error', 'relative_resistance_ability', 'resilience_rate',
           'resistance_ability', 'robustness_scores']
