"""Scoring a fitted cell inside its worker: the metric groups, the answer key, lift tests."""
