"""HTML escaping shared by the SVG and the page."""

from __future__ import annotations

from html import escape
from typing import Any


def e(value: Any) -> str:
    return escape(str(value), quote=True)
