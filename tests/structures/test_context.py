"""The driving-context vocabulary: one definition, strict values, whole-word parsing."""
import pytest

from fusion_moe.structures import (LIGHTING, WEATHER, context_from_description, context_to_ids,
                                   make_context)


@pytest.mark.parametrize('description, lighting, weather', [
    ('Night, big street, bus stop, high speed', 'night', 'clear'),
    ('Rain, night, parking lot', 'night', 'rain'),
    ('Rainy day, wet road', 'day', 'rain'),
    ('Heavy raining near the harbour', 'day', 'rain'),
    ('Wait at intersection, peds, train passing', 'day', 'clear'),   # "train" is not rain
    ('Storm drain repair, brainstorm', 'day', 'clear'),              # nor "drain", "brainstorm"
    ('Nightclub district, afternoon', 'day', 'clear'),               # "nightclub" is not night
    ('Parked truck, construction, NIGHT', 'night', 'clear'),         # case-insensitive
    ('', 'day', 'clear'),
])
def test_context_from_description_matches_whole_words(description, lighting, weather):
    ctx = context_from_description(description)
    assert ctx == {'lighting': lighting, 'weather': weather, 'source': 'metadata'}


def test_fog_is_in_the_vocabulary_but_never_parsed_from_metadata():
    assert 'fog' in WEATHER
    assert context_from_description('Fog, low visibility')['weather'] == 'clear'


def test_context_ids_index_the_vocabulary():
    assert context_to_ids(make_context('night', 'fog', 'injected')) == {
        'lighting': LIGHTING.index('night'), 'weather': WEATHER.index('fog')}


@pytest.mark.parametrize('bad', [
    {'lighting': 'dusk', 'weather': 'clear', 'source': 'metadata'},
    {'lighting': 'day', 'weather': 'snow', 'source': 'metadata'},
    {'lighting': 'day', 'weather': 'clear', 'source': 'guess'},
    {'lighting': 'day', 'source': 'metadata'},
])
def test_unknown_context_values_are_errors_naming_the_factor(bad):
    with pytest.raises(ValueError, match='lighting|weather|source'):
        context_to_ids(bad)
