"""The recommender: suggests model families, search spaces and configurations from past experiments.

`corpus` loads the versioned corpus it learns from (`corpus/`, built by `build_corpus`); see docs/recommender.md.
Heavy libraries (torch) load on first use, never when this package is imported.
"""
