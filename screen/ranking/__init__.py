"""Ranking of estimated candidates."""
