sp_add_unit_test(test_core SOURCES tests/unit/test_core.c MODULES core LABELS threads)
# Public headers compile alone, as C11 and as C++.
add_test(NAME headers_self_contained COMMAND bash ${CMAKE_SOURCE_DIR}/tests/check_headers.sh ${CMAKE_SOURCE_DIR})
# Module boundaries: no file includes another module's private header (and the check itself
# fails on a planted violation).
add_test(NAME include_boundaries COMMAND bash ${CMAKE_SOURCE_DIR}/tests/check_includes.sh ${CMAKE_SOURCE_DIR})
add_test(NAME include_boundaries_self_test COMMAND bash ${CMAKE_SOURCE_DIR}/tests/check_includes.sh --self-test)
# The test runner itself: TAP lines and exit codes for a passing, a skipping and a failing
# case (the binary is not a unit test; the script runs it and checks what it reports).
add_executable(test_runner_selftest tests/unit/test_main.c tests/unit/test_util.c tests/unit/test_runner_selftest.c)
sp_test_includes(test_runner_selftest)
add_test(NAME runner_self_test COMMAND bash ${CMAKE_SOURCE_DIR}/tests/check_runner.sh $<TARGET_FILE:test_runner_selftest>)
