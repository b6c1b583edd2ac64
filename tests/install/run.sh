#!/usr/bin/env bash
# The installed package, used from outside the tree:
#   1. cmake --install BUILD --prefix TMP
#   2. consumer.c through pkg-config (shared, run with LD_LIBRARY_PATH), and through
#      pkg-config --static against libsynthpix.a (the binary must not need libsynthpix.so)
#   3. consumer.c through find_package(synthpix) (tests/install/CMakeLists.txt), shared and static
#   4. the installed synthpix command runs (its RPATH finds the library)
#
#   run.sh BUILD ROOT LIBDIR [CFLAGS]   LIBDIR: CMAKE_INSTALL_LIBDIR; CFLAGS: extra compiler
#                                       and linker flags (the sanitizers of a sanitized build)
set -eu
build=$1
root=$2
libdir=$3
extra=${4:-}
cc=${CC:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
step() { echo "--- $*"; }

step "install into $prefix"
cmake --install "$build" --prefix "$prefix" > "$tmp/install.log" || { cat "$tmp/install.log"; exit 1; }
for f in include/sp/sp.h include/sp/sp_api.h "$libdir/libsynthpix.a" "$libdir/pkgconfig/synthpix.pc" \
         "$libdir/cmake/synthpix/synthpixConfig.cmake" "$libdir/cmake/synthpix/synthpixConfigVersion.cmake" bin/synthpix; do
    [ -e "$prefix/$f" ] || { echo "not installed: $f"; exit 1; }
done
ls "$prefix/$libdir"/libsynthpix.so.* > /dev/null

export PKG_CONFIG_PATH=$prefix/$libdir/pkgconfig
step "pkg-config: $(pkg-config --modversion synthpix), $(pkg-config --cflags --libs synthpix)"
# shellcheck disable=SC2046,SC2086
$cc -std=c11 -Wall -Wextra -Werror $extra -o "$tmp/consumer_pc" "$root/tests/install/consumer.c" \
    $(pkg-config --cflags --libs synthpix)
LD_LIBRARY_PATH=$prefix/$libdir "$tmp/consumer_pc"

step "pkg-config --static: $(pkg-config --static --libs synthpix)"
# -l:libsynthpix.a picks the archive where -lsynthpix would pick the shared library.
static_libs=$(pkg-config --static --libs synthpix | sed 's/-lsynthpix\b/-l:libsynthpix.a/')
# shellcheck disable=SC2086
$cc -std=c11 -Wall -Wextra -Werror $extra -o "$tmp/consumer_static" "$root/tests/install/consumer.c" \
    $(pkg-config --cflags synthpix) $static_libs
if readelf -d "$tmp/consumer_static" | grep -q 'libsynthpix\.so'; then
    echo "not ok: the static consumer needs libsynthpix.so"; exit 1
fi
"$tmp/consumer_static"

step "find_package(synthpix) with CMAKE_PREFIX_PATH=$prefix"
cmake -S "$root/tests/install" -B "$tmp/cmake" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_FLAGS="$extra" > "$tmp/cmake.log" 2>&1 || { cat "$tmp/cmake.log"; exit 1; }
grep 'synthpix .* from' "$tmp/cmake.log"
cmake --build "$tmp/cmake" > "$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; exit 1; }
"$tmp/cmake/consumer"
if readelf -d "$tmp/cmake/consumer_static" | grep -q 'libsynthpix\.so'; then
    echo "not ok: synthpix::synthpix_static links libsynthpix.so"; exit 1
fi
"$tmp/cmake/consumer_static"

step "the installed command"
env -u LD_LIBRARY_PATH "$prefix/bin/synthpix" --version
echo "install: headers, libraries, pkg-config, CMake package and command all work from $prefix"
