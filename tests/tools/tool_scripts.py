"""Import a script of ``tools/`` as a module (the tools are scripts, not a package), so tests
call its ``main(argv)`` in-process."""
import importlib.util
import os.path as osp
from types import ModuleType

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load_tool(name: str) -> ModuleType:
    """``tools/<name>.py`` as a fresh module named ``fusion_tool_<name>``."""
    spec = importlib.util.spec_from_file_location(f'fusion_tool_{name}',
                                                  osp.join(REPO, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
