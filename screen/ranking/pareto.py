"""Pareto fronts (non-dominated sorting) and their behaviour under uncertainty.

All functions take a (candidates x objectives) array already oriented for minimisation
(negate maximised objectives). Candidate a dominates b when a is no worse in every
objective and strictly better in at least one.
"""

from __future__ import annotations

import numpy as np

_CHUNK_ELEMENTS = 4_000_000  # comparisons held in memory at once


def _dominated_counts(costs: np.ndarray, alive: np.ndarray) -> np.ndarray:
    """For each candidate, how many alive candidates dominate it."""
    n = len(costs)
    counts = np.zeros(n, dtype=np.int64)
    live = costs[alive]
    if not len(live):
        return counts
    rows = max(1, _CHUNK_ELEMENTS // max(1, len(live) * costs.shape[1]))
    for start in range(0, n, rows):
        block = costs[start : start + rows, None, :]  # (b, 1, k): the dominated side
        no_worse = np.all(live[None, :, :] <= block, axis=2)
        better = np.any(live[None, :, :] < block, axis=2)
        counts[start : start + rows] = np.sum(no_worse & better, axis=1)
    return counts


def non_dominated_sort(costs: np.ndarray) -> np.ndarray:
    """Front number of each candidate (1 = non-dominated, 2 = next after removing 1, ...)."""
    costs = np.asarray(costs, dtype=float)
    if costs.ndim != 2:
        raise ValueError(f"costs must be (candidates, objectives), got shape {costs.shape}")
    fronts = np.zeros(len(costs), dtype=np.int64)
    alive = np.ones(len(costs), dtype=bool)
    front = 0
    while alive.any():
        front += 1
        counts = _dominated_counts(costs, alive)
        current = alive & (counts == 0)
        fronts[current] = front
        alive &= ~current
    return fronts


def first_front(costs: np.ndarray) -> np.ndarray:
    """Boolean mask of the non-dominated candidates."""
    costs = np.asarray(costs, dtype=float)
    return _dominated_counts(costs, np.ones(len(costs), dtype=bool)) == 0


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
