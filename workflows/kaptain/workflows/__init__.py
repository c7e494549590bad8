"""Temporal workflow definitions and the pydantic models they exchange."""
