# The Python package (pyproject.toml, setup.py, python/). setup.py links the extension
# synthpix._core against this build's libsynthpix.a, listed with what it links against in
# synthpix-link.txt, so the C sources are compiled once, by CMake. When the interpreter
# (SP_PYTHON, default Debian's /usr/bin/python3) has its headers and setuptools, the
# package is built into <build>/python/ with the library, and the ctest test `python`
# runs its pytest suite (python/tests/run_tests.sh; skipped without numpy or pytest).
set(SP_PYTHON_PACKAGE AUTO CACHE STRING "Build the Python package with the library: AUTO, ON or OFF")
set_property(CACHE SP_PYTHON_PACKAGE PROPERTY STRINGS AUTO ON OFF)
if(EXISTS /usr/bin/python3)
    set(SP_PYTHON_DEFAULT /usr/bin/python3)
else()
    find_program(SP_PYTHON_DEFAULT NAMES python3)
endif()
set(SP_PYTHON "${SP_PYTHON_DEFAULT}" CACHE FILEPATH "The Python interpreter the package is built for")

set(sp_link_lines "$<TARGET_FILE:synthpix_static>")
foreach(l ${SP_DEP_LIBS})
    string(APPEND sp_link_lines "\n${l}")
endforeach()
file(GENERATE OUTPUT ${CMAKE_BINARY_DIR}/synthpix-link.txt CONTENT "${sp_link_lines}\n-lpthread\n-lm\n")

string(TOUPPER "${SP_PYTHON_PACKAGE}" mode)
if(NOT mode MATCHES "^(AUTO|ON|OFF)$")
    message(FATAL_ERROR "SP_PYTHON_PACKAGE=${SP_PYTHON_PACKAGE}: expected AUTO, ON or OFF")
endif()
set(sp_python_ok 0)
set(sp_python_why "SP_PYTHON_PACKAGE=OFF")
if(NOT mode STREQUAL "OFF" AND NOT SP_LIBFUZZER AND NOT SP_SANITIZE)
    execute_process(COMMAND "${SP_PYTHON}" -c
        "import os, sysconfig, setuptools; raise SystemExit(not os.path.exists(os.path.join(sysconfig.get_paths()['include'], 'Python.h')))"
        RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
    if(rc EQUAL 0)
        set(sp_python_ok 1)
    else()
        set(sp_python_why "${SP_PYTHON} lacks Python.h or setuptools (Debian: python3-dev python3-setuptools)")
    endif()
elseif(SP_SANITIZE OR SP_LIBFUZZER)
    set(sp_python_why "not in sanitizer or libFuzzer builds (the interpreter is not instrumented)")
endif()
if(mode STREQUAL "ON" AND NOT sp_python_ok)
    message(FATAL_ERROR "SP_PYTHON_PACKAGE=ON: ${sp_python_why}")
endif()

if(sp_python_ok)
    set(sp_py_sources setup.py pyproject.toml python/src/sp_python.c python/synthpix/__init__.py
        python/synthpix/errors.py python/synthpix/_sampler.py python/synthpix/_pytree.py
        python/synthpix/checkpoint/__init__.py python/synthpix/checkpoint/args.py
        python/synthpix/checkpoint/orbax_utils.py python/synthpix/checkpoint/flax.py
        python/synthpix/torch.py python/synthpix/py.typed)
    sp_sources_exist(${sp_py_sources})
    list(TRANSFORM sp_py_sources PREPEND ${CMAKE_SOURCE_DIR}/)
    set(stamp ${CMAKE_BINARY_DIR}/python/synthpix/.built)
    add_custom_command(OUTPUT ${stamp}
        COMMAND ${CMAKE_COMMAND} -E env SYNTHPIX_BUILD_DIR=${CMAKE_BINARY_DIR} SYNTHPIX_WERROR=$<BOOL:${SP_WERROR}>
                "${SP_PYTHON}" setup.py -q build --build-base ${CMAKE_BINARY_DIR}/python-build
                --build-lib ${CMAKE_BINARY_DIR}/python
        COMMAND ${CMAKE_COMMAND} -E touch ${stamp}
        WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}
        DEPENDS synthpix_static ${sp_py_sources}
        COMMENT "Building the Python package into ${CMAKE_BINARY_DIR}/python"
        VERBATIM)
    add_custom_target(synthpix_python ALL DEPENDS ${stamp})
    # The C side of the checkpoint interop tests (a checkpoint saved from Python resumes in C
    # and the other way round), through the shared library's public API.
    add_executable(sp_python_resume_tool python/tests/resume_tool.c)
    target_link_libraries(sp_python_resume_tool PRIVATE synthpix)
    # python: the suite but the wall-time comparisons, beside the other tests. python_timing:
    # those (pytest mark `timing`), alone (RUN_SERIAL), as their margins assume free cores.
    # python_install: the README's offline venv install, used from outside the tree.
    set(run ${CMAKE_SOURCE_DIR}/python/tests/run_tests.sh ${CMAKE_BINARY_DIR} ${CMAKE_SOURCE_DIR} "${SP_PYTHON}")
    add_test(NAME python COMMAND bash ${run} -m "not timing")
    add_test(NAME python_timing COMMAND bash ${run} -m timing)
    add_test(NAME python_install COMMAND bash ${CMAKE_SOURCE_DIR}/python/tests/install_venv.sh ${CMAKE_BINARY_DIR}
        ${CMAKE_SOURCE_DIR} "${SP_PYTHON}")
    set_tests_properties(python python_timing python_install PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 900
        LABELS python)
    set_tests_properties(python PROPERTIES COST 1000)
    add_test(NAME readme_python COMMAND bash ${CMAKE_SOURCE_DIR}/tests/check_readme.sh ${CMAKE_SOURCE_DIR}
        ${CMAKE_BINARY_DIR} python "${SP_PYTHON}")
    set_tests_properties(readme_python PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300 LABELS python)
    set_tests_properties(python_timing PROPERTIES RUN_SERIAL TRUE)
else()
    foreach(t python python_timing python_install readme_python)
        sp_add_skipped_test(${t} "${sp_python_why}")
    endforeach()
endif()
