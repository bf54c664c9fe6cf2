"""Property estimators: formation energy, theoretical capacity (more in later issues)."""
