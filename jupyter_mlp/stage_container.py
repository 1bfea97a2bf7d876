"""Entry point of a pipeline stage inside its container: open the bridge to the backend, then run papermill.

    python3 -m jupyter_mlp.stage_container --bridge /run/mlp/backend.sock --port 8123 -- INPUT OUTPUT [papermill args]

Only the standard library and papermill are needed here; the image carries both.
"""

from __future__ import annotations

import argparse
import subprocess
import sys


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="stage_container")
    p.add_argument("--bridge", help="Unix socket that reaches the backend")
    p.add_argument("--port", type=int, help="port the stage's URLs name; served on 127.0.0.1 inside")
    p.add_argument("papermill", nargs=argparse.REMAINDER)
    args = p.parse_args(argv)
    rest = args.papermill[1:] if args.papermill[:1] == ["--"] else args.papermill
    if args.bridge and args.port:
        from .bridge import tcp_to_unix

        tcp_to_unix(args.port, args.bridge)
    return subprocess.run([sys.executable, "-m", "papermill", *rest]).returncode


if __name__ == "__main__":
    sys.exit(main())
