"""jupyter-mlp: the shared core every process imports. Nothing heavy is imported here."""

try:
    from ._version import __version__
except ImportError:  # a source checkout that was never built
    __version__ = "0.0.0+unknown"


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "jupyter-mlp"}]


def suggest(data, target=None, **kwargs):  # noqa: ANN001, ANN201 - see jupyter_mlp.suggestions.suggest
    """Model families, search spaces and warm starts for a DataFrame or a project's dataset (jupyter_mlp.suggestions):
    `suggest(df, target="churned").optuna_space("random_forest")`. Imports nothing until called."""
    from .suggestions import suggest as _suggest

    return _suggest(data, target, **kwargs)
