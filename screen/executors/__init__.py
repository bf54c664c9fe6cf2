"""Executors run stage functions: in-process/local now, SLURM arrays later."""
