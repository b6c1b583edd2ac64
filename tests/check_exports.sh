#!/usr/bin/env bash
# The shared library's exported interface (CONTRIBUTING.md, Public headers): libsynthpix.so
# is linked from objects compiled with -fvisibility=hidden, so it must export exactly the
# functions the public headers mark SP_API.
#
#   check_exports.sh LIB ROOT   LIB: the built libsynthpix.so; ROOT: the repository root
#
# Fails when nm -D --defined-only shows a symbol that does not start with "sp_" (or an
# internal "sp__" one), when a function declared in include/sp/*.h (experimental ones
# included) is not exported (a declaration without SP_API), or when the SONAME is not
# libsynthpix.so.<major>. The declared functions come from gcc -aux-info, which lists every
# prototype of a translation unit with its file; static inline functions are skipped.
set -u
lib=$1
root=$2
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

nm -D --defined-only "$lib" | awk 'NF >= 3 {print $3}' | sort -u > "$tmp/exported"
n=$(wc -l < "$tmp/exported")
if [ "$n" -eq 0 ]; then
    echo "not ok: $lib exports nothing"
    exit 1
fi
bad=$(grep -v '^sp_[a-z0-9]' "$tmp/exported" || true)
if [ -n "$bad" ]; then
    echo "not ok: $lib exports symbols outside the sp_ API (a module compiled without hidden visibility?):"
    echo "$bad" | sed 's/^/    /' | head -40
    fail=1
fi

# Every public function, experimental or not, must be exported.
{
    for h in "$root"/include/sp/*.h; do printf '#include "sp/%s"\n' "$(basename "$h")"; done
} > "$tmp/all.c"
if gcc -std=c11 -DSP_EXPERIMENTAL_API=1 -I"$root/include" -fsyntax-only -aux-info "$tmp/aux" "$tmp/all.c" 2> "$tmp/err"; then
    grep -F "$root/include/sp/" "$tmp/aux" | grep ' extern ' |
        sed -E 's/^.*[ *](sp_[A-Za-z0-9_]+) \(.*$/\1/' | sort -u > "$tmp/declared"
    missing=$(comm -23 "$tmp/declared" "$tmp/exported")
    if [ -n "$missing" ]; then
        echo "not ok: declared in include/sp/ but not exported (missing SP_API?):"
        echo "$missing" | sed 's/^/    /'
        fail=1
    fi
    nd=$(wc -l < "$tmp/declared")
else
    echo "not ok: the public headers do not compile"; cat "$tmp/err"; fail=1; nd=0
fi

major=$(sed -n 's/^#define SP_VERSION_MAJOR \([0-9]*\).*/\1/p' "$root/include/sp/sp_api.h")
soname=$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
if [ "$soname" != "libsynthpix.so.$major" ]; then
    echo "not ok: SONAME is '$soname', want libsynthpix.so.$major"
    fail=1
fi

[ "$fail" -eq 0 ] && echo "exports: $n symbols, all sp_*; all $nd declared public functions exported; SONAME $soname"
exit "$fail"
