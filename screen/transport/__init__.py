"""Ionic transport estimators: bond-valence site energies and molecular-dynamics diffusion."""
