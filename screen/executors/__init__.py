"""Executors of per-record work.

Worker pools and journals (local.py), campaign folders (campaign.py); SLURM array tasks
run the same shards (screen/hpc/).
"""
