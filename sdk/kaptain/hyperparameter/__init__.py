"""Hyperparameter tuning: search domains and Katib algorithms."""
