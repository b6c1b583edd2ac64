#!/usr/bin/env bash
# Module boundaries (docs/ARCHITECTURE.md): a file of src/<module>/ may include only public
# headers ("sp/..."), headers of its own folder and those of src/internal/; src/internal/
# only public headers and its own; cli/ only public headers and its own. Any other quoted
# include (another module's private header) fails.
#
#   check_includes.sh ROOT          check the tree at ROOT
#   check_includes.sh --self-test   plant a cross-module include in a scratch tree and check
#                                   that the check fails on it (and passes without it)
set -u

check() {
    local root=$1 bad=0 f dir inc
    while IFS= read -r f; do
        dir=$(dirname "$f")
        while IFS= read -r inc; do
            case "$inc" in
            sp/*) [ -f "$root/include/$inc" ] && continue ;;
            */*) ;;
            *)
                [ -f "$dir/$inc" ] && continue
                case "$dir" in "$root"/src/*) [ -f "$root/src/internal/$inc" ] && continue ;; esac
                ;;
            esac
            echo "not ok: ${f#$root/} includes \"$inc\", which is not a public header, its own folder's or src/internal/'s"
            bad=$((bad + 1))
        done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
    done < <(find "$root/src" "$root/cli" -name '*.[ch]' 2>/dev/null | sort)
    return "$bad"
}

if [ "${1:-}" = "--self-test" ]; then
    t=$(mktemp -d)
    trap 'rm -rf "$t"' EXIT
    mkdir -p "$t/include/sp" "$t/src/a" "$t/src/b" "$t/src/internal" "$t/cli"
    : > "$t/include/sp/sp_a.h"; : > "$t/src/b/b_private.h"; : > "$t/src/internal/sp_shared.h"
    printf '#include "sp/sp_a.h"\n#include "sp_shared.h"\n' > "$t/src/a/a.c"
    check "$t" > /dev/null || { echo "self-test: a clean tree failed the check"; exit 1; }
    printf '#include "b_private.h"\n' >> "$t/src/a/a.c"
    if check "$t" > /dev/null; then echo "self-test: a cross-module include passed"; exit 1; fi
    printf '#include "sp_shared.h"\n' > "$t/cli/main.c"
    sed -i '$d' "$t/src/a/a.c"
    if check "$t" > /dev/null; then echo "self-test: cli/ including a private header passed"; exit 1; fi
    echo "self-test: the check fails on a planted cross-module include"
    exit 0
fi

check "$1"
n=$?
[ "$n" -eq 0 ] && echo "include check: every include respects the module boundaries"
exit "$n"
