"""Temporal activities: the side effects on Kubernetes, object storage and the image registry."""
