"""Versions, official scene names, logs and scene descriptions for a synthetic set.

The devkit decides train/val from the scene *name* (``nuscenes.utils.splits``), so synthetic
scenes borrow official names: up to 10 scenes form 'v1.0-mini' with names from mini_train and
mini_val; more form 'v1.0-trainval' with names from train and val. Validation scenes are spread
through the set (about one in five, at least one as soon as there are two scenes), so even a
4-scene set has training and validation scenes.
"""
import datetime
from dataclasses import dataclass
from typing import List, Tuple

import numpy as np
from nuscenes.utils import splits

MINI_MAX_SCENES = 10
TRAINVAL_MAX_SCENES = len(splits.train) + len(splits.val)
# (location, vehicle prefix of the log name, UTC offset in hours)
LOCATIONS: Tuple[Tuple[str, str, int], ...] = (
    ('singapore-onenorth', 'n015', 8), ('boston-seaport', 'n008', -4),
    ('singapore-queenstown', 'n015', 8), ('singapore-hollandvillage', 'n015', 8))
_CONTENT_PHRASES = ('parked cars', 'peds on sidewalk', 'construction zone with cones',
                    'barriers', 'bus passing', 'truck', 'trailer parked', 'cyclists',
                    'motorcycle parked', 'construction vehicle', 'wait at intersection',
                    'lane change', 'bus stop', 'buildings')


@dataclass(frozen=True)
class SceneIdentity:
    name: str
    split: str          # 'mini_train', 'mini_val', 'train' or 'val'
    lighting: str       # 'day' / 'night'
    weather: str        # 'clear' / 'rain'
    location: str
    log_name: str       # e.g. 'n015-2018-07-24-11-22-45+0800' (vehicle, local time, UTC offset)
    vehicle: str        # 'n015' / 'n008'
    date_captured: str  # local date, 'YYYY-MM-DD'
    start_us: int       # first keyframe, microseconds since the epoch (UTC)
    description: str


def version_for(num_scenes: int) -> str:
    if not 1 <= num_scenes <= TRAINVAL_MAX_SCENES:
        raise ValueError(f'num_scenes must be in [1, {TRAINVAL_MAX_SCENES}], got {num_scenes}')
    return 'v1.0-mini' if num_scenes <= MINI_MAX_SCENES else 'v1.0-trainval'


def split_assignment(num_scenes: int) -> List[bool]:
    """Which scenes are validation scenes (True), spread evenly, about 1 in 5."""
    if num_scenes == 1:
        return [True]  # a single scene is evaluable, not trainable
    max_val = len(splits.mini_val) if num_scenes <= MINI_MAX_SCENES else len(splits.val)
    max_train = len(splits.mini_train) if num_scenes <= MINI_MAX_SCENES else len(splits.train)
    n_val = min(max(1, int(round(num_scenes / 5.0))), max_val)
    n_val = max(n_val, num_scenes - max_train)
    val_positions = {int(np.floor((k + 0.5) * num_scenes / n_val)) for k in range(n_val)}
    return [i in val_positions for i in range(num_scenes)]


def scene_names(num_scenes: int) -> List[Tuple[str, str]]:
    """(name, split) per scene, in generation order."""
    mini = num_scenes <= MINI_MAX_SCENES
    train_names = list(splits.mini_train if mini else splits.train)
    val_names = list(splits.mini_val if mini else splits.val)
    out = []
    for is_val in split_assignment(num_scenes):
        pool, split = (val_names, 'val') if is_val else (train_names, 'train')
        out.append((pool.pop(0), ('mini_' + split) if mini else split))
    return out


def _conditions(num_scenes: int, night_share: float, rain_share: float,
                rng: np.random.Generator) -> List[Tuple[str, str]]:
    for name, share in (('night_share', night_share), ('rain_share', rain_share)):
        if not 0.0 <= share <= 1.0:
            raise ValueError(f'{name} must be in [0, 1], got {share}')
    night = set(rng.permutation(num_scenes)[:int(round(night_share * num_scenes))].tolist())
    rain = set(rng.permutation(num_scenes)[:int(round(rain_share * num_scenes))].tolist())
    return [('night' if i in night else 'day', 'rain' if i in rain else 'clear')
            for i in range(num_scenes)]


def describe(lighting: str, weather: str, rng: np.random.Generator) -> str:
    """A nuScenes-style description: conditions first ("Night, rain, ..."), then content."""
    words = [] if lighting == 'day' else ['Night']
    if weather == 'rain':
        words.append('Rain' if not words else 'rain')
    picks = rng.choice(len(_CONTENT_PHRASES), size=3, replace=False)
    words += [_CONTENT_PHRASES[int(i)] for i in sorted(picks)]
    text = ', '.join(words)
    return text[0].upper() + text[1:]


def scene_identities(num_scenes: int, night_share: float, rain_share: float, seed: int
                     ) -> List[SceneIdentity]:
    """Names, splits, conditions, logs, start times and descriptions of all scenes."""
    version_for(num_scenes)
    rng = np.random.default_rng([seed, 0x5CE7E])
    conditions = _conditions(num_scenes, night_share, rain_share, rng)
    out = []
    for i, ((name, split), (lighting, weather)) in enumerate(
            zip(scene_names(num_scenes), conditions)):
        location, vehicle, utc_offset = LOCATIONS[int(rng.integers(len(LOCATIONS)))]
        hour = int(rng.integers(19, 23)) if lighting == 'night' else int(rng.integers(8, 17))
        local = datetime.datetime(2018, int(rng.integers(7, 11)), int(rng.integers(1, 29)),
                                  hour, int(rng.integers(0, 60)), int(rng.integers(0, 60)))
        utc = local - datetime.timedelta(hours=utc_offset)
        epoch = datetime.datetime(1970, 1, 1)
        start_us = int((utc - epoch).total_seconds()) * 1_000_000 + int(rng.integers(0, 999_999))
        sign = '+' if utc_offset >= 0 else '-'
        log_name = f'{vehicle}-{local:%Y-%m-%d-%H-%M-%S}{sign}{abs(utc_offset):02d}00'
        out.append(SceneIdentity(name, split, lighting, weather, location, log_name, vehicle,
                                 f'{local:%Y-%m-%d}', start_us,
                                 describe(lighting, weather, rng)))
    return out
