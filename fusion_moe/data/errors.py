"""Errors raised for bad sensor files, and the policy for a sensor that cannot be read.

Every reader in :mod:`fusion_moe.data` raises :class:`SensorFileError` naming the file and the
problem (truncated, malformed header, NaN points, missing). The loading transforms then either
re-raise it (``on_missing='raise'``) or mark the modality absent in ``results['modality_present']``
with a logged warning (``on_missing='mark_absent'``); nothing in between, so a bad file never
turns into silent garbage. Every such fallback is also recorded in the sample's
``results['sensor_faults']`` (:func:`record_sensor_fault`), which ``MissingSensorSummaryHook``
counts over a run and summarises at its end.
"""
import logging
from typing import Literal, MutableMapping

from mmengine.logging import print_log

MissingSensorPolicy = Literal['raise', 'mark_absent']
MISSING_SENSOR_POLICIES = ('raise', 'mark_absent')


class SensorFileError(ValueError):
    """A sensor file is missing, truncated or malformed.

    Args:
        path: the file.
        problem: what is wrong with it, in words.
    """

    def __init__(self, path: str, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f'{self.path}: {problem}')


def check_missing_sensor_policy(on_missing: str) -> str:
    """Validate an ``on_missing`` config value; raises ValueError naming the key."""
    if on_missing not in MISSING_SENSOR_POLICIES:
        raise ValueError(f'on_missing must be one of {MISSING_SENSOR_POLICIES}, '
                         f'got {on_missing!r}')
    return on_missing


def record_sensor_fault(results: MutableMapping, modality: str, path: str,
                        problem: str) -> None:
    """Append ``{'modality', 'path', 'problem'}`` to ``results['sensor_faults']``."""
    results.setdefault('sensor_faults', []).append(
        {'modality': modality, 'path': str(path), 'problem': problem})


def handle_sensor_error(error: SensorFileError, results: MutableMapping, modality: str,
                        on_missing: str) -> None:
    """Apply the missing-sensor policy: re-raise, or mark ``modality`` absent, record and log
    why."""
    if on_missing == 'raise':
        raise error
    results.setdefault('modality_present', {})[modality] = False
    record_sensor_fault(results, modality, error.path, error.problem)
    print_log(f'sample {results.get("token", results.get("sample_idx"))}: {modality} marked '
              f'absent because {error}', logger='current', level=logging.WARNING)
