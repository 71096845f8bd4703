#!/usr/bin/env bash
# The documentation site (issue #27): mkdocs build --strict, from the docs extra, so a warning, a
# broken link or anchor, or a reference page whose generator finds nothing fails CI.
#   usage: .ci/docs_check.sh [VENV]   (default .venv, which gets the docs extra installed)
set -euo pipefail
export NO_MKDOCS_2_WARNING=1  # mkdocs-material's notice about its successor, printed on every build
cd "$(dirname "$0")/.."
venv=${1:-.venv}
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q -e ".[docs]" -c constraints/airflow-3.3.txt
site=$(mktemp -d "${TMPDIR:-/tmp}/pytest-xcom-site-XXXXXX")
trap 'rm -rf "$site"' EXIT
"$venv/bin/mkdocs" build --strict --site-dir "$site"
echo "docs check: the site builds in strict mode ($(find "$site" -name index.html | wc -l) pages)"
