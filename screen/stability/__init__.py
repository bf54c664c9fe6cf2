"""Thermodynamic stability: convex hulls, reference providers, electrochemical windows."""
