"""Deliverables: candidates.csv, CIFs, results.parquet, funnel, provenance."""
