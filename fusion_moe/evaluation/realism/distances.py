"""Distances between a synthetic and a real statistic (the realism table's "distance" column).

- ``wasserstein1``: Wasserstein-1 (earth mover's) distance between two samples of a scalar, or
  between two histograms given as weights on shared bin centres (scipy's
  ``wasserstein_distance``), in the unit of the values: "how far, on average, the mass must be
  moved", so a 3 dB shift of every RCS value is a distance of 3 dB.
- ``total_variation``: half the L1 distance between two categorical distributions, 0 (same
  shares) to 1 (disjoint): the share of points whose category would have to change.
- ``abs_log_ratio``: |ln(a / b)| for counts, symmetric in over- and under-shoot (ln 2 = 0.69
  for a factor of two either way).
"""
from typing import Mapping, Optional, Sequence

import numpy as np
from scipy.stats import wasserstein_distance


def wasserstein1(a: Sequence[float], b: Sequence[float],
                 a_weights: Optional[Sequence[float]] = None,
                 b_weights: Optional[Sequence[float]] = None) -> float:
    """W1 between the (weighted) samples ``a`` and ``b``; NaN if either is empty."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.size == 0 or b.size == 0:
        return float('nan')
    return float(wasserstein_distance(a, b, a_weights, b_weights))


def shares(codes: Sequence[int], categories: Sequence[int]) -> np.ndarray:
    """(len(categories),) share of ``codes`` in each category (zeros for no codes); codes
    outside ``categories`` are an error."""
    codes = np.asarray(codes, dtype=np.int64).ravel()
    categories = np.asarray(categories, dtype=np.int64)
    unknown = np.setdiff1d(codes, categories)
    if unknown.size:
        raise ValueError(f'codes {unknown.tolist()} are not among the categories '
                         f'{categories.tolist()}')
    counts = (codes[:, None] == categories[None]).sum(axis=0).astype(np.float64)
    return counts / counts.sum() if counts.sum() else counts


def total_variation(p: Sequence[float], q: Sequence[float]) -> float:
    """0.5 * sum |p - q| of two distributions over the same categories (each normalised)."""
    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    if p.shape != q.shape:
        raise ValueError(f'distributions over different categories: {p.shape} vs {q.shape}')
    if p.sum() <= 0 or q.sum() <= 0:
        return float('nan')
    return float(0.5 * np.abs(p / p.sum() - q / q.sum()).sum())


def abs_log_ratio(a: float, b: float) -> float:
    """|ln(a / b)| of two positive figures (inf if exactly one is 0, NaN if both are)."""
    if a <= 0 or b <= 0:
        return float('nan') if a == b else float('inf')
    return float(abs(np.log(a / b)))


def share_dict(codes: Sequence[int], categories: Sequence[int]) -> Mapping[int, float]:
    """``{category: share}`` (for the JSON record)."""
    return {int(c): round(float(s), 4) for c, s in zip(categories, shares(codes, categories))}
