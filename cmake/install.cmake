# Installation: the public headers (include/sp/), libsynthpix.so and libsynthpix.a, the
# synthpix command, a pkg-config file and a CMake package:
#
#   pkg-config:  cc app.c $(pkg-config --cflags --libs synthpix)
#                cc app.c $(pkg-config --cflags synthpix) -l:libsynthpix.a \
#                    $(pkg-config --static --libs-only-l synthpix | sed 's/-lsynthpix //')
#   CMake:       find_package(synthpix REQUIRED)
#                target_link_libraries(app synthpix::synthpix)          (shared)
#                target_link_libraries(app synthpix::synthpix_static)   (static)
#
# Both descriptions are relocatable: they find the prefix from their own location, so
# `cmake --install build --prefix DIR` (and DESTDIR) need no reconfiguration.
include(CMakePackageConfigHelpers)

set(SP_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/synthpix)
set(SP_PKGCONFIG_DIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# The installed command finds the library next to it whatever the prefix.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
    set_target_properties(synthpix_cli PROPERTIES INSTALL_RPATH "${CMAKE_INSTALL_LIBDIR}")
else()
    set_target_properties(synthpix_cli PROPERTIES INSTALL_RPATH "$ORIGIN/../${CMAKE_INSTALL_LIBDIR}")
endif()

install(TARGETS synthpix synthpix_static EXPORT synthpixTargets
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS synthpix_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
if(TARGET synthpix_mpi)
    get_target_property(rpath synthpix_cli INSTALL_RPATH)
    set_target_properties(synthpix_mpi PROPERTIES INSTALL_RPATH "${rpath}")
    install(TARGETS synthpix_mpi RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
# include/sp/ holds the public headers only (private ones live under src/).
install(DIRECTORY ${CMAKE_SOURCE_DIR}/include/sp DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
    FILES_MATCHING PATTERN "*.h")

# ---- pkg-config ---------------------------------------------------------------------------
# The optional libraries are listed only when this build uses them. Debian's libhdf5-dev
# ships hdf5.pc; without one, libhdf5 goes to Libs.private by path.
set(SP_PC_REQUIRES "yaml-0.1 libdeflate libtiff-4 jansson zlib")
set(SP_PC_LIBS_PRIVATE "")
if(SP_HAVE_MATIO)
    string(APPEND SP_PC_REQUIRES " matio")
endif()
if(SP_HAVE_HDF5)
    pkg_check_modules(SP_HDF5_PC QUIET hdf5)
    if(SP_HDF5_PC_FOUND)
        string(APPEND SP_PC_REQUIRES " hdf5")
    else()
        foreach(l ${HDF5_C_LIBRARIES})
            string(APPEND SP_PC_LIBS_PRIVATE " ${l}")
        endforeach()
    endif()
endif()
string(APPEND SP_PC_LIBS_PRIVATE " -lpthread -lm")
string(STRIP "${SP_PC_LIBS_PRIVATE}" SP_PC_LIBS_PRIVATE)

# prefix is found from the .pc file's own directory (pkg-config's ${pcfiledir}).
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
    set(SP_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
    set(SP_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
else()
    file(RELATIVE_PATH rel "/p/${SP_PKGCONFIG_DIR}" "/p")
    string(REGEX REPLACE "/$" "" rel "${rel}")
    set(SP_PC_PREFIX "\${pcfiledir}/${rel}")
    set(SP_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
    set(SP_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
    set(SP_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
configure_file(${CMAKE_SOURCE_DIR}/cmake/synthpix.pc.in ${CMAKE_BINARY_DIR}/synthpix.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/synthpix.pc DESTINATION ${SP_PKGCONFIG_DIR})

# ---- CMake package ------------------------------------------------------------------------
set(SP_FEATURES "")
if(SP_HAVE_MATIO)
    list(APPEND SP_FEATURES matio)
endif()
if(SP_HAVE_HDF5)
    list(APPEND SP_FEATURES hdf5)
endif()
if(SP_HAVE_CAIRO)
    list(APPEND SP_FEATURES cairo) # the command's preview; the library does not link libcairo
endif()
install(EXPORT synthpixTargets NAMESPACE synthpix:: DESTINATION ${SP_CMAKE_DIR})
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/synthpixConfig.cmake.in
    ${CMAKE_BINARY_DIR}/synthpixConfig.cmake INSTALL_DESTINATION ${SP_CMAKE_DIR})
# SOVERSION is the major version, and so is the compatibility promise.
write_basic_package_version_file(${CMAKE_BINARY_DIR}/synthpixConfigVersion.cmake
    VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_BINARY_DIR}/synthpixConfig.cmake ${CMAKE_BINARY_DIR}/synthpixConfigVersion.cmake
    DESTINATION ${SP_CMAKE_DIR})
