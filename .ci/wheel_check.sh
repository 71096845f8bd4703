#!/usr/bin/env bash
# The package as users get it (issue #27): build the sdist and wheel, check their metadata, install
# the WHEEL (not editable) with [all] into a fresh virtualenv, and run the example suite from a copy
# outside the source tree, so a module or data file missing from the wheel fails here.
#   usage: .ci/wheel_check.sh [AIRFLOW_RELEASE]   (default 3.3: constraints/airflow-3.3.txt)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
release=${1:-3.3}
constraints="$repo/constraints/airflow-$release.txt"
pre=()
[ "$release" = "3.4" ] && pre=(--pre "apache-airflow>=3.4.0b1,<3.5")  # a pre-release until 3.4.0 is served

work=$(mktemp -d "${TMPDIR:-/tmp}/pytest-xcom-wheel-XXXXXX")
trap 'rm -rf "$work"' EXIT

# 1. build and check: build and twine pinned by the constraints (the "release" extra's versions)
python3 -m venv "$work/tools"
"$work/tools/bin/pip" install -q build twine -c "$constraints"
"$work/tools/bin/python" -m build --outdir "$work/dist" "$repo"
"$work/tools/bin/twine" check --strict "$work"/dist/*

# 2. what the wheel holds: every module and data file of the source tree (tests/test_packaging.py)
wheel=$(ls "$work"/dist/pytest_xcom-*.whl)
"$work/tools/bin/python" "$repo/tests/test_packaging.py" "$wheel"

# 3. install the wheel itself, with [all], into a fresh virtualenv
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q "${pre[@]}" "${wheel}[all]" -c "$constraints"

# 4. the example suite from a copy outside the source tree, run from there
mkdir "$work/project"
cp -r "$repo/example_dags" "$work/project/example_dags"
find "$work/project" -name __pycache__ -prune -exec rm -rf {} +
# the settings pyproject.toml gives the examples in the repository: the example backends import
# as xcom_backends.* (a user's project says the same in its own pytest configuration)
cat > "$work/project/pytest.ini" <<'INI'
[pytest]
pythonpath = example_dags
filterwarnings = ignore::DeprecationWarning
INI
cd "$work/project"
where=$("$work/venv/bin/python" -c "import pytest_xcom; print(pytest_xcom.__file__)")
case "$where" in
    "$work/venv/"*) echo "wheel check: pytest_xcom imported from $where" ;;
    *) echo "wheel check: pytest_xcom imported from $where, not from the installed wheel"; exit 1 ;;
esac
"$work/venv/bin/pytest-xcom" --help >/dev/null
"$work/venv/bin/pytest" "$work/project/example_dags" -p no:randomly -p no:cacheprovider \
    --xcom-report "$work/project/report.html"
if [ ! -s "$work/project/report.html" ]; then
    echo "wheel check: the example suite did not write its HTML report"; exit 1
fi
grep -q "large_values" "$work/project/report.html" \
    || { echo "wheel check: the HTML report does not show the example DAGs' runs"; exit 1; }
echo "wheel check: $(basename "$wheel") installed on its own runs the example suite and writes the report"
