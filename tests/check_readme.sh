#!/usr/bin/env bash
# The README's tour runs as written: every block after a "<!-- readme-tour: sh -->" marker
# is run line by line, top to bottom, in a scratch directory whose build/ is the build tree;
# every block after "<!-- readme-tour: c -->" is compiled against the built library and run.
# With a third argument, python, only the "<!-- readme-tour: py -->" blocks run instead, as one
# script, with the package this build made (build/python) and the default configuration as
# my.yaml (exit 77 when the build has no package).
#
#   check_readme.sh SOURCE_DIR BUILD_DIR [python [INTERPRETER]]
set -euo pipefail
src=$1
build=$(cd "$2" && pwd)
mode=${3:-}
py=${4:-/usr/bin/python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ln -s "$build" "$work/build"

# Prints the body of each fenced block that follows a marker of the given kind.
blocks() {
    awk -v kind="$1" '
        $0 ~ "<!-- readme-tour: " kind " -->" { armed = 1; next }
        armed && /^```/ && !inside { inside = 1; next }
        inside && /^```/ { inside = 0; armed = 0; print "#--- end of block"; next }
        inside { print }
    ' "$src/README.md"
}

if [ "$mode" = python ]; then
    if [ ! -f "$build/python/synthpix/__init__.py" ] || ! "$py" -c "import numpy" 2>/dev/null; then
        echo "SKIP: no Python package in $build/python, or $py lacks numpy"
        exit 77
    fi
    blocks py | sed '/^#--- end of block/d' > "$work/tour.py"
    [ -s "$work/tour.py" ] || { echo "not ok: no Python block found in README.md"; exit 1; }
    (cd "$work" && build/synthpix config default > my.yaml &&
        PYTHONPATH="$build/python" "$py" tour.py) || { echo "not ok: the README's Python example"; exit 1; }
    echo "ok: the README's Python example ran as written"
    exit 0
fi

n=0
while IFS= read -r line; do
    case "$line" in "" | "#"*) continue ;; esac
    n=$((n + 1))
    echo "\$ $line"
    if ! (cd "$work" && bash -c "set -o pipefail; $line" > "$work/out.$n" 2>&1); then
        tail -n 20 "$work/out.$n"
        echo "not ok: README command $n failed: $line"
        exit 1
    fi
done < <(blocks sh)
[ "$n" -ge 5 ] || { echo "not ok: only $n README commands found"; exit 1; }

blocks c | sed '/^#--- end of block/d' > "$work/tour.c"
[ -s "$work/tour.c" ] || { echo "not ok: no C block found in README.md"; exit 1; }
san=$(sed -n 's/^SP_SANITIZE:STRING=//p' "$build/CMakeCache.txt" 2>/dev/null || true)
flags=""
[ -n "$san" ] && flags="-fsanitize=$san"
cc -std=c11 -Wall -Werror $flags -I"$src/include" "$work/tour.c" -L"$build" -lsynthpix -Wl,-rpath,"$build" -o "$work/tour"
"$work/tour" > "$work/tour.out"
grep -q '^batch 3: 8 pairs of 256 x 256$' "$work/tour.out" || { cat "$work/tour.out"; echo "not ok: the C example's output"; exit 1; }
echo "ok: $n README commands and the C example ran as written"
