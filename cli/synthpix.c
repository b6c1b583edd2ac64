/* synthpix.c: the command-line entry point. Dispatches to the sub-commands listed in
 * `commands` below; each sub-command parses its own options and prints its own --help. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "sp/sp.h"

/* Sub-commands (cli/cmd_*.c). */
static const sp_cli_command commands[] = {
    {"generate", "render image pairs and write a dataset", sp_cmd_generate},
    {"bench", "measure pairs/s against the machine's memory-bandwidth bound", sp_cmd_bench},
    {"config", "check a configuration file or print the embedded default", sp_cmd_config},
    {"ckpt", "list, verify, inspect and delete checkpoints", sp_cmd_ckpt},
    {"preview", "draw one pair (images, flow, histograms) as a PNG to look at", sp_cmd_preview},
    {NULL, NULL, NULL},
};

static void usage(FILE *f)
{
    fprintf(f, "synthpix %s: synthetic PIV image pairs with exact ground-truth flow\n\n", SP_VERSION_STRING);
    fprintf(f, "usage: synthpix COMMAND [OPTIONS]   (synthpix COMMAND --help for details)\n\ncommands:\n");
    for (const sp_cli_command *c = commands; c->name; c++) fprintf(f, "  %-10s %s\n", c->name, c->summary);
    fprintf(f, "\n  --version  print the version and the optional features (matio, hdf5, cairo)\n");
}

/* The version and the optional features of the library actually linked, e.g.
 *     synthpix 0.1.0
 *     features: matio=on hdf5=off cairo=on */
static void print_version(void)
{
    printf("synthpix %s\n", sp_version_string());
    printf("features:");
    for (unsigned i = 0; sp_feature_name(i) != NULL; i++)
        printf(" %s=%s", sp_feature_name(i), sp_have_feature(sp_feature_name(i)) ? "on" : "off");
    printf("\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return SP_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        print_version();
        return SP_EXIT_OK;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return SP_EXIT_OK;
    }
    for (const sp_cli_command *c = commands; c->name; c++)
        if (strcmp(argv[1], c->name) == 0) return c->run(argc - 1, argv + 1);
    fprintf(stderr, "synthpix: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return SP_EXIT_USAGE;
}
