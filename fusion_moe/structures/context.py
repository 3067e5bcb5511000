"""The driving-context vocabulary, defined once and imported everywhere (DESIGN.md).

A sample's context is ``{'lighting': str, 'weather': str, 'source': str}``:

- lighting in ``LIGHTING`` = (day, night)
- weather in ``WEATHER`` = (clear, rain, fog); fog only ever comes from the degradation injector
- source in ``SOURCES`` = (metadata, injected, estimated)

Models receive integer ids per factor (the index in the tuple), see :func:`context_to_ids`.
Unknown values are an error, never a silent default.
"""
import re
from typing import Dict, Mapping, Tuple

LIGHTING: Tuple[str, ...] = ('day', 'night')
WEATHER: Tuple[str, ...] = ('clear', 'rain', 'fog')
SOURCES: Tuple[str, ...] = ('metadata', 'injected', 'estimated')
FACTORS: Dict[str, Tuple[str, ...]] = {'lighting': LIGHTING, 'weather': WEATHER}

# nuScenes scene descriptions say "Night, ..." and "Rain, ..." (also "rainy", "raining",
# "night time"); match whole words only, so that "train", "drain" and "nightclub" do not count.
_NIGHT_RE = re.compile(r'\bnight(?:time)?\b', re.IGNORECASE)
_RAIN_RE = re.compile(r'\brain(?:y|ing|s)?\b', re.IGNORECASE)


def make_context(lighting: str, weather: str, source: str) -> Dict[str, str]:
    """Build a validated context dict; raises ValueError naming the bad factor."""
    ctx = {'lighting': lighting, 'weather': weather, 'source': source}
    validate_context(ctx)
    return ctx


def validate_context(ctx: Mapping[str, str]) -> None:
    """Raise ValueError if ``ctx`` lacks a factor or holds a value outside the vocabulary."""
    for key, vocab in (*FACTORS.items(), ('source', SOURCES)):
        if key not in ctx:
            raise ValueError(f'context is missing {key!r}: {dict(ctx)!r}')
        if ctx[key] not in vocab:
            raise ValueError(
                f'context[{key!r}] = {ctx[key]!r} is not in the vocabulary {vocab}')


def context_from_description(description: str) -> Dict[str, str]:
    """Parse a nuScenes scene description into a context (source='metadata').

    >>> context_from_description('Night, rain, pedestrians')['weather']
    'rain'
    >>> context_from_description('Wait at intersection, train passing')['weather']
    'clear'
    """
    if not isinstance(description, str):
        raise TypeError(f'scene description must be a str, got {type(description).__name__}')
    lighting = 'night' if _NIGHT_RE.search(description) else 'day'
    weather = 'rain' if _RAIN_RE.search(description) else 'clear'
    return make_context(lighting, weather, 'metadata')


def context_to_ids(ctx: Mapping[str, str]) -> Dict[str, int]:
    """Integer ids per factor, e.g. ``{'lighting': 1, 'weather': 2}`` for night fog."""
    validate_context(ctx)
    return {key: vocab.index(ctx[key]) for key, vocab in FACTORS.items()}
