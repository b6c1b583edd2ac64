/* generate_opts.h: the options of `synthpix generate` (cli/generate_opts.c parses them,
 * cli/cmd_generate.c runs the job they describe). */
#ifndef SP_GENERATE_OPTS_H
#define SP_GENERATE_OPTS_H

#include "sp/sp.h"

typedef struct gen_cli {
    const char *config;
    const char *out;
    int threads; /* -1 = from the configuration */
    int quiet;
    sp_generate_options g;
    double t0;
    int tty;
    const sp_group *group; /* synthpix-mpi: this process's group; NULL = one process */
    unsigned rank;         /* 0 speaks for the group (notes, progress, errors, summary) */
    unsigned node_ranks;   /* ranks sharing this machine: "all cores" is their share */
    /* Which options were given (some apply to one layout only). */
    int format_given, shard_size_given, split_given, case_given;
} gen_cli;

/* Parses argv into c (whose defaults the caller set). Returns SP_EXIT_OK, SP_EXIT_USAGE
 * (the reason printed on stderr), or -1 after printing --help to stdout. */
int sp_cli_generate_parse(int argc, char **argv, gen_cli *c);

#endif
