/* cli_common.h: helpers shared by the sub-commands: configuration loading with
 * diagnostics, status-to-exit-code mapping, small parsers. */
#ifndef SP_CLI_COMMON_H
#define SP_CLI_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "sp/sp.h"

/* Loads FILE (or the embedded default when path is NULL), printing warnings and errors to
 * stderr. Returns SP_EXIT_OK or SP_EXIT_USAGE (configuration error) / SP_EXIT_RUNTIME. */
int sp_cli_load_config(const char *path, sp_config *cfg);
/* Exit code for a failed status: configuration and missing-input errors are 2, others 1. */
int sp_cli_exit_code(sp_status st);
/* Strict unsigned integer parse; returns 0 on success. */
int sp_cli_parse_u64(const char *s, uint64_t *out);
/* Seconds as m:ss, or h:mm:ss from an hour on (rounded to the second; negative, NaN or
 * absurd values print 0:00). */
void sp_cli_format_duration(double seconds, char *buf, size_t cap);
/* Seconds since an arbitrary origin (monotonic clock). */
double sp_cli_now(void);

#endif
