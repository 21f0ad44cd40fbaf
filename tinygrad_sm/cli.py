"""The `tinygrad-sm` command: all argument parsing lives here.

Each subcommand is two small functions: `add_<name>` declares its arguments (with the checked
types below, so a bad value exits 2 with a message) and `run_<name>` calls the plain library
function that does the work, which returns the exit status.
"""
from __future__ import annotations

import argparse
import contextlib
import re
import sys
import unicodedata
from typing import Any, Callable, Iterator

from . import settings
from .process import (EXIT_ERROR, EXIT_STDOUT_CLOSED, EXIT_USAGE, StdoutFailed, exit_status,
                      interrupts_and_stdout)

# Only the standard library and the two small modules above load with this module: everything
# else is imported inside main, where Ctrl-C during start-up is one line, not a traceback.


# ---- argparse types: a bad value exits 2 with the rule's message (settings.py) ----

# each rule's words (settings.py) and its catalogue key, setting.<key>
RULE_WORDS = {"a whole number": "whole", "at least 1": "at_least_1", "0 or more": "zero_or_more",
              "a number": "number", "a positive finite number": "positive",
              "a folder's name (. for the current folder)": "folder", "a file's name": "file",
              "a name": "name"}


def setting(name: str, t: Any = None) -> Callable[[str], Any]:
    """An argparse type for the setting `name`: settings.from_text, its error turned into
    argparse's, in t's language (a Messages; None: English)."""
    def parse(text: str):
        try:
            return settings.from_text(name, text)
        except settings.SettingError as e:
            said = (t("setting.must_be", rule=t(f"setting.{RULE_WORDS[e.rule]}"), value=e.shown)
                    if t is not None and e.rule in RULE_WORDS else str(e))
            raise argparse.ArgumentTypeError(said) from None
    return parse


# ---- the learner's language, argparse's own words included ----

# argparse's messages (Python 3.10-3.12) that a learner meets, and their catalogue keys; argparse
# looks each up through its module's gettext function `_`, which `argparse_in` replaces
ARGPARSE_WORDS = {
    "usage: ": "usage", "positional arguments": "positionals", "options": "options",
    "show this help message and exit": "help", "%(prog)s: error: %(message)s\n": "error",
    "argument %(argument_name)s: %(message)s": "argument",
    "unrecognized arguments: %s": "unrecognized",
    "the following arguments are required: %s": "required",
    "invalid choice: %(value)r (choose from %(choices)s)": "invalid_choice",
    "expected one argument": "expected_one",
    "ambiguous option: %(option)s could match %(matches)s": "ambiguous",
    "invalid %(type)s value: %(value)r": "invalid_value",
    "ignored explicit argument %r": "ignored",
}


@contextlib.contextmanager
def argparse_in(t: Any) -> Iterator[None]:
    """argparse speaks t's language while the parser is built and used (its words come from
    the catalogue's argparse.* keys; a message not listed stays as argparse says it)."""
    original = argparse._

    def translate(message: str) -> str:
        key = ARGPARSE_WORDS.get(message)
        return t(f"argparse.{key}") if key else original(message)

    argparse._ = translate
    try:
        yield
    finally:
        argparse._ = original


WIDE = "\u2e80-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef"  # CJK: two columns each


NO_BREAK_BEFORE = set("，。、：；）」』")  # a line does not start with these


def display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def wrap_by_width(text: str, width: int) -> list[str]:
    """text in lines of at most `width` terminal columns (argparse's textwrap counts characters,
    so Chinese lines came out twice too wide); a line may break between two CJK characters."""
    lines, line = [], ""
    for token in re.findall(rf"\s+|[{WIDE}]|[^\s{WIDE}]+", " ".join(text.split())):
        if token.isspace() and not line:
            continue
        if line.strip() and display_width(line + token) > width and token not in NO_BREAK_BEFORE:
            lines.append(line.rstrip())
            line = "" if token.isspace() else token
        else:
            line += token
    return lines + [line.rstrip()] if line.strip() else lines


class LearnerHelpFormatter(argparse.HelpFormatter):
    """argparse's help, wrapped by display width."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        return wrap_by_width(text, width)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return "\n".join(indent + line for line in wrap_by_width(text, width - len(indent)))


class LearnerParser(argparse.ArgumentParser):
    """An ArgumentParser whose help wraps by display width and whose Chinese section headings
    end in a full-width colon (argparse writes "heading:" itself)."""

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("formatter_class", LearnerHelpFormatter)
        super().__init__(*args, **kwargs)

    def format_help(self) -> str:
        return re.sub(rf"^(\S.*[{WIDE}]):$", "\\1：", super().format_help(), flags=re.M)


def requested_language(argv: list[str]) -> str:
    """The language of the command line's words, known before argparse runs: the last --lang
    (as argparse takes it), else $TINYGRAD_SM_LANG, else English; anything unknown is English
    (argparse, or main, then says what is wrong)."""
    from .i18n import languages, resolve

    lang = None
    for k, word in enumerate(argv):
        if word == "--lang" and k + 1 < len(argv):
            lang = argv[k + 1]
        elif word.startswith("--lang="):
            lang = word[len("--lang="):]
    if lang is not None and lang not in languages():
        return "en"
    try:
        return resolve(lang)
    except ValueError:
        return "en"


# ---- train ----

def add_train(sub: Any, t: Any) -> argparse.ArgumentParser:
    from .train import DATASETS, MODELS  # numpy and the engine load inside main

    about = t("cli.train")
    parser = sub.add_parser("train", help=about, description=about)

    def default(attr: str) -> str:
        return t("cli.train.list_sep").join(t("cli.train.default_for", value=getattr(spec, attr), data=name)
                         for name, spec in DATASETS.items())

    parser.add_argument("--data", choices=list(DATASETS), default="digits",
                        help=t("cli.train.data"))
    parser.add_argument("--model", choices=MODELS, default="softmax", help=t("cli.train.model"))
    parser.add_argument("--hidden", type=setting("hidden", t), metavar="H", default=256,
                        help=t("cli.train.hidden"))
    parser.add_argument("--data-dir", metavar="DIR", default=None, help=t("cli.train.data_dir"))
    parser.add_argument("--epochs", type=setting("epochs", t), metavar="N", default=None,
                        help=t("cli.train.epochs", defaults=default("epochs")))
    parser.add_argument("--lr", type=setting("lr", t), metavar="LR", default=None,
                        help=t("cli.train.lr", defaults=default("lr")))
    parser.add_argument("--batch-size", type=setting("batch_size", t), metavar="B", default=None,
                        help=t("cli.train.batch_size", defaults=default("batch_size")))
    parser.add_argument("--seed", type=setting("seed", t), metavar="S", default=0,
                        help=t("cli.train.seed"))
    parser.add_argument("--weight-decay", type=setting("weight_decay", t), metavar="λ", default=0.0,
                        help=t("cli.train.weight_decay"))
    parser.add_argument("--dropout", type=setting("dropout", t), metavar="P", default=0.0,
                        help=t("cli.train.dropout"))
    parser.add_argument("--out", type=setting("out", t), metavar="DIR", default="out",
                        help=t("cli.train.out"))
    return parser


def run_train(args: argparse.Namespace) -> int:
    from .train_command import train_command

    return train_command(data=args.data, data_dir=args.data_dir, epochs=args.epochs, lr=args.lr,
                         batch_size=args.batch_size, seed=args.seed, out=args.out,
                         model_name=args.model, hidden=args.hidden, lang=args.lang,
                         weight_decay=args.weight_decay, dropout=args.dropout)


# ---- step ----

def add_step(sub: Any, t: Any) -> argparse.ArgumentParser:
    about = t("cli.step")
    parser = sub.add_parser("step", help=about, description=about)
    parser.add_argument("--no-pause", action="store_true", help=t("cli.step.no_pause"))
    parser.add_argument("--html", type=setting("html", t), metavar="PATH",
                        help=t("cli.step.html"))
    parser.add_argument("--seed", type=setting("seed", t), metavar="S", default=0,
                        help=t("cli.step.seed"))
    parser.add_argument("--predict", action="store_true", help=t("cli.step.predict"))
    return parser


def run_step(args: argparse.Namespace) -> int:
    if args.predict:
        from .lesson import step_command
        return step_command(seed=args.seed, lang=args.lang)
    from . import stepper  # rich and the page renderer load only for this subcommand

    return stepper.step_command(seed=args.seed, pause=not args.no_pause, html=args.html,
                                lang=args.lang)


# ---- demo ----

def add_demo(sub: Any, t: Any) -> argparse.ArgumentParser:
    about = t("cli.demo")
    parser = sub.add_parser("demo", help=about, description=about)
    parser.add_argument("name", nargs="?", metavar="NAME", help=t("cli.demo.name"))
    parser.add_argument("--out", type=setting("out", t), metavar="DIR", default=None,
                        help=t("cli.demo.out"))
    parser.add_argument("--quick", action="store_true", help=t("cli.demo.quick"))
    return parser


def run_demo(args: argparse.Namespace) -> int:
    from .demo import demo_command

    return demo_command(args.name, out=args.out, quick=args.quick, lang=args.lang)


# ---- lesson ----

def add_lesson(sub: Any, t: Any) -> argparse.ArgumentParser:
    about = t("cli.lesson")
    parser = sub.add_parser("lesson", help=about, description=about)
    parser.add_argument("--seed", type=setting("seed", t), metavar="S", default=0,
                        help=t("cli.step.seed"))
    return parser


def run_lesson(args: argparse.Namespace) -> int:
    from .lesson import lesson_command
    return lesson_command(seed=args.seed, lang=args.lang)


# ---- exercise ----

def add_exercise(sub: Any, t: Any) -> argparse.ArgumentParser:
    about = t("cli.exercise")
    parser = sub.add_parser("exercise", help=about, description=about)
    parser.add_argument("action", choices=("start", "check"), help=t("cli.exercise.action"))
    parser.add_argument("dir", metavar="DIR", help=t("cli.exercise.dir"))
    parser.add_argument("--json", action="store_true", help=t("cli.exercise.json"))
    return parser


def run_exercise(args: argparse.Namespace) -> int:
    from .exercise_command import check_command, start_command

    if args.action == "start":
        return start_command(args.dir, lang=args.lang)
    return check_command(args.dir, json_only=args.json, lang=args.lang)


def add_lang(parser: argparse.ArgumentParser, t: Any) -> argparse.ArgumentParser:
    from .i18n import ENV, languages

    parser.add_argument("--lang", choices=languages(), default=None, help=t("cli.lang", env=ENV))
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
            from .i18n import messages, resolve

            words = messages(requested_language(sys.argv[1:] if argv is None else argv))
            with argparse_in(words):  # --help and argparse's errors in the learner's language
                parser = LearnerParser(prog="tinygrad-sm",
                                                 description=words("cli.description"))
                sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
                for add, run in SUBCOMMANDS.values():
                    add_lang(add(sub, words), words).set_defaults(run=run)
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
