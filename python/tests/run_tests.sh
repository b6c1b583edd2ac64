#!/usr/bin/env bash
# ctest entry of the Python package: its pytest suite against the package this build made
# in BUILD/python (cmake/python.cmake). Usage: run_tests.sh BUILD SOURCE PYTHON [pytest args].
# Exit 77 (ctest: skipped) when the interpreter lacks numpy or pytest, or when every selected
# test was skipped; a test that needs something optional (torch, the CLI, two free cores) is
# skipped inside pytest and listed in the output (-rs).
set -u
build=$1 src=$2 py=$3
shift 3
if ! "$py" -c "import numpy, pytest" 2>/dev/null; then
    echo "SKIP: $py cannot import numpy and pytest (Debian: python3-numpy python3-pytest; make deps-test)"
    exit 77
fi
if [ ! -f "$build/python/synthpix/__init__.py" ]; then
    echo "the package is not built in $build/python (cmake --build $build)" >&2
    exit 1
fi
cd "$src" || exit 1
export PYTHONPATH="$build/python" PYTHONDONTWRITEBYTECODE=1 SP_CLI="$build/synthpix" \
    SP_RESUME_TOOL="$build/sp_python_resume_tool" SP_PYTEST_ALL_SKIPPED_EXIT=77
exec "$py" -m pytest -q -rs -p no:cacheprovider python/tests "$@"
