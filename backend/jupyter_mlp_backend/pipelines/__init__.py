"""Pipelines: notebooks promoted to versioned, papermill-parameterised stages (Dagster runs them)."""
