"""Import a repository script (``tools/``, ``benchmarks/``, ``docker/``, or a test directory's
``conftest.py`` for its helpers) as a module: the scripts are not a package, so tests load them
from their file and call e.g. ``main(argv)`` in-process.

Importable from every test directory: ``tests/conftest.py`` puts ``tests/`` on ``sys.path``.
"""
import importlib.util
import os.path as osp
import re
from types import ModuleType

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def load_script(relative_path: str) -> ModuleType:
    """The file ``<repo>/<relative_path>`` executed as a fresh module (not put in
    ``sys.modules``), named ``fusion_script_<path>`` with non-identifier characters as ``_``."""
    path = osp.join(REPO, relative_path)
    if not osp.isfile(path):
        raise FileNotFoundError(f'no script {relative_path} under {REPO}')
    name = 'fusion_script_' + re.sub(r'\W', '_', osp.splitext(relative_path)[0])
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_tool(name: str) -> ModuleType:
    """``tools/<name>.py`` as a fresh module (:func:`load_script`)."""
    return load_script(osp.join('tools', f'{name}.py'))
