"""The corruption suites of the robustness benchmark, versioned like the devkit's eval configs.

A :class:`Suite` lists its corruptions and severities; a :class:`Corruption` turns a suite
severity into the pipeline configs of our degradation injector (``fusion_moe.degradation``),
applied on the fly in the test pipeline. Condition names are ``<corruption>_<severity>``
(``fog_3``, ``missing_camera_1``), plus ``clean``.

- ``default``: our own degradations at severities 1-5 (tables in
  ``fusion_moe/degradation/severity_tables.py``).
- ``multicorrupt``: MultiCorrupt's ten corruptions at its three severities (Beemelmanns et al.,
  IV 2024, github.com/ika-rwth-aachen/MultiCorrupt), as close as our injector comes; every
  corruption states where it differs (``Corruption.differences``), and the report lists them.

Any other degradation short name (``fusion_moe.degradation.DEGRADATIONS``) can be asked for
with ``--corruptions`` and runs at our severities 1-5 (:func:`adhoc_corruption`).
"""
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from fusion_moe.degradation import DEGRADATIONS, degradation_config

SUITE_FORMAT_VERSION = 1


@dataclass(frozen=True)
class ConditionSpec:
    """One evaluated condition: ``clean`` or a corruption at one severity.

    Attributes:
        name: ``'clean'`` or ``'<corruption>_<severity>'``.
        corruption: suite corruption name (None for clean).
        severity: suite severity (None for clean).
        degradations: transform configs inserted into the test pipeline, in order.
    """
    name: str
    corruption: Optional[str] = None
    severity: Optional[int] = None
    degradations: Tuple[dict, ...] = ()

    @property
    def is_clean(self) -> bool:
        return self.corruption is None


CLEAN = ConditionSpec('clean')


@dataclass(frozen=True)
class Corruption:
    """A suite corruption: which of our degradations it applies, at which of our severities.

    Attributes:
        name: name in the suite (condition names are ``<name>_<severity>``).
        degradations: ``(short name, options)`` pairs applied in order.
        severity_map: suite severity -> our severity (1-5); identity if None.
        description: one line for the report.
        differences: where it departs from the suite's reference definition (multicorrupt).
    """
    name: str
    degradations: Tuple[Tuple[str, Mapping], ...]
    severity_map: Optional[Mapping[int, int]] = None
    description: str = ''
    differences: str = ''

    def __post_init__(self) -> None:
        for short, _ in self.degradations:
            if short not in DEGRADATIONS:
                raise KeyError(f'corruption {self.name!r} uses unknown degradation {short!r}; '
                               f'known: {DEGRADATIONS}')

    def our_severity(self, severity: int) -> int:
        if self.severity_map is None:
            return severity
        if severity not in self.severity_map:
            raise KeyError(f'corruption {self.name!r} has no severity {severity}; it has '
                           f'{sorted(self.severity_map)}')
        return int(self.severity_map[severity])

    def condition(self, severity: int, seed: int) -> ConditionSpec:
        ours = self.our_severity(severity)
        configs = tuple(degradation_config(short, ours, seed, **dict(options))
                        for short, options in self.degradations)
        return ConditionSpec(f'{self.name}_{severity}', self.name, severity, configs)

    def serialize(self) -> dict:
        return {'name': self.name,
                'degradations': [[short, dict(options)] for short, options in self.degradations],
                'severity_map': ({str(k): v for k, v in self.severity_map.items()}
                                 if self.severity_map is not None else None),
                'description': self.description, 'differences': self.differences}


@dataclass(frozen=True)
class Suite:
    """A named, versioned set of corruptions and severities."""
    name: str
    version: int
    severities: Tuple[int, ...]
    corruptions: Tuple[Corruption, ...]
    description: str
    notes: Tuple[str, ...] = field(default=())

    def corruption(self, name: str) -> Corruption:
        for corruption in self.corruptions:
            if corruption.name == name:
                return corruption
        return adhoc_corruption(name, self)

    def conditions(self, corruptions: Optional[Sequence[str]] = None,
                   severities: Optional[Sequence[int]] = None, seed: int = 0
                   ) -> List[ConditionSpec]:
        """``clean`` followed by every (corruption, severity) asked for, in suite order."""
        chosen = ([c.name for c in self.corruptions] if corruptions is None
                  else list(dict.fromkeys(corruptions)))
        levels = self.severities if severities is None else tuple(dict.fromkeys(severities))
        bad = [s for s in levels if s not in self.severities]
        if bad:
            raise ValueError(f'suite {self.name!r} has severities {self.severities}; '
                             f'{bad} is not one of them')
        return [CLEAN] + [self.corruption(name).condition(s, seed)
                          for name in chosen for s in levels]

    def serialize(self, corruptions: Optional[Sequence[str]] = None) -> dict:
        names = [c.name for c in self.corruptions] if corruptions is None else list(corruptions)
        return {'name': self.name, 'version': self.version,
                'severities': list(self.severities), 'description': self.description,
                'corruptions': [self.corruption(n).serialize() for n in names],
                'notes': list(self.notes)}


def adhoc_corruption(name: str, suite: Suite) -> Corruption:
    """A degradation outside the suite, by its short name, at our severities (1-5)."""
    if name not in DEGRADATIONS:
        raise KeyError(f'{name!r} is neither a corruption of suite {suite.name!r} '
                       f'({[c.name for c in suite.corruptions]}) nor a degradation '
                       f'({DEGRADATIONS})')
    if suite.severities != (1, 2, 3, 4, 5):
        raise KeyError(f'{name!r} is not a corruption of suite {suite.name!r} '
                       f'({[c.name for c in suite.corruptions]}); degradations outside it run '
                       'at severities 1-5, i.e. in the default suite')
    return Corruption(name, ((name, {}),), description=f'degradation {name!r} (not in the suite)')


def _ours(name: str, description: str) -> Corruption:
    return Corruption(name, ((name, {}),), description=description)


DEFAULT_SUITE = Suite(
    name='default', version=SUITE_FORMAT_VERSION, severities=(1, 2, 3, 4, 5),
    description='fusion_moe degradations (camera, LiDAR and radar physically consistent), '
                'severities 1-5',
    corruptions=(
        _ours('fog', 'fog on camera, LiDAR and radar, visibility 600/300/150/100/50 m'),
        _ours('night', 'night: light level 0.30 ... 0.02 of daylight, sensor noise, lamps'),
        _ours('camera_dropout', 'camera failure: 1/2/3/4/6 of the 6 cameras blank'),
        _ours('lidar_dropout', 'LiDAR failure: sensor dead with probability 0.2 ... 1.0'),
        _ours('radar_dropout', 'radar failure: all radars dead with probability 0.2 ... 1.0'),
        _ours('lidar_beams', 'LiDAR beam reduction 32 -> 24/16/12/8/4'),
        _ours('lidar_fov', 'LiDAR field-of-view loss: 60 ... 300 deg of azimuth'),
        _ours('spatial_misalignment', 'camera/radar extrinsics off by 0.5-5 deg, 0.02-0.2 m'),
        _ours('temporal_misalignment', 'LiDAR and radar 0.05 ... 0.3 s behind the cameras'),
    ))

# MultiCorrupt's parameters (converter/img.py, converter/lidar.py of its repository) next to
# ours; no MultiCorrupt code is used, only its published severity parameters for the mapping.
_MC = {1: 1, 2: 3, 3: 5}  # for the imagecorruptions ones: the package's 1/3/5
MULTICORRUPT_SUITE = Suite(
    name='multicorrupt', version=SUITE_FORMAT_VERSION, severities=(1, 2, 3),
    description="MultiCorrupt's corruptions and 3 severities, as close as our injector "
                'allows (on the fly; MultiCorrupt writes corrupted copies of nuScenes)',
    corruptions=(
        Corruption('beams_reducing', (('lidar_beams', {}),), {1: 2, 2: 4, 3: 5},
                   'LiDAR beams 32 -> 16/8/4',
                   'same beam counts; we keep rings 0,2,4.. (MultiCorrupt 1,3,5..)'),
        Corruption('brightness', (('brightness', {}),), _MC,
                   'brighter images (HSV value + 0.1/0.3/0.5)',
                   "none in the formula (imagecorruptions' brightness at c = 0.1/0.3/0.5)"),
        Corruption('dark', (('night', {}),), {1: 1, 2: 2, 3: 3},
                   'low light on the cameras',
                   'our night model (light level 0.30/0.15/0.08, noise, lamps) instead of '
                   "MultiCorrupt's gamma-2 tone curve to 0.6/0.4/0.3 with Poisson-Gauss noise"),
        Corruption('fog', (('fog', {}),), {1: 3, 2: 4, 3: 5},
                   'fog, visibility 150/100/50 m',
                   'LiDAR: same Hahner et al. model and visibility (alpha 0.02/0.03/0.06), '
                   'our backscatter 0.046/MOR (MultiCorrupt 0.008/0.008/0.05); cameras: '
                   'depth-based haze instead of its plasma-fractal fog; radar attenuated too '
                   '(MultiCorrupt has no radar)'),
        Corruption('missing_camera', (('camera_dropout', {}),), {1: 1, 2: 2, 3: 4},
                   'cameras blank: 1/2/4 of 6',
                   'a fixed count per sample instead of each camera lost with probability '
                   '0.2/0.4/0.6 (mean 1.2/2.4/3.6 cameras)'),
        Corruption('motion_blur', (('motion_blur', {}),), _MC,
                   'camera motion blur (imagecorruptions severities 1/3/5)',
                   "imagecorruptions' kernel, not MultiCorrupt's; no LiDAR jitter "
                   '(MultiCorrupt: 0.06/0.1/0.13 m)'),
        Corruption('snow', (('snow', {}),), _MC,
                   'snow on the cameras (imagecorruptions severities 1/3/5)',
                   'camera only: no LiDAR snow simulation (MultiCorrupt uses LiDAR_snow_sim '
                   'with lidarseg labels)'),
        Corruption('spatial_misalignment', (('spatial_misalignment', {}),),
                   {1: 2, 2: 3, 3: 4},
                   'extrinsics off by 1/2/3 deg and 0.05/0.1/0.15 m',
                   'cameras and radar moved on every sample, instead of the LiDAR rotated by '
                   '1/2/3 deg and shifted 2 m for 20/40/60 % of samples'),
        Corruption('temporal_misalignment', (('temporal_misalignment', {}),),
                   {1: 2, 2: 4, 3: 5},
                   'LiDAR and radar 0.1/0.2/0.3 s stale',
                   'a fixed delay on every sample instead of the previous keyframe (0.5 s) '
                   'for 20/40/60 % of samples and cameras (the same mean delay)'),
    ),
    notes=("points_reducing (20/40/60 % of LiDAR points dropped at random) is not run: the "
           'injector has no random point dropping',))

SUITES: Dict[str, Suite] = {s.name: s for s in (DEFAULT_SUITE, MULTICORRUPT_SUITE)}


def get_suite(name: str) -> Suite:
    if name not in SUITES:
        raise KeyError(f'unknown suite {name!r}; known: {sorted(SUITES)}')
    return SUITES[name]
