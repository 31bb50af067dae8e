"""Evaluation: held-out TEST measurement, statistics, the facts the docs quote."""
