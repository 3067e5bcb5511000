"""BEVGrid derives the map shape from one range and cell size, and refuses inconsistent ones."""
import pytest

from fusion_moe.structures import BEVGrid


def test_grid_shape_follows_range_and_cell_size():
    grid = BEVGrid.from_config([-51.2, -51.2, -5.0, 51.2, 51.2, 3.0], 0.8)
    assert grid.shape == (128, 128)
    grid = BEVGrid.from_config([0.0, -20.0, -3.0, 40.0, 20.0, 1.0], 0.5)
    assert (grid.H, grid.W) == (80, 80)


@pytest.mark.parametrize('pcr, cell', [
    ([-50, -50, -5, 50, 50, 3], 0.3),          # 100 m is not a whole number of 0.3 m cells
    ([10, -50, -5, -10, 50, 3], 0.5),          # x max below x min
    ([-50, -50, -5, 50, 50], 0.5),             # five values
    ([-50, -50, -5, 50, 50, 3], 0.0),
])
def test_inconsistent_grids_are_errors(pcr, cell):
    with pytest.raises(ValueError):
        BEVGrid.from_config(pcr, cell)
