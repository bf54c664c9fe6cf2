"""Relaxation of candidate structures with a machine-learned potential."""
