"""End-to-end tests of the full embedded cluster (API server, registry, kubelet, controllers, Kaniko)."""
