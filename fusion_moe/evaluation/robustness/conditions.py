"""Conditions on the command line and in configs: ``fog:3`` specs, degraded test pipelines,
and the real-condition subsets (day / night / rain) of an evaluated split.

Real conditions come from the driving context the info files carry per sample (parsed from the
nuScenes scene description by ``fusion_moe.structures.context_from_description``, whole-word
match), restricted to the split being evaluated: a subset is the set of evaluated scenes whose
context matches, so it is always a part of what the devkit scores on the clean run.
"""
import argparse
import copy
import pickle
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

from mmengine.config import Config

from fusion_moe.degradation import DEGRADATIONS, degradation_config, insert_degradations
from fusion_moe.degradation.base import SEVERITIES

#: Real-condition subsets: name -> (context factor, value).
REAL_SUBSETS: Dict[str, Tuple[str, str]] = OrderedDict(
    day=('lighting', 'day'), night=('lighting', 'night'), rain=('weather', 'rain'))


def parse_degradation_spec(text: str) -> Tuple[str, int]:
    """``'fog:3'`` -> ``('fog', 3)``; an argparse type (bad specs raise ArgumentTypeError)."""
    name, sep, severity = str(text).partition(':')
    if not sep or not severity.isdigit() or int(severity) not in SEVERITIES:
        raise argparse.ArgumentTypeError(
            f'a degradation is NAME:SEVERITY with severity in {SEVERITIES}, got {text!r}')
    if name not in DEGRADATIONS:
        raise argparse.ArgumentTypeError(f'unknown degradation {name!r}; known: {DEGRADATIONS}')
    return name, int(severity)


def condition_name(specs: Sequence[Tuple[str, int]]) -> str:
    """``[('fog', 3), ('night', 2)]`` -> ``'fog_3+night_2'`` (``'clean'`` when empty)."""
    return '+'.join(f'{name}_{severity}' for name, severity in specs) or 'clean'


def degrade_test_pipeline(cfg: Config, specs: Sequence[Tuple[str, int]], seed: int = 0
                          ) -> List[dict]:
    """Insert the degradations ``specs`` into ``cfg.test_dataloader``'s pipeline, in place.

    Returns the degradation configs inserted (seeded by ``seed``, per sample by the injector).
    Raises a KeyError naming the key when the config has no test dataset pipeline.
    """
    dataset = (cfg.get('test_dataloader') or {}).get('dataset')
    if dataset is None or 'pipeline' not in dataset:
        raise KeyError('the config has no test_dataloader.dataset.pipeline to degrade')
    configs = [degradation_config(name, severity, seed) for name, severity in specs]
    dataset['pipeline'] = insert_degradations(dataset['pipeline'], configs)
    return copy.deepcopy(configs)


def real_condition_subsets(ann_file: str, subsets: Optional[Sequence[str]] = None
                           ) -> Dict[str, dict]:
    """Scenes of the info file ``ann_file`` (the evaluated split) per real condition.

    Returns ``{subset: {'factor', 'value', 'scenes': [scene names], 'num_samples'}}`` for every
    subset in ``subsets`` (None: all of ``REAL_SUBSETS``; empty: none), empty subsets included
    (``scenes == []``).
    """
    with open(ann_file, 'rb') as f:
        infos = pickle.load(f)
    data_list = infos['data_list'] if isinstance(infos, dict) else infos
    out: Dict[str, dict] = {}
    for name in (REAL_SUBSETS if subsets is None else subsets):
        if name not in REAL_SUBSETS:
            raise KeyError(f'unknown real-condition subset {name!r}; known: {list(REAL_SUBSETS)}')
        factor, value = REAL_SUBSETS[name]
        scenes, samples = [], 0
        for info in data_list:
            for key in ('context', 'scene_name'):
                if key not in info:
                    raise KeyError(f'{ann_file}: sample {info.get("token")} lacks {key!r} '
                                   '(regenerate the info files with tools/create_data.py)')
            if info['context'][factor] == value:
                samples += 1
                if info['scene_name'] not in scenes:
                    scenes.append(info['scene_name'])
        out[name] = {'factor': factor, 'value': value, 'scenes': scenes, 'num_samples': samples}
    return out
