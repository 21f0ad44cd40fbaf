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
}
STEP_HELP = "step through one backward pass of a tiny softmax regression, one chain-rule step per key"


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


def _add_step_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-pause", action="store_true",
                        help="print every step without waiting for a key (also when stdin is not a terminal)")
    parser.add_argument("--html", metavar="PATH",
                        help="also write the HTML stepper (diagram per step, ←/→ keys) to PATH")
    parser.add_argument("--seed", type=seed_number, metavar="S", default=0,
                        help="seed for the data and weights (default 0)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tinygrad-sm", description="A small autograd engine that shows every gradient.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        module.add_arguments(sub.add_parser(name, help=module.HELP, description=module.HELP))
    _add_step_arguments(sub.add_parser("step", help=STEP_HELP, description=STEP_HELP))
    args = parser.parse_args(argv)
    if args.command == "step":
        from .stepper import step_command
        return step_command(seed=args.seed, pause=not args.no_pause, html=args.html)
    return importlib.import_module(COMMANDS[args.command]).run(args)


if __name__ == "__main__":
    sys.exit(main())
