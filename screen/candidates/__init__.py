"""Candidate generation (prototype substitution, user structures) and prefilters."""
