/* version.c: the version, the stream version and the optional features of the library
 * actually linked (sp_api.h). The features are fixed at build time: SP_HAVE_MATIO,
 * SP_HAVE_HDF5 and SP_HAVE_CAIRO are always defined to 0 or 1 by the build (CMakeLists.txt,
 * SP_WITH_MATIO / SP_WITH_HDF5 / SP_WITH_CAIRO). */
#include "sp/sp_api.h"

#include <stddef.h>
#include <string.h>

unsigned sp_version_number(void)
{
    return SP_VERSION_NUMBER;
}

const char *sp_version_string(void)
{
    return SP_VERSION_STRING;
}

unsigned sp_stream_version(void)
{
    return SP_STREAM_VERSION;
}

static const struct {
    const char *name;
    int on;
} sp_features[] = {
    {"matio", SP_HAVE_MATIO},
    {"hdf5", SP_HAVE_HDF5},
    {"cairo", SP_HAVE_CAIRO},
};

int sp_have_feature(const char *name)
{
    if (name == NULL) return 0;
    for (size_t i = 0; i < sizeof sp_features / sizeof sp_features[0]; i++)
        if (strcmp(name, sp_features[i].name) == 0) return sp_features[i].on;
    return 0;
}

const char *sp_feature_name(unsigned i)
{
    return i < sizeof sp_features / sizeof sp_features[0] ? sp_features[i].name : NULL;
}
