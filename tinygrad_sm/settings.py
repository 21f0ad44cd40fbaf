"""Every setting a command takes, and its rule, in one place.

The command line (cli's argparse types: a bad value exits 2) and the library functions behind
it (`train_command`, `step_command`, `demo_command`: a ValueError) both ask `problem()`, so a
rule is written once and says the same thing everywhere. Standard library only (cli imports it
before anything else).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Setting:
    convert: Callable[[str], Any]   # from the command line's text
    kind: type | tuple[type, ...]   # what a library caller must pass …
    expected: str                   # … in words
    ok: Callable[[Any], bool]       # the rule …
    requirement: str                # … in words


def _whole(least: int, requirement: str) -> Setting:
    return Setting(int, int, "a whole number", lambda v: v >= least, requirement)


def _name(requirement: str) -> Setting:
    # an empty name (an unset shell variable) must not quietly mean the current folder
    return Setting(str, object, "a name", lambda v: v not in ("", b""), requirement)


SETTINGS = {
    "epochs": _whole(1, "at least 1"),
    "batch_size": _whole(1, "at least 1"),
    "hidden": _whole(1, "at least 1"),
    "seed": _whole(0, "0 or more"),  # numpy's seeds
    "lr": Setting(float, (int, float), "a number", lambda v: math.isfinite(v) and v > 0,
                  "a positive finite number"),
    "weight_decay": Setting(float, (int, float), "a number", lambda v: math.isfinite(v) and v >= 0,
                            "0 or more (and finite)"),
    "dropout": Setting(float, (int, float), "a number", lambda v: 0 <= v < 1,
                       "at least 0 and less than 1"),
    "out": _name("a folder's name (. for the current folder)"),
    "html": _name("a file's name"),
}


class SettingError(ValueError):
    """"must be …, got …" from the command line's text; `rule` and `shown` are its parts, so a
    command can say it in the learner's language."""

    def __init__(self, rule: str, shown: str):
        super().__init__(f"must be {rule}, got {shown}")
        self.rule, self.shown = rule, shown


def broken_rule(name: str, value: Any) -> str | None:
    """"a whole number" or "at least 1" when value breaks that rule of the setting `name`."""
    rule = SETTINGS[name]
    if not isinstance(value, rule.kind) or isinstance(value, bool):
        return rule.expected
    return None if rule.ok(value) else rule.requirement


def problem(name: str, value: Any) -> str | None:
    """"must be a whole number" or "must be at least 1" when value breaks the rules of the
    setting `name`, else None."""
    rule = broken_rule(name, value)
    return None if rule is None else f"must be {rule}"


def check(name: str, value: Any, caller: str) -> Any:
    """value, or a ValueError naming the caller, the setting, its rule and the value."""
    wrong = problem(name, value)
    if wrong:
        raise ValueError(f"{caller}: {name} {wrong}, got {value!r}")
    return value


def from_text(name: str, text: str) -> Any:
    """The setting's value from the command line's text; SettingError("must be …, got …")."""
    try:
        value, shown = SETTINGS[name].convert(text), text or repr(text)
    except ValueError:
        value, shown = text, repr(text)  # a word where a number belongs: quoted
    rule = broken_rule(name, value)
    if rule is not None:
        raise SettingError(rule, shown)
    return value
