"""Robustness suites: every condition of a suite, with the pipeline that produces it.

``python -m fusion_moe.degradation.suites [SUITE ...]`` prints each suite as a Markdown table
(the README's tables are that output).

A suite is a list of corruptions, each at the suite's severities. ``'default'`` is ours;
``'multicorrupt'`` and ``'nuscenes_c'`` use the published suites' parameters (their presets in
:mod:`.severity_tables`, which cites the sources) and their own corruption names, so scores
can be set beside the published tables (MultiCorrupt's ``evaluation/*.csv`` columns are
``<corruption>_s<severity>``, as our condition names are).

Use (the robustness benchmark)::

    from fusion_moe.degradation import insert_degradations
    from fusion_moe.degradation.suites import suite_conditions

    for cond in suite_conditions('multicorrupt', seed=0):
        if cond.pipeline is None:          # cond.status == 'unsupported'; cond.note says why
            continue
        pipeline = insert_degradations(test_pipeline, cond.pipeline)
        ...                                 # evaluate; key results by cond.name, group the
                                            # scores by cond.corruption / cond.severity

``status`` says how faithful a condition is:

- ``'reproduced'``: the suite's parameters on the same corruption model;
- ``'approximate'``: the suite's parameters, but part of the model differs (``note`` says what);
- ``'unsupported'``: our injector cannot produce it; ``pipeline`` is None, never a stand-in.
"""
import sys
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple

from .severity_tables import NOT_REPRODUCED, PRESETS, SEVERITY_TABLES

#: Suite names; each suite uses the severity preset of the same name.
SUITES: Tuple[str, ...] = PRESETS
STATUSES: Tuple[str, ...] = ('reproduced', 'approximate', 'unsupported')

#: Where each suite's parameters come from (also written into results by the benchmark).
SUITE_SOURCES: Dict[str, str] = {
    'default': 'fusion_moe severity tables (fusion_moe/degradation/severity_tables.py)',
    'multicorrupt': ('MultiCorrupt, Beemelmanns et al., IEEE IV 2024 (arXiv:2402.11677); '
                     'github.com/ika-rwth-aachen/MultiCorrupt converter/ @ 6cd6225'),
    'nuscenes_c': ('nuScenes-C, Dong et al., CVPR 2023; github.com/thu-ml/3D_Corruptions_AD '
                   'LiDAR_corruptions.py fog_sim (LiDAR fog only)'),
}


class SuiteCondition(NamedTuple):
    """One condition of a suite.

    Attributes:
        name: ``'<corruption>_s<severity>'``, unique within the suite.
        corruption: the suite's own name for the corruption (e.g. ``'pointsreducing'``).
        severity: the suite's severity (1-3 for MultiCorrupt, 1-5 otherwise).
        pipeline: degradation transform configs to insert into a test pipeline
            (``insert_degradations``), or None when unsupported.
        status: one of ``STATUSES``.
        note: what differs from the suite, or why it is unsupported (for a reproduced one,
            any remark on how to use it; often '').
    """
    name: str
    corruption: str
    severity: int
    pipeline: Optional[List[Dict[str, Any]]]
    status: str
    note: str


class _Corruption(NamedTuple):
    corruption: str
    transform: Optional[str]            # registered type name, None when unsupported
    table: Optional[str]                # degradation short name of its severity table
    status: str
    note: str = ''
    options: Tuple[Tuple[str, Any], ...] = ()


_FOG_RANGE_NOISE = ('the reference model\'s fog-return range noise (uniform +-{} m) is drawn '
                    'conditioned on the return lying in front of its target, where the '
                    'reference can put it behind the target or through the sensor '
                    '(fusion_moe/degradation/fog_lidar.py)')

_SUITES: Dict[str, Sequence[_Corruption]] = {
    'default': (
        _Corruption('fog', 'Fog', 'fog', 'reproduced'),
        _Corruption('night', 'Night', 'night', 'reproduced'),
        _Corruption('camera_dropout', 'CameraDropout', 'camera_dropout', 'reproduced'),
        _Corruption('lidar_dropout', 'LidarDropout', 'lidar_dropout', 'reproduced'),
        _Corruption('radar_dropout', 'RadarDropout', 'radar_dropout', 'reproduced'),
        _Corruption('lidar_beams', 'LidarBeamReduction', 'lidar_beams', 'reproduced'),
        _Corruption('lidar_fov', 'LidarFovLoss', 'lidar_fov', 'reproduced'),
        _Corruption('spatial_misalignment', 'SpatialMisalignment', 'spatial_misalignment',
                    'reproduced'),
        _Corruption('temporal_misalignment', 'TemporalMisalignment', 'temporal_misalignment',
                    'reproduced', 'needs LiDAR and radar sweeps in the loading pipeline'),
    ),
    'multicorrupt': (
        _Corruption('beamsreducing', 'LidarBeamReduction', 'lidar_beams', 'reproduced'),
        _Corruption('brightness', 'ImageCorruption', 'brightness', 'reproduced',
                    options=(('corruption', 'brightness'),)),
        _Corruption('dark', None, None, 'unsupported', NOT_REPRODUCED[('multicorrupt', 'dark')]),
        _Corruption('fog', 'Fog', 'fog', 'approximate',
                    "LiDAR: MultiCorrupt's (alpha, beta); "
                    + _FOG_RANGE_NOISE.format(10)
                    + "; cameras: our Koschmieder fog at MOR = ln 20 / alpha instead of "
                    "MultiCorrupt's fractal haze; radar: our radar fog at that MOR "
                    "(MultiCorrupt has no radar)"),
        _Corruption('missingcamera', 'CameraDropout', 'camera_dropout', 'reproduced',
                    "black frames the model is not told about, as in MultiCorrupt's data "
                    "(view='black'); view='absent' would flag them as missing",
                    (('view', 'black'),)),
        _Corruption('motionblur', None, None, 'unsupported',
                    NOT_REPRODUCED[('multicorrupt', 'motionblur')]),
        _Corruption('pointsreducing', 'LidarPointsReduction', 'lidar_points', 'reproduced'),
        _Corruption('snow', None, None, 'unsupported', NOT_REPRODUCED[('multicorrupt', 'snow')]),
        _Corruption('spatialmisalignment', 'LidarMisalignment', 'lidar_misalignment',
                    'approximate',
                    "MultiCorrupt's rotation, 2 m shift and per-sweep draws, applied in the "
                    "keyframe LiDAR frame rather than in each sweep's own sensor frame "
                    '(older sweeps differ by the ego motion since: ~0.24 m at 3 deg and 4.5 m)'),
        _Corruption('temporalmisalignment', None, None, 'unsupported',
                    NOT_REPRODUCED[('multicorrupt', 'temporalmisalignment')]),
    ),
    'nuscenes_c': (
        _Corruption('fog', 'LidarFog', 'lidar_fog', 'approximate',
                    "nuScenes-C's alpha and (fixed) beta; " + _FOG_RANGE_NOISE.format(1)),
    ),
}


def suite_corruptions(suite: str) -> Tuple[str, ...]:
    """The corruption names of a suite, in its order."""
    return tuple(c.corruption for c in _suite(suite))


def suite_conditions(suite: str, seed: int = 0, include_unsupported: bool = True
                     ) -> List[SuiteCondition]:
    """Every (corruption, severity) condition of ``suite``, corruption-major.

    Args:
        suite: one of ``SUITES``.
        seed: base seed written into every transform config.
        include_unsupported: also list the conditions we cannot produce (pipeline None).

    Returns:
        ``SuiteCondition`` tuples; e.g. ``suite_conditions('multicorrupt')`` has 10 x 3.
    """
    conditions = []
    for entry in _suite(suite):
        if entry.transform is None:
            severities = _UNSUPPORTED_SEVERITIES[suite]
        else:
            severities = sorted(SEVERITY_TABLES[suite][entry.table])
        for severity in severities:
            pipeline = None
            if entry.transform is not None:
                pipeline = [dict(type=entry.transform, severity=severity, seed=seed,
                                 preset=suite, **dict(entry.options))]
            elif not include_unsupported:
                continue
            conditions.append(SuiteCondition(f'{entry.corruption}_s{severity}',
                                             entry.corruption, severity, pipeline,
                                             entry.status, entry.note))
    return conditions


#: Severities listed for an unsupported corruption (it has no table of ours).
_UNSUPPORTED_SEVERITIES: Dict[str, Tuple[int, ...]] = {
    'default': (1, 2, 3, 4, 5), 'multicorrupt': (1, 2, 3), 'nuscenes_c': (1, 2, 3, 4, 5)}


def _suite(suite: str) -> Sequence[_Corruption]:
    if suite not in _SUITES:
        raise ValueError(f'unknown suite {suite!r}; known suites: {SUITES}')
    return _SUITES[suite]


def _format_params(params: Dict[str, Any]) -> str:
    return ', '.join(f'{k} {v:.3g}' if isinstance(v, float) else f'{k} {v}'
                     for k, v in params.items())


def suite_table(suite: str) -> str:
    """A Markdown table of ``suite``: corruption, our transform, parameters per severity,
    status; then the notes."""
    conditions = suite_conditions(suite)
    severities = sorted({c.severity for c in conditions})
    lines = ['| corruption | transform | ' + ' | '.join(f'severity {s}' for s in severities)
             + ' | status |', '|' + '---|' * (len(severities) + 3)]
    notes = []
    for entry in _suite(suite):
        if entry.transform is None:
            cells = ['-'] * len(severities)
            transform = '-'
        else:
            table = SEVERITY_TABLES[suite][entry.table]
            cells = [_format_params(table[s]) if s in table else '-' for s in severities]
            options = ''.join(f', {k}={v!r}' for k, v in entry.options)
            transform = f'`{entry.transform}`{options}'
        lines.append(f'| {entry.corruption} | {transform} | ' + ' | '.join(cells)
                     + f' | {entry.status} |')
        if entry.note:
            notes.append(f'- {entry.corruption}: {entry.note}')
    return '\n'.join(lines + ([''] + notes if notes else []))


if __name__ == '__main__':
    for name in sys.argv[1:] or SUITES:
        print(f'`{name}` ({SUITE_SOURCES[name]}):\n\n{suite_table(name)}\n')
