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


def _dominates_one(columns: np.ndarray, cost: np.ndarray) -> bool:
    """Whether some candidate of ``columns`` (objectives x candidates) dominates ``cost``.

    The candidates no worse than ``cost`` are narrowed one objective at a time, so most
    comparisons are made on a fraction of the front.
    """
    index = np.flatnonzero(columns[0] <= cost[0])
    for j in range(1, len(cost)):
        if not len(index):
            return False
        index = index[columns[j, index] <= cost[j]]
    return bool(len(index)) and bool(np.any(columns[:, index] < cost[:, None]))


def non_dominated_sort(costs: np.ndarray) -> np.ndarray:
    """Front number of each candidate (1 = non-dominated, 2 = next after removing 1, ...).

    One sweep in order of the scaled objective sum (every candidate that dominates another
    comes before it, so the fronts of the candidates seen so far are final), placing each
    candidate by binary search over the fronts: front k holds a candidate that dominates
    it exactly for k below its own front (a dominator in front k is itself dominated by
    one in every front before k). O(n log(fronts) x front size) comparisons instead of
    peeling one front after the other, which is quadratic when there are many fronts
    (78 s for 46,000 candidates in 68 fronts; benchmarks/scale.py).
    """
    costs = np.asarray(costs, dtype=float)
    if costs.ndim != 2:
        raise ValueError(f"costs must be (candidates, objectives), got shape {costs.shape}")
    n, m = costs.shape
    fronts = np.zeros(n, dtype=np.int64)
    if n == 0:
        return fronts
    lo, hi = costs.min(axis=0), costs.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    order = np.argsort(((costs - lo) / span).sum(axis=1), kind="stable")
    members: list[np.ndarray] = []  # per front: objectives x its candidates (up to sizes[k])
    sizes: list[int] = []
    for i in order:
        cost = costs[i]
        low, high = 0, len(members)  # the first front with no candidate dominating this one
        while low < high:
            mid = (low + high) // 2
            if _dominates_one(members[mid][:, : sizes[mid]], cost):
                low = mid + 1
            else:
                high = mid
        if low == len(members):
            members.append(np.empty((m, 16)))
            sizes.append(0)
        if sizes[low] == members[low].shape[1]:
            members[low] = np.concatenate([members[low], np.empty_like(members[low])], axis=1)
        members[low][:, sizes[low]] = cost
        sizes[low] += 1
        fronts[i] = low + 1
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
