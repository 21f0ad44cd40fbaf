"""The `tinygrad-sm` command: all argument parsing lives here.

Each subcommand is two small functions: `add_<name>` declares its arguments (with the checked
types below, so a bad value exits 2 with a message) and `run_<name>` calls the plain library
function that does the work, which returns the exit status.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any, Callable

from . import settings
from .process import (EXIT_ERROR, EXIT_STDOUT_CLOSED, EXIT_USAGE, StdoutFailed, exit_status,
                      interrupts_and_stdout)

# Only the standard library and the two small modules above load with this module: everything
# else is imported inside main, where Ctrl-C during start-up is one line, not a traceback.


# ---- argparse types: a bad value exits 2 with the rule's message (settings.py) ----

def setting(name: str) -> Callable[[str], Any]:
    """An argparse type for the setting `name`: settings.from_text, its ValueError's message
    turned into argparse's."""
    def parse(text: str):
        try:
            return settings.from_text(name, text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    return parse


# ---- train ----

def add_train(sub: Any) -> argparse.ArgumentParser:
    from .train import DATASETS, MODELS  # numpy and the engine load inside main

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
    parser.add_argument("--hidden", type=setting("hidden"), metavar="H", default=256,
                        help="hidden units of the MLP (default: 256)")
    parser.add_argument("--data-dir", metavar="DIR", default=None,
                        help="folder of the IDX files (mnist: required; fashion-mnist: default "
                             "/usr/share/datasets/fashion-mnist, then ~/.cache/tinygrad_sm/fashion-mnist)")
    parser.add_argument("--epochs", type=setting("epochs"), metavar="N", default=None,
                        help=f"passes over the training set (default: {default('epochs')})")
    parser.add_argument("--lr", type=setting("lr"), metavar="LR", default=None,
                        help=f"learning rate (default: {default('lr')})")
    parser.add_argument("--batch-size", type=setting("batch_size"), metavar="B", default=None,
                        help=f"minibatch size (default: {default('batch_size')})")
    parser.add_argument("--seed", type=setting("seed"), metavar="S", default=0,
                        help="seed of the initial weights and the batch order (default: 0)")
    parser.add_argument("--out", type=setting("out"), metavar="DIR", default="out",
                        help="folder for metrics.json and the figures (default: ./out)")
    return parser


def run_train(args: argparse.Namespace) -> int:
    from .train_command import train_command

    return train_command(data=args.data, data_dir=args.data_dir, epochs=args.epochs, lr=args.lr,
                         batch_size=args.batch_size, seed=args.seed, out=args.out,
                         model_name=args.model, hidden=args.hidden, lang=args.lang)


# ---- step ----

def add_step(sub: Any) -> argparse.ArgumentParser:
    about = "step through one backward pass of a tiny softmax regression, one chain-rule step per key"
    parser = sub.add_parser("step", help=about, description=about)
    parser.add_argument("--no-pause", action="store_true",
                        help="print every step without waiting for a key (also when stdin is not a terminal)")
    parser.add_argument("--html", type=setting("html"), metavar="PATH",
                        help="also write the HTML stepper (diagram per step, ←/→ keys) to PATH")
    parser.add_argument("--seed", type=setting("seed"), metavar="S", default=0,
                        help="seed for the data and weights (default 0)")
    parser.add_argument("--predict", action="store_true",
                        help="type each step's gradient before it is shown, then see the verdict")
    return parser


def run_step(args: argparse.Namespace) -> int:
    if args.predict:
        from .lesson import step_command
        return step_command(seed=args.seed, lang=args.lang)
    from . import stepper  # rich and the page renderer load only for this subcommand

    return stepper.step_command(seed=args.seed, pause=not args.no_pause, html=args.html,
                                lang=args.lang)


# ---- demo ----

def add_demo(sub: Any) -> argparse.ArgumentParser:
    about = "list the teaching demos (no NAME), or run one"
    parser = sub.add_parser("demo", help=about, description=about)
    parser.add_argument("name", nargs="?", metavar="NAME", help="the demo to run (omit to list them)")
    parser.add_argument("--out", type=setting("out"), metavar="DIR", default=None,
                        help="folder for its pictures (default: out/demos/NAME/)")
    parser.add_argument("--quick", action="store_true", help="smaller settings, as the tests use")
    return parser


def run_demo(args: argparse.Namespace) -> int:
    from .demo import demo_command

    return demo_command(args.name, out=args.out, quick=args.quick, lang=args.lang)


# ---- lesson ----

def add_lesson(sub: Any) -> argparse.ArgumentParser:
    about = ("a lesson in predict mode: type each gradient of a softmax regression (∂L/∂o, "
             "∂L/∂b, ∂L/∂W) and of x ⊙ x before it is shown")
    parser = sub.add_parser("lesson", help=about, description=about)
    parser.add_argument("--seed", type=setting("seed"), metavar="S", default=0,
                        help="seed for the data and weights (default 0)")
    return parser


def run_lesson(args: argparse.Namespace) -> int:
    from .lesson import lesson_command

    return lesson_command(seed=args.seed, lang=args.lang)


# ---- exercise ----

def add_exercise(sub: Any) -> argparse.ArgumentParser:
    about = ("write the backward of seven ops yourself: `start DIR` writes DIR/backward.py, "
             "`check DIR` grades it, names each mistake and then trains with it")
    parser = sub.add_parser("exercise", help=about, description=about)
    parser.add_argument("action", choices=("start", "check"), help="start: write DIR/backward.py; "
                        "check: grade it, write DIR/report.json and DIR/report.html")
    parser.add_argument("dir", metavar="DIR", help="the learner's folder")
    parser.add_argument("--json", action="store_true", help="check: print only the report (JSON)")
    return parser


def run_exercise(args: argparse.Namespace) -> int:
    from .exercise_command import check_command, start_command

    if args.action == "start":
        return start_command(args.dir, lang=args.lang)
    return check_command(args.dir, json_only=args.json, lang=args.lang)


def add_lang(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    from .i18n import ENV, languages

    parser.add_argument("--lang", choices=languages(), default=None,
                        help=f"language of the messages, pages and figures (default: ${ENV}, "
                             "else en; 中文: --lang zh)")
    return parser


SUBCOMMANDS = {"train": (add_train, run_train), "step": (add_step, run_step),
               "demo": (add_demo, run_demo), "lesson": (add_lesson, run_lesson),
               "exercise": (add_exercise, run_exercise)}


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; returns its exit status. Ctrl-C and SIGTERM at any moment (the
    imports included) are one line and 130 / 143; a closed stdout is 141 without a word, a full
    one a line and 1 (process.py)."""
    command, lang = None, "en"  # English until the run's language is known
    with interrupts_and_stdout():
        try:
            from .i18n import resolve

            parser = argparse.ArgumentParser(
                prog="tinygrad-sm",
                description="A small autograd engine that shows every gradient.")
            sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
            for add, run in SUBCOMMANDS.values():
                add_lang(add(sub)).set_defaults(run=run)
            args = parser.parse_args(argv)
            command = args.command
            try:  # no --lang: $TINYGRAD_SM_LANG, checked here so a bad value is one line, exit 2
                args.lang = lang = resolve(args.lang)
            except ValueError as e:
                print(f"tinygrad-sm {command}: error: {e}", file=sys.stderr)
                return EXIT_USAGE
            status = args.run(args)
            sys.stdout.flush()  # a full stdout shows here, not in Python's flush at exit
            return status
        except KeyboardInterrupt as e:  # what the subcommand did not handle: one line
            print(_said(lang, "cli.interrupted", command=command) if command else
                  "tinygrad-sm: interrupted", file=sys.stderr)  # (as __main__ says it)
            return exit_status(e)
        except StdoutFailed as e:  # stdout already points at /dev/null
            if e.closed:  # the reader left (`| head`): stop quietly, like cat
                return EXIT_STDOUT_CLOSED
            said = _said(lang, "train.cannot_write", out="stdout", reason=e.reason)
            print(f"tinygrad-sm {command}: {said}" if command else f"tinygrad-sm: {said}",
                  file=sys.stderr)
            return EXIT_ERROR


def _said(lang: str, key: str, **fields: Any) -> str:
    from .i18n import messages

    return messages(lang)(key, **fields)


if __name__ == "__main__":
    sys.exit(main())
