"""Routing statistics saved by the hook plot without the model: the heatmap is the per-context
utilisation of the file, contexts without tokens stay blank, and a wrong file is named."""
import json
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch

from fusion_moe.models.moe import MoELayer
from fusion_moe.viz.routing_plots import (context_utilisation_matrix, load_routing_statistics,
                                          plot_routing_statistics)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture
def stats_file(tmp_path):
    torch.manual_seed(0)
    layer = MoELayer(8, 16, 4, router=dict(type='TopKRouter', top_k=1))
    x = torch.randn(60, 8)
    sample_ids = torch.arange(3).repeat_interleave(20)
    context = {'lighting': torch.tensor([0, 1, 1]), 'weather': torch.tensor([0, 1, 1])}
    _, record = layer(x, sample_ids=sample_ids, context_ids=context)
    path = tmp_path / 'routing_stats_test.json'
    path.write_text(json.dumps({'mode': 'test', 'epoch': 2, 'iter': 40,
                                'layers': {'fuser.moe': record.summary()}}))
    return str(path), record.summary()


def test_heatmap_rows_are_the_saved_per_context_shares(stats_file, tmp_path):
    path, summary = stats_file
    out = str(tmp_path / 'routing.png')
    plotted = plot_routing_statistics(path, out)
    matrix = plotted['fuser.moe']
    assert matrix.shape == (5, 4)  # day, night, clear, rain, fog x 4 experts
    util = summary['context_utilisation']
    np.testing.assert_allclose(matrix[0], util['lighting']['day']['expert_load'])
    np.testing.assert_allclose(matrix[1], util['lighting']['night']['expert_load'])
    np.testing.assert_allclose(matrix[3], util['weather']['rain']['expert_load'])
    assert np.isnan(matrix[4]).all()  # no fog token: blank, not a fake zero row
    with open(out, 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'


def test_row_labels_carry_the_token_counts(stats_file):
    _, summary = stats_file
    _, labels = context_utilisation_matrix(summary)
    assert labels == ['lighting=day (20)', 'lighting=night (40)', 'weather=clear (20)',
                      'weather=rain (40)', 'weather=fog (0)']


def test_a_file_that_is_not_routing_statistics_is_named(tmp_path):
    bad = tmp_path / 'metrics_summary.json'
    bad.write_text(json.dumps({'mean_ap': 0.5}))
    with pytest.raises(ValueError, match='metrics_summary.json'):
        load_routing_statistics(str(bad))


def test_command_line_tool_writes_the_figure(stats_file, tmp_path):
    path, _ = stats_file
    out = tmp_path / 'cli.png'
    proc = subprocess.run([sys.executable, osp.join(REPO, 'tools', 'plot_routing.py'), path,
                           '--out', str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert out.stat().st_size > 10_000 and '1 MoE layer(s)' in proc.stdout
