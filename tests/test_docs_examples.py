"""The documentation's examples run (issue #27): every code block marked runnable, as a user would run it.

A block is marked by an HTML comment on the line before its fence (invisible on the site)::

    <!-- runnable -->                                     a complete test file: every test passes
    <!-- runnable: airflow>=3.4 -->                       skips on an earlier Airflow (the run itself)
    <!-- runnable: copy example_dags/x.py dags/x.py -->   a repository file beside the test first
    <!-- runnable: args --xcom-snapshot-update; rerun --> pytest arguments; rerun: again without them

Directives are separated by ``;``. Each block becomes a test module in a ``pytester`` directory and
runs through pytest there, with no conftest: the page's imports, fixtures and plugin registration
are what a user gets from an installed pytest-xcom.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
MARK = re.compile(r"^<!-- runnable(?::(?P<directives>.*?))? -->\n```python\n(?P<code>.*?)^```$", re.M | re.S)
AIRFLOW = Version(version("apache-airflow"))


@dataclass
class Example:
    page: str
    line: int
    code: str
    min_airflow: Version | None = None
    copies: list[tuple[str, str]] = field(default_factory=list)
    args: list[str] = field(default_factory=list)
    rerun: bool = False

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


def examples() -> list[Example]:
    found = []
    for page in sorted(DOCS.rglob("*.md")):
        text = page.read_text(encoding="utf-8")
        for match in MARK.finditer(text):
            example = Example(
                str(page.relative_to(DOCS)), text.count("\n", 0, match.start()) + 1, match.group("code")
            )
            for directive in filter(None, (d.strip() for d in (match.group("directives") or "").split(";"))):
                word, _, rest = directive.partition(" ")
                if directive.startswith("airflow>="):
                    example.min_airflow = Version(directive.removeprefix("airflow>="))
                elif word == "copy":
                    source, dest = rest.split()
                    example.copies.append((source, dest))
                elif word == "args":
                    example.args = rest.split()
                elif word == "rerun":
                    example.rerun = True
                else:
                    raise ValueError(f"docs/{example.id}: unknown runnable directive {directive!r}")
            found.append(example)
    return found


EXAMPLES = examples()


def test_the_tutorial_and_guides_have_runnable_examples():
    pages = {example.page for example in EXAMPLES}
    assert {"tutorial/first-test.md", "tutorial/backend.md", "tutorial/snapshot.md", "tutorial/partial-run.md"} <= pages
    assert "how-to/task-loops.md" in pages


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.id for e in EXAMPLES])
def test_the_example_runs_as_written(example: Example, pytester: pytest.Pytester):
    if example.min_airflow and AIRFLOW.release < example.min_airflow.release:
        pytest.skip(f"docs/{example.id} needs Airflow {example.min_airflow}+ (this is {AIRFLOW})")
    for source, dest in example.copies:
        target = pytester.path / dest
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / source, target)
    test_file = pytester.makepyfile(**{"test_" + re.sub(r"\W", "_", example.id.removesuffix(".md")): example.code})
    tests = len(re.findall(r"^def test_", example.code, flags=re.M))
    assert tests, f"docs/{example.id} is marked runnable but defines no test"
    base = ["-p", "no:randomly", "-p", "no:cacheprovider", str(test_file)]
    result = pytester.runpytest(*base, *example.args)
    result.assert_outcomes(passed=tests)
    if example.rerun:
        result = pytester.runpytest(*base)
        result.assert_outcomes(passed=tests)
