"""mkdocs hooks: the reference pages that must match the code are generated from it at build time.

- ``<!-- generated: options -->``: every command-line option of the plugin with its ini twin, from
  ``pytest_xcom.plugin.pytest_addoption`` run against a real pytest ``Parser``;
- ``<!-- generated: markers -->``: the markers the plugin registers (``config.addinivalue_line``
  calls in ``pytest_xcom/plugin.py``, read without running them);
- ``<!-- generated: api -->``: one mkdocstrings entry per name of ``pytest_xcom.__all__``;
- ``<!-- generated: cli -->``: ``pytest-xcom --help`` and each subcommand's, from ``pytest_xcom.cli``;
- ``index.md``: README.md, the front page, with its links into ``docs/`` made relative;
- ``development/changelog.md``: CHANGELOG.md at the repository root, as a page of the site.

A new option, marker or subcommand appears in the docs with no edit here; a placeholder whose
generator finds nothing fails the (strict) build.
"""

from __future__ import annotations

import argparse
import ast
import os
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def options_table() -> str:
    from _pytest.config.argparsing import Parser
    from pytest_xcom import plugin

    parser = Parser(_ispytest=True)
    plugin.pytest_addoption(parser)
    group = parser.getgroup("xcom")
    inis: dict[str, tuple[Any, ...]] = dict(parser._inidict)
    rows = ["| option | ini | what it does |", "|---|---|---|"]
    for opt in group.options:
        attrs = opt.attrs()
        names = ", ".join(f"`{n}`" for n in opt.names())
        metavar = attrs.get("metavar")
        shown = f"{names} `{metavar}`" if metavar else names
        ini = attrs.get("dest")
        help_text = str(attrs.get("help", "")).removesuffix(f" (ini: {ini})")
        twin = f"`{ini}`" if ini in inis else "(none)"
        inis.pop(ini, None)
        rows.append(f"| {shown} | {twin} | {_cell(help_text)} |")
    if len(rows) == 2:
        raise RuntimeError("pytest_xcom.plugin.pytest_addoption defined no options")
    if inis:  # an ini setting with no command-line twin: listed too, so none goes missing
        for name, (help_text, *_rest) in inis.items():
            rows.append(f"| (none) | `{name}` | {_cell(help_text)} |")
    return "\n".join(rows)


def markers_table() -> str:
    source = (ROOT / "pytest_xcom" / "plugin.py").read_text(encoding="utf-8")
    rows = ["| marker | what it does |", "|---|---|"]
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "addinivalue_line"
            and len(node.args) == 2
            and isinstance(node.args[0], ast.Constant)
            and node.args[0].value == "markers"
            and isinstance(node.args[1], ast.Constant)
        ):
            signature, _, text = str(node.args[1].value).partition(": ")
            rows.append(f"| `@pytest.mark.{signature}` | {_cell(text)} |")
    if len(rows) == 2:
        raise RuntimeError("no markers found in pytest_xcom/plugin.py")
    return "\n".join(rows)


def cli_help() -> str:
    from pytest_xcom.cli import _parser

    os.environ["COLUMNS"] = "100"  # argparse wraps at the terminal's width: the same on every machine
    os.environ["NO_COLOR"] = "1"
    parser = _parser()
    parts = [f"```text\n$ pytest-xcom --help\n{parser.format_help()}```"]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                shown = f"```text\n$ pytest-xcom {name} --help\n{sub.format_help()}```"
                parts.append(f"### `pytest-xcom {name}`\n\n{shown}")
    return "\n\n".join(parts)


def api_reference() -> str:
    import pytest_xcom

    # the fixture classes are exported lazily (pytest_xcom._LAZY): document them where they live
    lazy: dict[str, str] = getattr(pytest_xcom, "_LAZY", {})
    parts = []
    for name in sorted(pytest_xcom.__all__, key=lambda n: (n.startswith("_"), n.lower())):
        target = f"{lazy[name]}.{name}" if name in lazy else f"pytest_xcom.{name}"
        parts.append(f"::: {target}")
    if not parts:
        raise RuntimeError("pytest_xcom.__all__ is empty")
    return "\n\n".join(parts)


GENERATORS = {"options": options_table, "markers": markers_table, "cli": cli_help, "api": api_reference}


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    for name, generate in GENERATORS.items():
        placeholder = f"<!-- generated: {name} -->"
        if placeholder in markdown:
            markdown = markdown.replace(placeholder, generate())
    return markdown


def front_page() -> str:
    """README.md as the site's home page: its links into docs/ made relative to docs/."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    readme = readme.replace("](docs/", "](").replace("](CHANGELOG.md)", "](development/changelog.md)")
    return readme


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    files.append(File.generated(config, "index.md", content=front_page()))
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    files.append(File.generated(config, "development/changelog.md", content=changelog))
    return files
