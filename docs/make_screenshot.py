"""Regenerate docs/xcom-report.png: the HTML report of a hand-built example run, shot by Chromium.

Usage: python docs/make_screenshot.py [WIDTH,HEIGHT]   (needs Debian's `chromium` on PATH)
The run is ``realistic_run()`` from tests/test_html_report.py, the one the browser test renders.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent / "tests"))

from pytest_xcom.reporting.html import render_html  # noqa: E402

from test_html_report import chromium, realistic_run, screenshot  # noqa: E402


def main() -> None:
    binary = chromium()
    if binary is None:
        sys.exit("no chromium binary on PATH (apt-get install -y chromium)")
    size = sys.argv[1] if len(sys.argv) > 1 else "1400,1000"
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "xcom-report.html"
        report = render_html([("tests/test_orders.py::test_daily", realistic_run())])
        page.write_text(report, encoding="utf-8")
        screenshot(binary, page, DOCS / "xcom-report.png", Path(tmp) / "profile", size=size)
    print(f"wrote {DOCS / 'xcom-report.png'}")


if __name__ == "__main__":
    main()
