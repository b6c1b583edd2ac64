/* synthpix: status codes and error details.
 *
 * Every fallible function returns an sp_status: SP_OK (0) or a negative SP_ERR_* code.
 * Codes are pinned and append-only. Functions that can say more take an optional
 * sp_error *err (NULL allowed) that receives a one-line message naming the file, key or
 * value at fault.
 *
 * Thread safety: sp_strerror and sp_status_name return static strings and are
 * thread-safe; an sp_error belongs to one thread at a time.
 */
#ifndef SP_ERRORS_H
#define SP_ERRORS_H

#include <stddef.h> /* size_t */

#include "sp/sp_api.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SP_ERROR_MAP(XX)                                                     \
    XX(NOMEM, -1, "out of memory")                                           \
    XX(IO, -2, "I/O error")                                                  \
    XX(CORRUPT, -3, "malformed input")                                       \
    XX(INVALID, -4, "invalid argument")                                      \
    XX(CONFIG, -5, "invalid configuration")                                  \
    XX(NOTFOUND, -6, "not found")                                            \
    XX(UNSUPPORTED, -7, "unsupported")                                       \
    XX(NOSPC, -8, "no space left on device")                                 \
    XX(LOCKED, -9, "locked by another writer")                               \
    XX(CHECKSUM, -10, "checksum mismatch")                                   \
    XX(MISMATCH, -11, "does not match")                                      \
    XX(EXISTS, -12, "already exists")                                        \
    XX(TIMEOUT, -13, "timed out")                                            \
    XX(CANCELED, -14, "canceled")                                            \
    XX(RANGE, -15, "value out of range")                                     \
    XX(END, -16, "end of data")                                              \
    XX(EPISODE_END, -17, "episode ended; call next_episode")                 \
    XX(INTERNAL, -18, "internal error")                                      \
    XX(READONLY, -19, "read-only")                                           \
    XX(BUSY, -20, "busy")

typedef enum sp_status {
    SP_OK = 0,
#define SP_XX_ENUM(name, code, msg) SP_ERR_##name = (code),
    SP_ERROR_MAP(SP_XX_ENUM)
#undef SP_XX_ENUM
    SP_ERR_LAST_ = -21
} sp_status;

/* Static description of a status ("out of memory"). Never NULL. */
SP_API const char *sp_strerror(sp_status s);
/* Static symbolic name ("SP_ERR_NOMEM"). Never NULL. */
SP_API const char *sp_status_name(sp_status s);

#define SP_ERROR_MESSAGE_MAX 1024

/* Detail of the last failure of one call. */
typedef struct sp_error {
    sp_status status;
    char message[SP_ERROR_MESSAGE_MAX]; /* one line, no trailing newline */
} sp_error;

/* Clears e (NULL allowed). */
SP_API void sp_error_clear(sp_error *e);
/* Records status s and a printf-style message in e (NULL allowed); returns s, so a call
 * site can write `return sp_error_set(err, SP_ERR_CORRUPT, "%s: bad magic", path);`. */
SP_API sp_status sp_error_set(sp_error *e, sp_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Prefixes e's message with a printf-style context ("reading x.npy: "); returns e->status. */
SP_API sp_status sp_error_prefix(sp_error *e, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#ifdef __cplusplus
}
#endif
#endif /* SP_ERRORS_H */
