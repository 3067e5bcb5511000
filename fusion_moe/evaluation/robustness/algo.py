"""Robustness scores: pure functions of devkit metrics per corruption and severity.

Every function takes the metric ``P`` (NDS or mAP, as the devkit's ``metrics_summary.json``
reports it) of one model as ``{corruption: {severity: P}}`` plus the clean figure or a
baseline's table, and follows its suite's own definition (DESIGN.md, "Results"):

- MultiCorrupt (Beemelmanns et al. 2024): resistance ability ``RA_c,s = P_c,s / P_clean``,
  ``mRA`` = mean over corruptions of the mean over severities, and relative resistance ability
  ``RRA_c = sum_s P_c,s / sum_s P_base,c,s - 1`` (``mRRA`` its mean over corruptions; the
  suite prints it in percent).
- nuScenes-C (Dong et al. CVPR 2023): relative corruption error
  ``RCE_c,s = (P_clean - P_c,s) / P_clean``; ``mRCE`` = mean over corruptions of the mean over
  severities.
- Robo3D (Kong et al. ICCV 2023): corruption error
  ``CE_c = sum_s (1 - P_c,s) / sum_s (1 - P_base,c,s)`` (``mCE`` the mean over corruptions)
  and resilience rate ``RR_c = sum_s P_c,s / (S * P_clean)`` (``mRR`` the mean).

A score that its definition cannot give (clean metric 0, a corruption the baseline lacks, a
zero denominator) is ``None``, never a silent 0 or NaN. Scores against a baseline use the
severities both tables have. Values are fractions; reports may print them in percent.
"""
from typing import Dict, Mapping, Optional

MetricTable = Mapping[str, Mapping[int, float]]


def _mean(values) -> Optional[float]:
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def _mean_of_means(table: Mapping[str, Mapping[int, Optional[float]]]) -> Optional[float]:
    """Mean over corruptions of the mean over severities (None entries skipped)."""
    return _mean(_mean(by_severity.values()) for by_severity in table.values())


def _common_severities(model: Mapping[int, float], baseline: Mapping[int, float]):
    return sorted(set(model) & set(baseline))


def resistance_ability(table: MetricTable, clean: float) -> Dict[str, Dict[int, Optional[float]]]:
    """MultiCorrupt ``RA_c,s = P_c,s / P_clean``."""
    return {c: {s: (p / clean if clean > 0 else None) for s, p in sorted(by_s.items())}
            for c, by_s in table.items()}


def mean_resistance_ability(table: MetricTable, clean: float) -> Optional[float]:
    """MultiCorrupt ``mRA = mean_c (mean_s RA_c,s)``."""
    return _mean_of_means(resistance_ability(table, clean))


def relative_resistance_ability(table: MetricTable, baseline: MetricTable
                                ) -> Dict[str, Optional[float]]:
    """MultiCorrupt ``RRA_c = sum_s P_c,s / sum_s P_base,c,s - 1`` over common severities."""
    out: Dict[str, Optional[float]] = {}
    for c, by_s in table.items():
        severities = _common_severities(by_s, baseline.get(c, {}))
        denominator = sum(baseline[c][s] for s in severities)
        out[c] = (sum(by_s[s] for s in severities) / denominator - 1.0
                  if severities and denominator > 0 else None)
    return out


def relative_corruption_error(table: MetricTable, clean: float
                              ) -> Dict[str, Dict[int, Optional[float]]]:
    """nuScenes-C ``RCE_c,s = (P_clean - P_c,s) / P_clean``."""
    return {c: {s: ((clean - p) / clean if clean > 0 else None) for s, p in sorted(by_s.items())}
            for c, by_s in table.items()}


def mean_relative_corruption_error(table: MetricTable, clean: float) -> Optional[float]:
    """nuScenes-C ``mRCE = mean_c (mean_s RCE_c,s)``."""
    return _mean_of_means(relative_corruption_error(table, clean))


def corruption_error(table: MetricTable, baseline: MetricTable) -> Dict[str, Optional[float]]:
    """Robo3D ``CE_c = sum_s (1 - P_c,s) / sum_s (1 - P_base,c,s)`` over common severities."""
    out: Dict[str, Optional[float]] = {}
    for c, by_s in table.items():
        severities = _common_severities(by_s, baseline.get(c, {}))
        denominator = sum(1.0 - baseline[c][s] for s in severities)
        out[c] = (sum(1.0 - by_s[s] for s in severities) / denominator
                  if severities and denominator > 0 else None)
    return out


def resilience_rate(table: MetricTable, clean: float) -> Dict[str, Optional[float]]:
    """Robo3D ``RR_c = sum_s P_c,s / (S * P_clean)``, S = the corruption's severities."""
    return {c: (sum(by_s.values()) / (len(by_s) * clean) if by_s and clean > 0 else None)
            for c, by_s in table.items()}


def mean_over_corruptions(per_corruption: Mapping[str, Optional[float]]) -> Optional[float]:
    """``mRRA``, ``mCE``, ``mRR``: the mean of the per-corruption scores that exist."""
    return _mean(per_corruption.values())


def robustness_scores(table: MetricTable, clean: float,
                      baseline: Optional[MetricTable] = None) -> Dict[str, dict]:
    """Every suite's scores for one metric, keyed by suite (JSON-ready: string severities).

    Returns ``{'multicorrupt': {RA, mRA, RRA, mRRA}, 'nuscenes_c': {RCE, mRCE},
    'robo3d': {CE, mCE, RR, mRR}}``; the baseline-relative entries are None without a baseline.
    """
    rra = relative_resistance_ability(table, baseline) if baseline is not None else None
    ce = corruption_error(table, baseline) if baseline is not None else None
    rr = resilience_rate(table, clean)

    def by_severity(scores):
        return {c: {str(s): v for s, v in by_s.items()} for c, by_s in scores.items()}

    return {
        'multicorrupt': {
            'RA': by_severity(resistance_ability(table, clean)),
            'mRA': mean_resistance_ability(table, clean),
            'RRA': rra, 'mRRA': mean_over_corruptions(rra) if rra is not None else None},
        'nuscenes_c': {
            'RCE': by_severity(relative_corruption_error(table, clean)),
            'mRCE': mean_relative_corruption_error(table, clean)},
        'robo3d': {
            'CE': ce, 'mCE': mean_over_corruptions(ce) if ce is not None else None,
            'RR': rr, 'mRR': mean_over_corruptions(rr)},
    }
