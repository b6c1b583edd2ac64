/* cmd_config.c: `synthpix config`, the configuration sub-command.
 *
 *   synthpix config check FILE   load FILE; print the resolved configuration (YAML) on
 *                                stdout and the warnings on stderr; or print every error on
 *                                stderr and exit 2
 *   synthpix config default      print the embedded default configuration
 * Exit codes (cli.h): 0 ok, 1 runtime error (I/O, memory), 2 usage or configuration error.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "sp/sp.h"


static void usage(FILE *f)
{
    fprintf(f,
            "usage: synthpix config check FILE    validate FILE and print the resolved configuration\n"
            "       synthpix config default       print the embedded default configuration\n"
            "\n"
            "check prints the resolved configuration (every key, defaults included) as YAML on\n"
            "stdout and warnings on stderr; with errors it prints all of them on stderr.\n"
            "exit status: 0 ok, 1 runtime error (I/O), 2 usage or configuration error\n");
}

static int is_help(const char *s)
{
    return strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0;
}

static int cmd_check(int argc, char **argv)
{
    if (argc >= 2 && is_help(argv[1])) {
        printf("usage: synthpix config check FILE\n\n"
               "Loads FILE (YAML), validates every key and prints the resolved configuration,\n"
               "defaults included, on stdout; warnings (unknown or deprecated keys) go to stderr.\n"
               "On errors, prints every one of them on stderr and exits with status 2.\n"
               "Relative paths in FILE are resolved against FILE's directory.\n");
        return SP_EXIT_OK;
    }
    if (argc != 2) {
        fprintf(stderr, "synthpix config check: expected exactly one FILE\n");
        usage(stderr);
        return SP_EXIT_USAGE;
    }
    sp_config c;
    sp_diag d;
    sp_diag_init(&d);
    sp_status const st = sp_config_load_file(&c, argv[1], &d);
    sp_diag_print(&d, argv[1], stderr);
    size_t const errors = sp_diag_errors(&d);
    sp_diag_free(&d);
    if (st == SP_ERR_CONFIG) {
        fprintf(stderr, "%s: invalid configuration (%zu error%s)\n", argv[1], errors, errors == 1 ? "" : "s");
        return SP_EXIT_USAGE;
    }
    if (st != SP_OK) {
        fprintf(stderr, "%s: %s\n", argv[1], sp_strerror(st));
        return SP_EXIT_RUNTIME;
    }
    sp_file_sink_ctx ctx = {stdout, "<stdout>"};
    sp_sink const sink = sp_sink_file(&ctx);
    sp_error err;
    sp_error_clear(&err);
    sp_status const wst = sp_config_write_yaml(&c, &sink, &err);
    sp_config_free(&c);
    if (wst != SP_OK || fflush(stdout) != 0) {
        fprintf(stderr, "synthpix config check: %s\n", wst != SP_OK ? err.message : "write error on stdout");
        return SP_EXIT_RUNTIME;
    }
    return SP_EXIT_OK;
}

static int cmd_default(int argc, char **argv)
{
    if (argc >= 2 && is_help(argv[1])) {
        printf("usage: synthpix config default\n\n"
               "Prints the embedded default configuration (the one `synthpix generate` uses\n"
               "without a configuration file), with comments, as a starting point.\n");
        return SP_EXIT_OK;
    }
    if (argc != 1) {
        fprintf(stderr, "synthpix config default: unexpected argument '%s'\n", argv[1]);
        return SP_EXIT_USAGE;
    }
    if (fputs(sp_config_default_yaml(), stdout) < 0 || fflush(stdout) != 0) {
        fprintf(stderr, "synthpix config default: write error on stdout\n");
        return SP_EXIT_RUNTIME;
    }
    return SP_EXIT_OK;
}

int sp_cmd_config(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return SP_EXIT_USAGE;
    }
    if (is_help(argv[1])) {
        usage(stdout);
        return SP_EXIT_OK;
    }
    if (strcmp(argv[1], "check") == 0) return cmd_check(argc - 1, argv + 1);
    if (strcmp(argv[1], "default") == 0) return cmd_default(argc - 1, argv + 1);
    fprintf(stderr, "synthpix config: unknown action '%s'\n", argv[1]);
    usage(stderr);
    return SP_EXIT_USAGE;
}
