"""Experiment tests use the shared fixtures of tests/conftest.py (`mlflow_server`, `backend`, `project`, `use_mlflow`)."""
