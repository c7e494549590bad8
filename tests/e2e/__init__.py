"""End-to-end tests: the SDK against a Temporal dev server, a worker and the embedded cluster."""
