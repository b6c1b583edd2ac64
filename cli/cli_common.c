/* cli_common.c: see cli_common.h. */
#include "cli_common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cli.h"

int sp_cli_load_config(const char *path, sp_config *cfg)
{
    sp_diag d;
    sp_diag_init(&d);
    sp_status const st = path ? sp_config_load_file(cfg, path, &d) : sp_config_load_default(cfg, &d);
    sp_diag_print(&d, path ? path : "<embedded default>", stderr);
    sp_diag_free(&d);
    if (st == SP_OK) return SP_EXIT_OK;
    fprintf(stderr, "synthpix: %s: configuration not loaded (%s)\n", path ? path : "<embedded default>", sp_strerror(st));
    return st == SP_ERR_CONFIG || st == SP_ERR_NOTFOUND ? SP_EXIT_USAGE : SP_EXIT_RUNTIME;
}

int sp_cli_exit_code(sp_status st)
{
    return st == SP_ERR_CONFIG || st == SP_ERR_NOTFOUND || st == SP_ERR_INVALID ? SP_EXIT_USAGE : SP_EXIT_RUNTIME;
}

int sp_cli_parse_u64(const char *s, uint64_t *out)
{
    if (s == NULL || *s == '\0' || *s == '-') return -1;
    char *end = NULL;
    errno = 0;
    unsigned long long const v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0') return -1;
    *out = (uint64_t)v;
    return 0;
}

void sp_cli_format_duration(double s, char *buf, size_t cap)
{
    unsigned long const t = s > 0 && s < 1e9 ? (unsigned long)(s + 0.5) : 0;
    if (t >= 3600) snprintf(buf, cap, "%lu:%02lu:%02lu", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, cap, "%lu:%02lu", t / 60, t % 60);
}

double sp_cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
