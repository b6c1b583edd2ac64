#!/usr/bin/env bash
# ctest entry `python_install`: the README's install, offline, into a fresh virtual
# environment that sees Debian's numpy, then the package used from outside the tree:
#   python3 -m venv --system-site-packages VENV
#   VENV/bin/pip install --no-build-isolation --no-index SOURCE
# SYNTHPIX_BUILD_DIR=BUILD makes setup.py link this build's libsynthpix.a instead of
# configuring a private CMake build (which a plain install does; same sources, same flags).
# Usage: install_venv.sh BUILD SOURCE PYTHON. Exit 77 (skipped) without venv/ensurepip.
set -eu
build=$1 src=$2 py=$3
if ! "$py" -c "import ensurepip, venv" 2>/dev/null; then
    echo "SKIP: $py has no venv/ensurepip (Debian: python3-venv)"
    exit 77
fi
tmp=$(mktemp -d /tmp/synthpix-venv.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
"$py" -m venv --system-site-packages "$tmp/venv"
# A copy of what the build reads with SYNTHPIX_BUILD_DIR set (pip builds in the tree it is
# given: this keeps build-python/ and the egg-info out of the source tree).
mkdir "$tmp/src"
cp -r "$src/setup.py" "$src/pyproject.toml" "$src/README.md" "$src/include" "$src/python" "$tmp/src/"
SYNTHPIX_BUILD_DIR="$build" PIP_DISABLE_PIP_VERSION_CHECK=1 \
    "$tmp/venv/bin/pip" install -q --no-build-isolation --no-index "$tmp/src"
cd "$tmp"
"$tmp/venv/bin/python" - <<'PY'
import os, synthpix
assert "/venv/" in synthpix.__file__, synthpix.__file__
b = next(synthpix.make())
assert b.images1.shape == (8, 256, 256), b.images1.shape
synthpix.Checkpointer().save("c", {"x": b.images1[0]})
assert (synthpix.Checkpointer().restore("c")["x"] == b.images1[0]).all()
print("installed", synthpix.__version__, "at", os.path.dirname(synthpix.__file__))
PY
