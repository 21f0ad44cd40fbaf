"""Placeholder: this command is not built yet."""
from __future__ import annotations

import argparse

HELP = "(not built yet)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    raise SystemExit("tinygrad-sm train: not built yet (see the open issues)")
