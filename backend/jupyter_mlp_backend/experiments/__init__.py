"""Experiments: MLflow behind the backend — the gateway, the project↔experiment map, fast run search."""
