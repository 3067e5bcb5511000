"""Fail the image build when torch's CUDA and the base image's nvcc differ (major.minor).

mmcv's CUDA ops are compiled by nvcc against torch's headers and run with torch's CUDA runtime;
torch's extension builder only warns on a minor-version mismatch, which then fails at import
or at run time on the GPU. Usage (docker/Dockerfile):  python docker/check_cuda_match.py
"""
import re
import subprocess
import sys


def nvcc_release(text: str) -> str:
    """'13.0' from the output of ``nvcc --version`` ('... release 13.0, V13.0.88')."""
    m = re.search(r'release (\d+\.\d+)', text)
    if m is None:
        raise ValueError(f'no "release X.Y" in nvcc --version output: {text!r}')
    return m.group(1)


def main() -> int:
    import torch
    torch_cuda = torch.version.cuda
    if torch_cuda is None:
        print(f'torch {torch.__version__} is a CPU build; the GPU image needs a CUDA build',
              file=sys.stderr)
        return 1
    nvcc = nvcc_release(subprocess.run(['nvcc', '--version'], check=True, capture_output=True,
                                       text=True).stdout)
    wanted = '.'.join(torch_cuda.split('.')[:2])
    if nvcc != wanted:
        print(f'torch {torch.__version__} is built for CUDA {torch_cuda} but the base image has '
              f'nvcc {nvcc}; pick CUDA_IMAGE with CUDA {wanted} (docker/README.md)',
              file=sys.stderr)
        return 1
    print(f'torch {torch.__version__} (CUDA {torch_cuda}) and nvcc {nvcc} match')
    return 0


if __name__ == '__main__':
    sys.exit(main())
