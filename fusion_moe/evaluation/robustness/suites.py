"""The corruption suites of the benchmark: the injector's suites, as conditions to evaluate.

The suites and their parameters are the degradation package's
(:mod:`fusion_moe.degradation.suites`, presets in ``severity_tables.py``): ``default`` (ours,
severities 1-5), ``multicorrupt`` (MultiCorrupt's corruptions and 3 severities) and
``nuscenes_c`` (nuScenes-C's LiDAR fog). Every suite condition is ``reproduced``,
``approximate`` (its ``note`` says what differs) or ``unsupported`` (no stand-in: it is not
run, and the report lists it with the reason).

Condition names in ``results.json`` are ``<corruption>_<severity>`` (``fog_3``,
``beamsreducing_1``) plus ``clean``. Any degradation short name outside a suite
(``fusion_moe.degradation.DEGRADATIONS``) can be asked for with ``--corruptions`` in a suite
with severities 1-5 and runs with our default tables (:func:`adhoc_conditions`).
"""
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from fusion_moe.degradation import DEGRADATIONS, degradation_config
from fusion_moe.degradation.suites import SUITE_SOURCES, SuiteCondition, suite_conditions
from fusion_moe.degradation.suites import SUITES as SUITE_NAMES

SUITE_FORMAT_VERSION = 2
_OUR_SEVERITIES = (1, 2, 3, 4, 5)


@dataclass(frozen=True)
class ConditionSpec:
    """One evaluated condition: ``clean`` or a corruption at one severity.

    Attributes:
        name: ``'clean'`` or ``'<corruption>_<severity>'``.
        corruption: the suite's corruption name (None for clean).
        severity: the suite's severity (None for clean).
        degradations: transform configs inserted into the test pipeline, in order.
        status: ``'reproduced'`` or ``'approximate'`` (unsupported ones are never run).
        note: what differs from the suite's reference, if anything.
    """
    name: str
    corruption: Optional[str] = None
    severity: Optional[int] = None
    degradations: Tuple[dict, ...] = ()
    status: str = 'reproduced'
    note: str = ''

    @property
    def is_clean(self) -> bool:
        return self.corruption is None


CLEAN = ConditionSpec('clean')


def _spec(cond: SuiteCondition) -> ConditionSpec:
    return ConditionSpec(f'{cond.corruption}_{cond.severity}', cond.corruption, cond.severity,
                         tuple(dict(d) for d in cond.pipeline), cond.status, cond.note)


def adhoc_conditions(name: str, severities: Sequence[int], seed: int) -> List[ConditionSpec]:
    """A degradation outside the suite, by short name, with our default tables."""
    return [ConditionSpec(f'{name}_{s}', name, s, (degradation_config(name, s, seed),),
                          'reproduced', 'not in the suite: our own degradation')
            for s in severities]


@dataclass(frozen=True)
class Suite:
    """A named suite of :mod:`fusion_moe.degradation.suites`."""
    name: str

    def __post_init__(self) -> None:
        if self.name not in SUITE_NAMES:
            raise KeyError(f'unknown suite {self.name!r}; known: {list(SUITE_NAMES)}')

    def suite_conditions(self, seed: int = 0) -> List[SuiteCondition]:
        return suite_conditions(self.name, seed=seed, include_unsupported=True)

    @property
    def corruptions(self) -> Tuple[str, ...]:
        return tuple(dict.fromkeys(c.corruption for c in self.suite_conditions()))

    @property
    def severities(self) -> Tuple[int, ...]:
        return tuple(sorted({c.severity for c in self.suite_conditions()}))

    def unsupported(self) -> Dict[str, str]:
        """``{corruption: why our injector cannot produce it}``."""
        return {c.corruption: c.note for c in self.suite_conditions() if c.pipeline is None}

    def conditions(self, corruptions: Optional[Sequence[str]] = None,
                   severities: Optional[Sequence[int]] = None, seed: int = 0
                   ) -> List[ConditionSpec]:
        """``clean`` followed by every runnable (corruption, severity) asked for, in suite
        order. Unsupported corruptions are skipped (the report lists them); asking for one
        by name is an error that says why it cannot run."""
        levels = self.severities if severities is None else tuple(dict.fromkeys(severities))
        bad = [s for s in levels if s not in self.severities]
        if bad:
            raise ValueError(f'suite {self.name!r} has severities {self.severities}; '
                             f'{bad} is not one of them')
        wanted = list(self.corruptions) if corruptions is None else list(
            dict.fromkeys(corruptions))
        unsupported = self.unsupported()
        specs = [CLEAN]
        for name in wanted:
            if name in unsupported:
                if corruptions is None:
                    continue
                raise KeyError(f'{name!r} of suite {self.name!r} cannot be run: '
                               f'{unsupported[name]}')
            if name in self.corruptions:
                specs += [_spec(c) for c in self.suite_conditions(seed)
                          if c.corruption == name and c.severity in levels]
            elif name in DEGRADATIONS and self.severities == _OUR_SEVERITIES:
                specs += adhoc_conditions(name, levels, seed)
            else:
                raise KeyError(f'{name!r} is not a corruption of suite {self.name!r} '
                               f'{list(self.corruptions)}' + (
                                   '' if self.severities != _OUR_SEVERITIES
                                   else f' nor a degradation {DEGRADATIONS}'))
        return specs

    def serialize(self, run: Sequence[ConditionSpec] = ()) -> dict:
        """What ``results.json`` records of the suite: source, the corruptions run (status,
        note, severity -> pipeline) and those it could not run."""
        corruptions: Dict[str, dict] = {}
        for spec in run:
            if spec.is_clean:
                continue
            entry = corruptions.setdefault(spec.corruption, {
                'name': spec.corruption, 'status': spec.status, 'note': spec.note,
                'pipelines': {}})
            entry['pipelines'][str(spec.severity)] = [dict(d) for d in spec.degradations]
        return {'name': self.name, 'version': SUITE_FORMAT_VERSION,
                'source': SUITE_SOURCES.get(self.name, ''),
                'severities': list(self.severities),
                'corruptions': list(corruptions.values()),
                'not_run': [{'name': n, 'note': note} for n, note in self.unsupported().items()]}


SUITES: Tuple[str, ...] = tuple(SUITE_NAMES)


def get_suite(name: str) -> Suite:
    return Suite(name)
