"""Backend tests use the shared fixtures of tests/conftest.py (`api`, `acme`, `globex`)."""
