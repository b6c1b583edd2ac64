#!/usr/bin/env bash
# The Debian 12 packages synthpix needs to build and test, in one place.
#   deps.sh check    exit 1 (printing the install line) when a build package is missing; a
#                    missing optional package only prints what the build will leave out
#   deps.sh install  install what is missing, optional packages included (as root with
#                    apt-get; otherwise print the line and fail)
#   deps.sh install-test  the same plus what the tests and the Python package need
# build-essential brings the compiler, nm and readelf; pkg-config is needed by the build and
# by the test that uses the installed package from outside the tree.
set -euo pipefail
BUILD_PKGS="build-essential cmake pkg-config libyaml-dev libdeflate-dev libpng-dev libtiff-dev libjansson-dev zlib1g-dev"
# libpng-dev: only the tests (an independent PNG reader for our PNG files).
# Optional (CMake SP_WITH_MATIO / SP_WITH_HDF5 / SP_WITH_MPI / SP_WITH_CAIRO, AUTO by default):
# .mat and .h5 files; Open MPI for synthpix-mpi (one dataset written by many processes);
# libcairo for `synthpix preview`.
OPTIONAL_PKGS="libhdf5-dev libmatio-dev libopenmpi-dev openmpi-bin libcairo2-dev"
TEST_PKGS="python3 python3-numpy python3-zarr python3-h5py python3-scipy python3-pil"
# The Python package (built with the library when these are present; docs/python.md) and its
# tests. torch is optional (python3-torch): its tests are skipped without it.
PY_PKGS="python3-dev python3-setuptools python3-wheel python3-venv python3-pip python3-pytest"

missing() {
    local out="" p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || out="$out $p"
    done
    echo "$out"
}

case "${1:-check}" in
check)
    m=$(missing $BUILD_PKGS)
    if [ -n "$m" ]; then
        echo "synthpix: missing Debian packages:$m" >&2
        echo "install them with:  sudo apt-get update && sudo apt-get install -y$m   (or: make deps)" >&2
        exit 1
    fi
    m=$(missing $OPTIONAL_PKGS)
    if [ -n "$m" ]; then
        echo "synthpix: optional packages missing:$m; the build leaves out what needs them" >&2
        echo "(libmatio-dev: .mat files; libhdf5-dev: .h5 files and --format h5; libopenmpi-dev and" >&2
        echo " openmpi-bin: synthpix-mpi; libcairo2-dev: synthpix preview)" >&2
    fi ;;
install|install-test)
    pkgs="$BUILD_PKGS $OPTIONAL_PKGS"
    [ "$1" = install-test ] && pkgs="$pkgs $TEST_PKGS $PY_PKGS"
    m=$(missing $pkgs)
    [ -z "$m" ] && exit 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "synthpix: missing Debian packages:$m" >&2
        echo "run as root:  apt-get update && apt-get install -y$m" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    log=$(mktemp /tmp/synthpix-apt.XXXXXX)
    echo "synthpix: installing Debian packages:$m (log: $log)"
    if ! { apt-get update -qq && apt-get install -y -qq $m; } > "$log" 2>&1; then
        tail -n 20 "$log" >&2
        echo "synthpix: apt-get failed; the whole log is $log" >&2
        exit 1
    fi ;;
*)
    echo "usage: deps.sh check|install|install-test" >&2; exit 2 ;;
esac
