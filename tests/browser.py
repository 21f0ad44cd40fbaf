"""Headless Chromium for the tests: one place for its path, its flags and the skip marker."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install chromium; .ci/run installs it)")
# without the background-networking flags Chromium keeps trying hosts this closed network refuses
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium(*args: str, tmp_path: Path, size: str = "1400,900", env: dict | None = None
             ) -> subprocess.CompletedProcess:
    """Run Chromium with a fresh profile under tmp_path; a --window-size in args wins over size."""
    window = [] if any(a.startswith("--window-size") for a in args) else [f"--window-size={size}"]
    return subprocess.run([CHROMIUM, *FLAGS, *window, f"--user-data-dir={tmp_path / 'profile'}", *args],
                          capture_output=True, timeout=120, env=env)
