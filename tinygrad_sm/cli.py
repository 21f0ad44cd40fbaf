"""The `tinygrad-sm` command: all argument parsing lives here.

Each subcommand is two small functions: `add_<name>` declares its arguments (with the checked
types below, so a bad value exits 2 with a message) and `run_<name>` calls the plain library
function that does the work, which returns the exit status.
"""
from __future__ import annotations

import argparse
import math
import sys
from typing import Any, Callable

from .i18n import ENV, languages, messages, resolve
from .terminal import silence_stdout
from .train import DATASETS, EXIT_INTERRUPTED, EXIT_STDOUT_CLOSED, MODELS, train_command


# ---- argparse types: a bad value exits 2 with a message ----

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


# ---- train ----

def add_train(sub: Any) -> argparse.ArgumentParser:
    about = ("train softmax regression or an MLP (digits, Fashion-MNIST or MNIST) and write "
             "metrics and figures")
    parser = sub.add_parser("train", help=about, description=about)

    def default(attr: str) -> str:
        return ", ".join(f"{getattr(spec, attr)} for {name}" for name, spec in DATASETS.items())

    parser.add_argument("--data", choices=list(DATASETS), default="digits",
                        help="data set (default: digits, bundled)")
    parser.add_argument("--model", choices=MODELS, default="softmax",
                        help="softmax regression, or an MLP with one ReLU hidden layer "
                             "(default: softmax)")
    parser.add_argument("--hidden", type=positive_int, metavar="H", default=256,
                        help="hidden units of the MLP (default: 256)")
    parser.add_argument("--data-dir", metavar="DIR", default=None,
                        help="folder of the IDX files (mnist: required; fashion-mnist: default "
                             "/usr/share/datasets/fashion-mnist, then ~/.cache/tinygrad_sm/fashion-mnist)")
    parser.add_argument("--epochs", type=positive_int, metavar="N", default=None,
                        help=f"passes over the training set (default: {default('epochs')})")
    parser.add_argument("--lr", type=positive_float, metavar="LR", default=None,
                        help=f"learning rate (default: {default('lr')})")
    parser.add_argument("--batch-size", type=positive_int, metavar="B", default=None,
                        help=f"minibatch size (default: {default('batch_size')})")
    parser.add_argument("--seed", type=seed_number, metavar="S", default=0,
                        help="seed of the initial weights and the batch order (default: 0)")
    parser.add_argument("--out", metavar="DIR", default="out",
                        help="folder for metrics.json and the figures (default: ./out)")
    return parser


def run_train(args: argparse.Namespace) -> int:
    return train_command(data=args.data, data_dir=args.data_dir, epochs=args.epochs, lr=args.lr,
                         batch_size=args.batch_size, seed=args.seed, out=args.out,
                         model_name=args.model, hidden=args.hidden, lang=args.lang)


# ---- step ----

def add_step(sub: Any) -> argparse.ArgumentParser:
    about = "step through one backward pass of a tiny softmax regression, one chain-rule step per key"
    parser = sub.add_parser("step", help=about, description=about)
    parser.add_argument("--no-pause", action="store_true",
                        help="print every step without waiting for a key (also when stdin is not a terminal)")
    parser.add_argument("--html", metavar="PATH",
                        help="also write the HTML stepper (diagram per step, ←/→ keys) to PATH")
    parser.add_argument("--seed", type=seed_number, metavar="S", default=0,
                        help="seed for the data and weights (default 0)")
    return parser


def run_step(args: argparse.Namespace) -> int:
    from . import stepper  # rich and the page renderer load only for this subcommand

    return stepper.step_command(seed=args.seed, pause=not args.no_pause, html=args.html,
                                lang=args.lang)


# ---- demo ----

def add_demo(sub: Any) -> argparse.ArgumentParser:
    about = "list the teaching demos (no NAME), or run one"
    parser = sub.add_parser("demo", help=about, description=about)
    parser.add_argument("name", nargs="?", metavar="NAME", help="the demo to run (omit to list them)")
    parser.add_argument("--out", metavar="DIR", default=None,
                        help="folder for its pictures (default: out/demos/NAME/)")
    parser.add_argument("--quick", action="store_true", help="smaller settings, as the tests use")
    return parser


def run_demo(args: argparse.Namespace) -> int:
    from .demo import demo_command

    return demo_command(args.name, out=args.out, quick=args.quick, lang=args.lang)


def add_lang(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--lang", choices=languages(), default=None,
                        help=f"language of the messages, pages and figures (default: ${ENV}, "
                             "else en; 中文: --lang zh)")
    return parser


SUBCOMMANDS = {"train": (add_train, run_train), "step": (add_step, run_step),
               "demo": (add_demo, run_demo)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tinygrad-sm", description="A small autograd engine that shows every gradient.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add, run in SUBCOMMANDS.values():
        add_lang(add(sub)).set_defaults(run=run)
    args = parser.parse_args(argv)
    try:  # no --lang: $TINYGRAD_SM_LANG, checked here so a bad value is one line, exit 2
        args.lang = resolve(args.lang)
    except ValueError as e:
        print(f"tinygrad-sm {args.command}: error: {e}", file=sys.stderr)
        return 2
    try:
        return args.run(args)
    except KeyboardInterrupt:  # outside what the subcommand handles itself: one line, no traceback
        print(messages(args.lang)("cli.interrupted", command=args.command), file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader of our output left (`| head`): stop quietly, like cat
        silence_stdout()
        return EXIT_STDOUT_CLOSED


if __name__ == "__main__":
    sys.exit(main())
