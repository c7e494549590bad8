"""Configuration providers: the credentials and endpoints that become Kubernetes Secrets for a run."""
