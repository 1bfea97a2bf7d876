"""The recommender's adapter in the backend: suggestions relayed to the AI services process, and the platform's
run history it learns from, decided per asking user (docs/recommender.md)."""
