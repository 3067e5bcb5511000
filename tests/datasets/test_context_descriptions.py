"""Driving context from real-style nuScenes scene descriptions, including tricky ones."""
import pytest

from fusion_moe.structures import context_from_description, context_to_ids

CASES = [
    # (description, lighting, weather): real nuScenes descriptions and near misses.
    ('Parked cars, peds, train passing', 'day', 'clear'),          # scene-0061: "train"
    ('Night, big street, bus stop, high speed', 'night', 'clear'),
    ('Rain, night, parking lot, parked cars', 'night', 'rain'),
    ('Night, rain, pedestrians, intersection', 'night', 'rain'),
    ('Rain, wipers, peds, bus, turn right', 'day', 'rain'),
    ('Raining, cones, heavy traffic', 'day', 'rain'),
    ('Rainy afternoon, wait at light', 'day', 'rain'),
    ('Nighttime drive, ped crossing', 'night', 'clear'),
    ('Drain cover, roadworks, trucks', 'day', 'clear'),            # "drain"
    ('Nightclub district, peds, day', 'day', 'clear'),             # "nightclub"
    ('Terrain change, brainstorm bus ad', 'day', 'clear'),         # "terrain", "brain"
    ('Lane change, trained driver, Rainbow bridge', 'day', 'clear'),  # "trained", "Rainbow"
    ('NIGHT, RAIN, ambulance', 'night', 'rain'),                   # case-insensitive
    ('after rain. wet road, night-time', 'night', 'rain'),         # punctuation, hyphen
    ('', 'day', 'clear'),
]


@pytest.mark.parametrize('description, lighting, weather', CASES)
def test_context_is_parsed_by_whole_words(description, lighting, weather):
    ctx = context_from_description(description)
    assert ctx == {'lighting': lighting, 'weather': weather, 'source': 'metadata'}


def test_context_ids_are_positions_in_the_shared_vocabulary():
    ids = context_to_ids(context_from_description('Night, rain'))
    assert ids == {'lighting': 1, 'weather': 1}


def test_a_non_string_description_is_an_error():
    with pytest.raises(TypeError, match='description'):
        context_from_description(None)
