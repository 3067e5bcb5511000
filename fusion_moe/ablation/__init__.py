"""Ablation grids: expand a grid config into cells, train and evaluate each cell in its own
subprocesses, keep one results table, and report from that table alone.

- :mod:`.grid`: the grid config and its cells; :mod:`.cell_config`: a cell's resolved config;
- :mod:`.cell_runner`: one cell (train, model info, robustness tool) with its resume rules;
- :mod:`.results_table`: ``results.csv``; :mod:`.study`: the whole grid, progress and ETA;
- :mod:`.aggregate`: seed spread; :mod:`.report`: ``summary.md`` and the plots
  (``fusion_moe.viz.ablation_plots``).

``tools/ablate.py`` is the command line.
"""
from .grid import STANDARD_COLUMNS, Cell, ConditionSet, Grid, load_grid
from .report import make_report
from .results_table import ResultsTable, read_rows
from .study import run_grid

__all__ = ['Cell', 'ConditionSet', 'Grid', 'ResultsTable', 'STANDARD_COLUMNS', 'load_grid',
           'make_report', 'read_rows', 'run_grid']
