# Packaging tests. exports: libsynthpix.so exports the SP_API functions and nothing else.
# install (label "install"): the installed package works from outside the tree, through
# pkg-config and find_package (tests/install/run.sh). Neither applies to libFuzzer builds.
if(NOT SP_LIBFUZZER)
    add_test(NAME exports COMMAND bash ${CMAKE_SOURCE_DIR}/tests/check_exports.sh $<TARGET_FILE:synthpix>
        ${CMAKE_SOURCE_DIR})
    set(SP_CONSUMER_FLAGS "")
    if(SP_SANITIZE)
        set(SP_CONSUMER_FLAGS "-fsanitize=${SP_SANITIZE}")
    endif()
    add_test(NAME install COMMAND bash ${CMAKE_SOURCE_DIR}/tests/install/run.sh ${CMAKE_BINARY_DIR}
        ${CMAKE_SOURCE_DIR} ${CMAKE_INSTALL_LIBDIR} "${SP_CONSUMER_FLAGS}")
    set_tests_properties(install PROPERTIES LABELS install TIMEOUT 120 ENVIRONMENT "CC=${CMAKE_C_COMPILER}")
endif()
