"""Wall-clock seconds per generator stage (setup, lidar, camera, radar, io_tables), for the
generation speed benchmark."""
import time
from collections import defaultdict
from typing import Dict


class StageTimer:
    """Wall-clock seconds per generator stage (for the speed benchmark)."""

    def __init__(self):
        self.seconds: Dict[str, float] = defaultdict(float)

    def add(self, stage: str, start: float) -> None:
        self.seconds[stage] += time.perf_counter() - start
