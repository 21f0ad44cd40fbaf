"""The `tinygrad-sm` command. Each subcommand lives in its own module with
`HELP`, `add_arguments(parser)` and `run(args) -> int`."""
from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = {
    "train": "tinygrad_sm.train",    # softmax regression end to end
    "step": "tinygrad_sm.stepper",   # step through one backward pass
}


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
