"""The `tinygrad-sm` command. Each subcommand lives in its own module with
`HELP`, `add_arguments(parser)` and `run(args) -> int`."""
from __future__ import annotations

import argparse
import importlib
import math
import sys
from typing import Any, Callable

COMMANDS = {
    "train": "tinygrad_sm.train",    # softmax regression end to end
    "step": "tinygrad_sm.stepper",   # step through one backward pass
    "demo": "tinygrad_sm.demo",      # list or run the teaching demos
}


# ---- argparse types shared by the subcommands: a bad value exits 2 with a message ----

def checked(convert: Callable[[str], Any], expected: str, ok: Callable[[Any], bool],
            requirement: str) -> Callable[[str], Any]:
    """An argparse type: convert the text, then check the value, with messages for both."""
    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"must be {requirement}, got {text}")
        return value
    return parse


positive_int = checked(int, "a whole number", lambda v: v >= 1, "at least 1")
positive_float = checked(float, "a number", lambda v: math.isfinite(v) and v > 0,
                         "a positive finite number")
seed_number = checked(int, "a whole number", lambda v: v >= 0, "0 or more")  # numpy's seeds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tinygrad-sm", description="A small autograd engine that shows every gradient.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        module.add_arguments(sub.add_parser(name, help=module.HELP, description=module.HELP))
    args = parser.parse_args(argv)
    return importlib.import_module(COMMANDS[args.command]).run(args)


if __name__ == "__main__":
    sys.exit(main())
