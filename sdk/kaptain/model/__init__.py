"""The model: its definition, framework, state, resources and snapshots."""
