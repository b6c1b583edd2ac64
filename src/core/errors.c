/* errors.c: the status table and sp_error helpers.
 *
 * The table is generated from SP_ERROR_MAP in sp_errors.h, so names, codes and messages
 * cannot drift apart. No global state: details live in caller-owned sp_error values.
 */
#include "sp/sp_errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *sp_strerror(sp_status s)
{
    switch (s) {
    case SP_OK: return "success";
#define SP_XX_MSG(name, code, msg) case SP_ERR_##name: return msg;
        SP_ERROR_MAP(SP_XX_MSG)
#undef SP_XX_MSG
    case SP_ERR_LAST_: break;
    }
    return "unknown status";
}

const char *sp_status_name(sp_status s)
{
    switch (s) {
    case SP_OK: return "SP_OK";
#define SP_XX_NAME(name, code, msg) case SP_ERR_##name: return "SP_ERR_" #name;
        SP_ERROR_MAP(SP_XX_NAME)
#undef SP_XX_NAME
    case SP_ERR_LAST_: break;
    }
    return "SP_ERR_UNKNOWN";
}

void sp_error_clear(sp_error *e)
{
    if (e == NULL) return;
    e->status = SP_OK;
    e->message[0] = '\0';
}

sp_status sp_error_set(sp_error *e, sp_status s, const char *fmt, ...)
{
    if (e == NULL) return s;
    e->status = s;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return s;
}

sp_status sp_error_prefix(sp_error *e, const char *fmt, ...)
{
    if (e == NULL) return SP_ERR_INTERNAL;
    char prefix[SP_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    /* Join by hand: truncation to the buffer size is intended. */
    size_t const lp = strlen(prefix);
    size_t const lm = strlen(e->message);
    size_t const keep = lp + lm < sizeof e->message ? lm : sizeof e->message - 1 - lp;
    memmove(e->message + lp, e->message, keep);
    memcpy(e->message, prefix, lp);
    e->message[lp + keep] = '\0';
    return e->status;
}
