"""`mlp`: the platform from a terminal. Every verb goes through the backend's API, as the panel does.

One module per domain (`projects`, `runs`, `pipelines`, `models`, `serving`, `monitoring`, `updown`), each with
its command handlers and a COMMANDS table of the functions that add its commands to the parser; `common` holds
what they share (backend client, project lookup, output); `main` builds the parser. The console script
`mlp = "jupyter_mlp.cli:main"` resolves to `main` re-exported here.
"""

from .main import build_parser, main

__all__ = ["build_parser", "main"]
