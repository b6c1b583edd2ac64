/* version.c: the version of the library actually linked (sp_api.h). */
#include "sp/sp_api.h"

unsigned sp_version_number(void)
{
    return SP_VERSION_NUMBER;
}

const char *sp_version_string(void)
{
    return SP_VERSION_STRING;
}
