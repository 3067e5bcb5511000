"""The realism table: one row per statistic, real beside synthetic, with a distance and the
target it is held to.

A row's ``target`` is ``'<= X'`` / ``'>= X'`` on its ``distance`` (or None: shown for
information, not judged); ``met`` is None when either side could not be measured (NaN).
``reference`` says where the real figure comes from when it is not a fixture measurement (for
example the sensor's own reported accuracy, or a physical bound where the fixture has no such
data), so no row passes off an assumption as a measurement.
"""
import math
from dataclasses import asdict, dataclass
from typing import List, Optional, Sequence, Union

Figure = Union[float, str, None]


@dataclass
class Row:
    """One statistic of one sensor, real beside synthetic.

    Attributes:
        sensor: 'radar', 'lidar' or 'camera'.
        statistic: what is compared, with its unit.
        real, synthetic: a short summary of each side (a number or a text such as a median).
        distance_name: e.g. 'W1 [dB]', 'TV', '|ln ratio|'.
        distance: the distance between the two sides (NaN when not measurable).
        target: ``'<= X'`` / ``'>= X'`` on the distance, or None (information only).
        reference: where the real figure comes from when not measured on the fixture.
    """
    sensor: str
    statistic: str
    real: Figure
    synthetic: Figure
    distance_name: str
    distance: float
    target: Optional[str] = None
    reference: str = ''

    @property
    def met(self) -> Optional[bool]:
        if self.target is None or self.distance is None or math.isnan(self.distance):
            return None
        op, bound = self.target.split()
        if op not in ('<=', '>='):
            raise ValueError(f"row {self.statistic!r}: target must be '<= X' or '>= X', got "
                             f'{self.target!r}')
        return self.distance <= float(bound) if op == '<=' else self.distance >= float(bound)

    def as_dict(self) -> dict:
        out = asdict(self)
        out['met'] = self.met
        return out


def _text(value: Figure) -> str:
    if value is None:
        return '-'
    if isinstance(value, float):
        return 'nan' if math.isnan(value) else f'{value:.3g}'
    return str(value)


def format_table(rows: Sequence[Row]) -> str:
    """Plain-text table, one line per row (plus its reference note, if any)."""
    head = (f"{'sensor':<7}{'statistic':<46}{'real':>18}{'synthetic':>18}  "
            f"{'distance':<22}{'target':>9}  met")
    lines: List[str] = [head, '-' * len(head)]
    for r in rows:
        met = {True: 'yes', False: 'NO', None: '-'}[r.met]
        dist = f'{r.distance_name} {_text(r.distance)}'
        lines.append(f'{r.sensor:<7}{r.statistic:<46}{_text(r.real):>18}'
                     f'{_text(r.synthetic):>18}  {dist:<22}{r.target or "-":>9}  {met}')
        if r.reference:
            lines.append(f"{'':<9}real: {r.reference}")
    return '\n'.join(lines)


def count_met(rows: Sequence[Row]) -> dict:
    """How many judged rows met their targets: ``{judged, met, not_met: [statistic, ...]}``."""
    judged = [r for r in rows if r.met is not None]
    return {'judged': len(judged), 'met': sum(bool(r.met) for r in judged),
            'not_met': [f'{r.sensor}: {r.statistic}' for r in judged if not r.met]}
