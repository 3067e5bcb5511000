"""The README's MoE example runs as printed (so the documentation cannot drift from the API)."""
import os.path as osp
import re

import torch

README = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'README.md')


def _python_blocks_of_section(title: str):
    text = open(README).read()
    section = text.split(f'## {title}\n', 1)[1].split('\n## ', 1)[0]
    return re.findall(r'```python\n(.*?)```', section, flags=re.S)


def test_the_moe_library_example_runs():
    torch.manual_seed(0)
    blocks = _python_blocks_of_section('The MoE library')
    assert len(blocks) == 1
    namespace = {}
    exec(compile(blocks[0], 'README.md', 'exec'), namespace)
    summary = namespace['summary']
    assert len(summary['expert_load']) == 4
    assert set(summary['context_utilisation']['lighting']) == {'day', 'night'}
    assert namespace['loss'].requires_grad
