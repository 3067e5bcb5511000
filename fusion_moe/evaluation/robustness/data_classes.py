"""Data classes of the robustness benchmark's ``results.json``, with serialize / deserialize.

As the devkit's ``DetectionMetrics`` does, every class turns into plain JSON and back, so that a
results file can be re-scored, re-reported and re-plotted without the model. Layout
(``RESULTS_FORMAT`` marks the version; DESIGN.md "Results")::

    {"format": "fusion_moe.robustness/1",
     "model": {config, checkpoint, context_mode, context_mode_source, moe_layers, ...},
     "suite": {name, version, severities, corruptions: [...], notes},
     "seed": 0,
     "data": {data_root, version, eval_set, num_samples},
     "conditions": {"clean": {"devkit": <metrics_summary.json>, "routing": {...},
                              "kind", "corruption", "severity", "degradations",
                              "gt_class_counts", "present_classes", "subset", ...},
                    "fog_3": {...}, "real_night": {...}, ...},
     "scores": {"NDS": {"multicorrupt": {...}, "nuscenes_c": {...}, "robo3d": {...}},
                "mAP": {...}},
     "baseline": null | {path, model, metrics: {"NDS": {condition: value}, "mAP": {...}}},
     "timing": {total_s, setup_s}}
"""
import json
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional

RESULTS_FORMAT = 'fusion_moe.robustness/1'
CONDITION_KINDS = ('clean', 'corruption', 'subset')
#: Metric name -> key of the devkit's metrics_summary.json.
METRIC_KEYS = {'NDS': 'nd_score', 'mAP': 'mean_ap'}


@dataclass
class ModelInfo:
    """What was evaluated and how its router was told the context.

    Attributes:
        config: config file path. checkpoint: checkpoint path.
        context_mode: ``'off'``, ``'oracle'`` or ``'estimated'`` (what the model's context
            bias modules used); ``'off'`` for a model without a context bias.
        context_mode_source: ``'model'`` (as configured) or ``'--context-mode'`` (overridden).
        moe_layers: qualified names of the model's MoE layers (empty for a dense model).
        reliability_gates: qualified names of its modality reliability gates.
    """
    config: str
    checkpoint: str
    context_mode: str
    context_mode_source: str = 'model'
    moe_layers: List[str] = field(default_factory=list)
    reliability_gates: List[str] = field(default_factory=list)

    @property
    def is_moe(self) -> bool:
        return bool(self.moe_layers)

    def serialize(self) -> dict:
        return asdict(self)

    @classmethod
    def deserialize(cls, content: dict) -> 'ModelInfo':
        return cls(**content)


@dataclass
class ConditionResult:
    """One condition's devkit summary, ground-truth class counts and routing analysis.

    Attributes:
        name: ``clean``, ``<corruption>_<severity>`` or ``real_<subset>``.
        kind: one of ``CONDITION_KINDS``.
        devkit: the devkit's ``metrics_summary.json`` content, unchanged.
        gt_class_counts: ground-truth boxes per class the devkit evaluated.
        routing: see ``routing_analysis.condition_routing`` ({} for dense models).
        corruption, severity: the suite corruption and severity (None for clean / subsets).
        degradations: the transform configs the test pipeline applied.
        present_classes: for a split lacking classes, ``class_presence.present_class_metrics``
            (mAP and NDS over the classes present, the absent ones named); else None.
        subset: for real conditions, ``{factor, value, scenes, num_samples}``.
        num_samples: samples evaluated. wall_time_s: time of this condition (s).
    """
    name: str
    kind: str
    devkit: dict
    gt_class_counts: Dict[str, int]
    routing: dict = field(default_factory=dict)
    corruption: Optional[str] = None
    severity: Optional[int] = None
    degradations: List[dict] = field(default_factory=list)
    present_classes: Optional[dict] = None
    subset: Optional[dict] = None
    num_samples: int = 0
    wall_time_s: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in CONDITION_KINDS:
            raise ValueError(f'condition {self.name!r}: kind must be one of {CONDITION_KINDS}, '
                             f'got {self.kind!r}')

    def metric(self, name: str) -> float:
        """``'NDS'`` or ``'mAP'`` as the devkit reports it for the whole evaluated split."""
        return float(self.devkit[METRIC_KEYS[name]])

    def serialize(self) -> dict:
        return asdict(self)

    @classmethod
    def deserialize(cls, content: dict) -> 'ConditionResult':
        return cls(**content)


@dataclass
class RobustnessResults:
    """Everything ``results.json`` holds (see the module docstring for the layout)."""
    model: ModelInfo
    suite: dict
    seed: int
    data: dict
    conditions: Dict[str, ConditionResult]
    scores: dict = field(default_factory=dict)
    baseline: Optional[dict] = None
    timing: dict = field(default_factory=dict)

    def corruption_table(self, metric: str = 'NDS') -> Dict[str, Dict[int, float]]:
        """``{corruption: {severity: metric}}`` over the corruption conditions."""
        table: Dict[str, Dict[int, float]] = {}
        for cond in self.conditions.values():
            if cond.kind == 'corruption':
                table.setdefault(cond.corruption, {})[int(cond.severity)] = cond.metric(metric)
        return table

    def serialize(self) -> dict:
        return {'format': RESULTS_FORMAT, 'model': self.model.serialize(), 'suite': self.suite,
                'seed': self.seed, 'data': self.data,
                'conditions': {n: c.serialize() for n, c in self.conditions.items()},
                'scores': self.scores, 'baseline': self.baseline, 'timing': self.timing}

    @classmethod
    def deserialize(cls, content: dict, source: str = 'results') -> 'RobustnessResults':
        """Build from parsed JSON; a file of another format is a ValueError naming ``source``."""
        if not isinstance(content, dict) or content.get('format') != RESULTS_FORMAT:
            found = content.get('format') if isinstance(content, dict) else type(content)
            raise ValueError(f'{source}: not a robustness results file of format '
                             f'{RESULTS_FORMAT!r} (found {found!r})')
        missing = [k for k in ('model', 'suite', 'seed', 'data', 'conditions')
                   if k not in content]
        if missing:
            raise ValueError(f'{source}: results file lacks {missing}')
        return cls(model=ModelInfo.deserialize(content['model']), suite=content['suite'],
                   seed=content['seed'], data=content['data'],
                   conditions={n: ConditionResult.deserialize(c)
                               for n, c in content['conditions'].items()},
                   scores=content.get('scores') or {}, baseline=content.get('baseline'),
                   timing=content.get('timing') or {})


def load_results(path: str) -> RobustnessResults:
    """Read a ``results.json`` (a clear ValueError naming the file if it is not one)."""
    try:
        with open(path) as f:
            content = json.load(f)
    except json.JSONDecodeError as err:
        raise ValueError(f'{path}: not valid JSON ({err})') from None
    return RobustnessResults.deserialize(content, source=path)
