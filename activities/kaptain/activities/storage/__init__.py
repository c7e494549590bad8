"""Model storage side effects: ``file://`` and ``s3://`` backends, and the storage activities."""
