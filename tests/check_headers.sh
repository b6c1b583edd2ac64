#!/usr/bin/env bash
# Every public header compiles on its own, as C11 and as C++ (CONTRIBUTING.md, Public headers).
set -u
root=$1
fail=0
n=0
for h in "$root"/include/sp/*.h; do
    name=$(basename "$h")
    n=$((n + 1))
    if ! printf '#include "sp/%s"\n' "$name" | gcc -std=c11 -Wall -Wextra -Wpedantic -Werror -fsyntax-only -I"$root/include" -x c - 2>/tmp/sp-hdr.$$; then
        echo "not ok: $name does not compile alone as C11"; cat /tmp/sp-hdr.$$; fail=$((fail + 1))
    fi
    if ! printf '#include "sp/%s"\n' "$name" | g++ -std=c++11 -Wall -Wextra -Werror -fsyntax-only -I"$root/include" -x c++ - 2>/tmp/sp-hdr.$$; then
        echo "not ok: $name does not compile as C++"; cat /tmp/sp-hdr.$$; fail=$((fail + 1))
    fi
done
rm -f /tmp/sp-hdr.$$
echo "$((2 * n - fail)) passed, $fail failed"
[ "$fail" -eq 0 ]
