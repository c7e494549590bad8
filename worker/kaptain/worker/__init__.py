"""The worker process and the `kaptain` command line."""
