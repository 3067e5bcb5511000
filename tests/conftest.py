"""Suite-wide settings: CPU, offline, one thread per test process."""
import os

os.environ.setdefault('OMP_NUM_THREADS', '1')

import torch  # noqa: E402

torch.set_num_threads(1)
