"""Derive the GPU image's pins from requirements/pins.txt, the project's one list of pins.

The CPU setup (tools/setup_env.sh) and docker/Dockerfile install the same versions; only the
package names of the CUDA builds differ: spconv/cumm become spconv-<cuda>/cumm-<cuda>, and
torch==X on PyPI's default index is already the CUDA build. Usage::

    python docker/gpu_pins.py requirements/pins.txt --cuda cu126 > gpu-pins.txt
"""
import argparse
import re
import sys
from typing import Dict, List

CUDA_RENAMED = ('spconv', 'cumm')  # packages published per CUDA version under suffixed names


def read_pins(path: str) -> Dict[str, str]:
    """Return {name: version} from a file of ``name==version`` lines (comments allowed)."""
    pins = {}
    with open(path) as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.split('#', 1)[0].strip()
            if not line:
                continue
            m = re.fullmatch(r'([A-Za-z0-9_.\-]+)==([A-Za-z0-9_.+\-]+)', line)
            if m is None:
                raise ValueError(f'{path}:{lineno}: expected name==version, got {line!r}')
            pins[m.group(1).lower()] = m.group(2)
    return pins


def gpu_pins(pins: Dict[str, str], cuda: str) -> List[str]:
    """The pin lines for the CUDA image, in the order of the CPU pins."""
    if not re.fullmatch(r'cu\d{3}', cuda):
        raise ValueError(f'--cuda must look like cu126, got {cuda!r}')
    return [f'{name}-{cuda}=={ver}' if name in CUDA_RENAMED else f'{name}=={ver}'
            for name, ver in pins.items()]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('pins')
    parser.add_argument('--cuda', default='cu126')
    args = parser.parse_args(argv)
    print('\n'.join(gpu_pins(read_pins(args.pins), args.cuda)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
