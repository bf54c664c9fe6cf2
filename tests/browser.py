"""Open a page in headless Chromium and read back its DOM and JavaScript errors."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path


def dump_dom(chromium: str, page: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    """The DOM after the page's scripts ran (stdout), with the browser's log (stderr)."""
    command = [
        chromium,
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--enable-logging=stderr",
        "--v=0",
        "--dump-dom",
        Path(page).resolve().as_uri(),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=180)


def js_errors(stderr: str) -> list[str]:
    """Uncaught exceptions and console errors in Chromium's log."""
    return [
        line
        for line in stderr.splitlines()
        if "Uncaught" in line or (re.search(r"CONSOLE[(:]", line) and "rror" in line)
    ]


def script_finished(dom: str) -> bool:
    """The report's inline script sets data-ready on <body> as its last statement."""
    return re.search(r'<body[^>]*data-ready="1"', dom) is not None
