# discover_cases.cmake: lists a unit-test binary's cases for ctest, as gtest_discover_tests
# does. sp_add_unit_test runs it after every link of the binary (POST_BUILD):
#   cmake -D BINARY=path/test_x -D CASES_FILE=path/test_x_cases.cmake [-D LONG_CASES=a,b]
#         -P discover_cases.cmake
# It runs `test_x -l` and writes `set(test_x_CASES name;name;...)` to CASES_FILE, which the
# binary's ctest include file (written by sp_add_unit_test) turns into one test per case, run
# as `test_x -e NAME`. A binary that cannot list its cases, or a LONG_CASES name that is not
# one of them, fails the build.
cmake_minimum_required(VERSION 3.16)
if(NOT BINARY OR NOT CASES_FILE)
    message(FATAL_ERROR "usage: cmake -D BINARY=... -D CASES_FILE=... -P discover_cases.cmake")
endif()
execute_process(COMMAND "${BINARY}" -l
    OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${BINARY} -l exited ${rc}: ${err}")
endif()
string(REGEX REPLACE "\n+$" "" out "${out}")
string(REPLACE "\n" ";" cases "${out}")
if(cases STREQUAL "")
    message(FATAL_ERROR "${BINARY} -l lists no case")
endif()
foreach(c IN LISTS cases)
    # SP_TEST names are C identifiers; anything else is stray output, not a case.
    if(NOT c MATCHES "^[A-Za-z_][A-Za-z0-9_]*$")
        message(FATAL_ERROR "${BINARY} -l printed '${c}', which is not a case name")
    endif()
endforeach()
string(REPLACE "," ";" long_cases "${LONG_CASES}")
foreach(c IN LISTS long_cases)
    if(NOT c IN_LIST cases)
        message(FATAL_ERROR "LONG_CASES names ${c}, which is not a case of ${BINARY}")
    endif()
endforeach()
get_filename_component(name "${BINARY}" NAME_WE)
# Written through a temporary and a rename, so ctest never includes half a file.
file(WRITE "${CASES_FILE}.tmp" "set(${name}_CASES \"${cases}\")\n")
file(RENAME "${CASES_FILE}.tmp" "${CASES_FILE}")
