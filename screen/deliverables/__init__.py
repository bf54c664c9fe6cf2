"""Deliverables: candidates.csv/.xlsx/.json, CIFs, report.html, results.parquet, funnel."""
