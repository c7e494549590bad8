"""Kubernetes side effects: a small generic REST client, status summaries, and the activities."""
