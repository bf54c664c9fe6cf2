"""Guided search: an Optuna study proposes candidates over the generator's choices.

A trial picks a prototype and an element for each of its substitutable roles; that maps to
exactly one candidate recipe (screen.search.space). Batches of trials are asked together,
built, prefiltered, relaxed and estimated as one batch, and told back
(screen.search.loop); constraints are Optuna constraints. The study lives in an Optuna
journal file on the campaign directory, so several processes (SLURM array tasks) can
share it and a killed run resumes.
"""
