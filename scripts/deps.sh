#!/usr/bin/env bash
# The Debian 12 packages synthpix needs to build and test, in one place.
#   deps.sh check    exit 1 (printing the install line) when a build package is missing
#   deps.sh install  install what is missing (as root with apt-get; otherwise print the line and fail)
set -euo pipefail
BUILD_PKGS="build-essential cmake pkg-config libyaml-dev libpng-dev libtiff-dev libjansson-dev zlib1g-dev libhdf5-dev libmatio-dev"
TEST_PKGS="python3 python3-numpy python3-zarr python3-h5py python3-scipy"

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
    fi ;;
install|install-test)
    pkgs="$BUILD_PKGS"
    [ "$1" = install-test ] && pkgs="$pkgs $TEST_PKGS"
    m=$(missing $pkgs)
    [ -z "$m" ] && exit 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "synthpix: missing Debian packages:$m" >&2
        echo "run as root:  apt-get update && apt-get install -y$m" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq $m ;;
*)
    echo "usage: deps.sh check|install|install-test" >&2; exit 2 ;;
esac
