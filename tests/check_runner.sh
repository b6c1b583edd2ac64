#!/usr/bin/env bash
# The unit-test runner reports honestly (tests/unit/test_main.c): TAP "ok", "ok ... # SKIP
# reason" and "not ok" lines, and exit status 0 for passes and skips, 1 with a failure, 77 when
# every selected case skipped (ctest: skipped), 2 for an unknown name under -e.
# Usage: check_runner.sh PATH-TO-test_runner_selftest
set -u
bin=$1
fail=0
out=""
rc=0

run() {
    out=$("$bin" "$@" 2>&1)
    rc=$?
}

expect_rc() {
    if [ "$rc" -ne "$1" ]; then
        echo "not ok: '$2' exits $rc, want $1"; printf '%s\n' "$out" | sed 's/^/#   /'; fail=$((fail + 1))
    fi
}

expect_line() {
    if ! printf '%s\n' "$out" | grep -qxF -- "$1"; then
        echo "not ok: '$2' prints no line '$1'"; printf '%s\n' "$out" | sed 's/^/#   /'; fail=$((fail + 1))
    fi
}

expect_no_match() {
    if printf '%s\n' "$out" | grep -qE -- "$1"; then
        echo "not ok: '$2' prints a line matching '$1'"; printf '%s\n' "$out" | sed 's/^/#   /'; fail=$((fail + 1))
    fi
}

run -l
expect_rc 0 "-l"
want=$(printf 'selftest_fails\nselftest_passes\nselftest_skips')
[ "$out" = "$want" ] || { echo "not ok: -l lists '$out'"; fail=$((fail + 1)); }

# Everything: one of each, the failure decides the exit status.
run
expect_rc 1 "all cases"
expect_line "1..3" "all cases"
expect_line "not ok 1 - selftest_fails (exit 1)" "all cases"
expect_line "ok 2 - selftest_passes" "all cases"
expect_line "ok 3 - selftest_skips # SKIP prerequisite widget missing" "all cases"
expect_line "1 passed, 1 failed, 1 skipped" "all cases"
expect_no_match "sp_test_skip returned" "all cases"

# A pass and a skip: success (the skip is still reported as a skip).
run -e selftest_passes selftest_skips
expect_rc 0 "-e passes skips"
expect_line "ok 1 - selftest_passes" "-e passes skips"
expect_line "ok 2 - selftest_skips # SKIP prerequisite widget missing" "-e passes skips"
expect_line "1 passed, 0 failed, 1 skipped" "-e passes skips"

# Only skips: 77, which ctest's SKIP_RETURN_CODE shows as skipped.
run -e selftest_skips
expect_rc 77 "-e skips"
expect_line "1..1" "-e skips"
expect_line "ok 1 - selftest_skips # SKIP prerequisite widget missing" "-e skips"

run -e selftest_fails
expect_rc 1 "-e fails"
expect_line "not ok 1 - selftest_fails (exit 1)" "-e fails"

run -e selftest_passes
expect_rc 0 "-e passes"
expect_line "ok 1 - selftest_passes" "-e passes"
expect_line "1 passed, 0 failed, 0 skipped" "-e passes"

# -e matches whole names only; an unknown name is an error, never an empty pass.
run -e selftest_pass
expect_rc 2 "-e selftest_pass"
expect_no_match "^ok" "-e selftest_pass"
run -e
expect_rc 2 "-e without names"

# Without -e, arguments select by substring.
run pass
expect_rc 0 "substring pass"
expect_line "1..1" "substring pass"
expect_line "ok 1 - selftest_passes" "substring pass"

# Nothing selected is a failure, never a silent pass.
run no_such_case
expect_rc 1 "substring with no match"

[ "$fail" -eq 0 ] && echo "runner self-test: ok"
[ "$fail" -eq 0 ]
