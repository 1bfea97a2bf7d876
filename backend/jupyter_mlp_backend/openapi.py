"""Write the backend's OpenAPI document (the TypeScript types of the panel are generated from it).

Usage: python -m jupyter_mlp_backend.openapi [PATH]   (stdout when no path)
"""

from __future__ import annotations

import json
import sys

from .app import create_app


def document() -> dict:
    return create_app().openapi()


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    text = json.dumps(document(), indent=2, sort_keys=True) + "\n"
    if argv:
        with open(argv[0], "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
