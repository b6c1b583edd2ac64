/* cmd_generate.c: `synthpix generate`: write a dataset of image pairs to a directory.
 *
 * This file holds the command's progress display and its exit codes (cli/generate_opts.c
 * parses its options); the job itself (sampler, dataset writer, checkpoints, resume) is the
 * library's sp_generate (sp_dataset.h, docs/durability.md). Exit codes: 0 success, 2 usage, configuration or
 * input error (nothing was written), 1 runtime error (the last checkpoint, if any, is
 * intact and --resume continues from it).
 *
 * Under synthpix-mpi (cli/synthpix_mpi.c) every rank runs this with its group: the ranks
 * agree that all of them launched, rank 0 alone shows notes, progress, errors (the
 * group's agreed failure, naming the rank at fault) and the summary, and every rank
 * returns the same exit code.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli.h"
#include "cli_common.h"
#include "generate_opts.h"
#include "sp/sp.h"

/* ---- progress ------------------------------------------------------------------------------ */

static int terminal_width(void)
{
    struct winsize ws;
    return ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col : 80;
}

/* One line that fits the terminal: the bar shrinks, then goes; the text is cut, never
 * wrapped (a wrapped line would leave a copy at every redraw). The rate counts this run's
 * pairs only. */
static void progress(void *ctx, uint64_t covered, uint64_t total, uint64_t start)
{
    gen_cli *const c = (gen_cli *)ctx;
    double const elapsed = sp_cli_now() - c->t0;
    double const rate = elapsed > 0 ? (double)(covered - start) / elapsed : 0;
    char eta[32], text[160], bar[64];
    sp_cli_format_duration(rate > 0 ? (double)(total - covered) / rate : 0, eta, sizeof eta);
    int const n = snprintf(text, sizeof text, " %llu/%llu pairs  %.1f pairs/s  ETA %s", (unsigned long long)covered,
                           (unsigned long long)total, rate, eta);
    int const cols = terminal_width() - 1;
    int width = cols - n - 2 < 30 ? cols - n - 2 : 30;
    if (width < 5) width = 0;
    int const filled = (int)((double)width * (double)covered / (double)total);
    for (int i = 0; i < width; i++) bar[i] = i < filled ? '=' : (i == filled ? '>' : ' ');
    bar[width] = '\0';
    fprintf(stderr, "\r%s%s%s%.*s\033[K", width ? "[" : "", bar, width ? "]" : "", cols - (width ? width + 2 : 0), text);
    fflush(stderr);
}

static void print_note(void *ctx, const char *line)
{
    const gen_cli *const c = (const gen_cli *)ctx;
    if (c->rank != 0) return;
    int const warning = strncmp(line, "warning:", 8) == 0;
    if (!c->quiet || warning) fprintf(stderr, "synthpix%s: %s\n", warning ? " generate" : "", line);
}

/* ---- the run -------------------------------------------------------------------------------- */

static void summary(const gen_cli *c, const sp_generate_result *r, double secs)
{
    double const rate = secs > 0 ? (double)r->pairs_this_run / secs : 0.0;
    char who[64];
    if (c->group && c->group->size > 1) snprintf(who, sizeof who, "%u processes x %u threads", c->group->size, r->threads);
    else snprintf(who, sizeof who, "%u threads", r->threads);
    if (r->start_pairs == 0)
        fprintf(stderr, "synthpix: wrote %llu pairs to %s in %.2f s (%.1f pairs/s, %s)\n",
                (unsigned long long)r->pairs_written, c->out, secs, rate, who);
    else
        fprintf(stderr, "synthpix: wrote %llu pairs to %s: %llu after resuming, in %.2f s (%.1f pairs/s, %s)\n",
                (unsigned long long)r->pairs_written, c->out, (unsigned long long)r->pairs_this_run, secs, rate, who);
}

static int exit_code(sp_status st, const sp_generate_result *r)
{
    if (st == SP_ERR_MISMATCH || st == SP_ERR_EXISTS || st == SP_ERR_LOCKED) return SP_EXIT_USAGE;
    if (st == SP_ERR_UNSUPPORTED && !r->started) return SP_EXIT_USAGE; /* e.g. --format h5 without libhdf5 */
    return r->started ? SP_EXIT_RUNTIME : sp_cli_exit_code(st);
}

static int run(gen_cli *c, const sp_config *cfg)
{
    sp_pool *pool = NULL;
    /* --threads sizes the pool only: the configuration (echoed in dataset.json) stays as
     * loaded, so datasets made with different thread counts are byte-identical. */
    int threads = c->threads >= 0 ? c->threads : cfg->threads;
    if (threads <= 0 && c->node_ranks > 1) { /* ranks on one machine share its cores */
        long const cores = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cores > (long)c->node_ranks ? (int)(cores / (long)c->node_ranks) : 1;
    }
    if (sp_pool_create(&pool, (unsigned)(threads > 0 ? threads : 0)) != SP_OK) return SP_EXIT_RUNTIME;
    c->g.sampler.pool = pool;
    c->g.group = c->group;
    c->tty = !c->quiet && c->rank == 0 && isatty(STDERR_FILENO);
    c->g.progress = c->tty ? progress : NULL;
    c->g.progress_ctx = c;
    c->g.note = print_note;
    c->g.note_ctx = c;
    c->t0 = sp_cli_now();
    sp_generate_result r;
    sp_error e;
    sp_error_clear(&e);
    sp_status const st = sp_generate(cfg, c->out, &c->g, &r, &e);
    if (c->tty && r.started) fprintf(stderr, "\n");
    int rc = SP_EXIT_OK;
    if (st != SP_OK && c->rank != 0) { /* rank 0 reports the group's agreed failure */
        rc = exit_code(st, &r);
    } else if (st != SP_OK) {
        fprintf(stderr, "synthpix generate: %s\n", e.message[0] ? e.message : sp_strerror(st));
        if (st == SP_ERR_EXISTS)
            fprintf(stderr, "synthpix generate: continue it with --resume and the --checkpoint-dir that wrote it, "
                            "or replace it with --overwrite\n");
        rc = exit_code(st, &r);
    } else if (c->rank != 0) {
        /* rank 0 reports */
    } else if (r.already_complete) {
        if (!c->quiet)
            fprintf(stderr, "synthpix: %s already holds this dataset (%llu pairs, complete): nothing to do\n", c->out,
                    (unsigned long long)r.pairs_written);
    } else if (!c->quiet) {
        summary(c, &r, sp_cli_now() - c->t0);
    }
    sp_pool_free(pool);
    return rc;
}

/* In a group, every rank learns whether every rank parsed its options and loaded its
 * configuration (one may fail alone: a file missing on one node), so all go on or all
 * stop; the failing rank's reason reaches rank 0, which prints it. */
static int agree_launch(const gen_cli *c, int rc)
{
    if (c->group == NULL || c->group->size <= 1) return rc;
    sp_error mine, e;
    sp_error_clear(&mine);
    sp_error_clear(&e);
    sp_status const st = rc == SP_EXIT_OK ? SP_OK : (rc == SP_EXIT_USAGE ? SP_ERR_CONFIG : SP_ERR_IO);
    if (st != SP_OK)
        sp_error_set(&mine, st, "%s: %s", rc == SP_EXIT_USAGE ? "usage or configuration error" : "runtime error",
                     c->config ? c->config : "<embedded default>");
    sp_status const agreed = sp_group_agree(c->group, "launch", st, &mine, &e);
    if (agreed == SP_OK) return SP_EXIT_OK;
    if (c->rank == 0 && st == SP_OK) fprintf(stderr, "synthpix generate: %s\n", e.message);
    return agreed == SP_ERR_CONFIG ? SP_EXIT_USAGE : SP_EXIT_RUNTIME;
}

int sp_cmd_generate_group(int argc, char **argv, const sp_fs *fs, const sp_group *group, unsigned node_ranks)
{
    gen_cli c;
    memset(&c, 0, sizeof c);
    c.out = "synthpix-out";
    c.threads = -1;
    c.group = group;
    c.rank = group ? group->rank : 0;
    c.node_ranks = node_ranks;
    sp_generate_options_init(&c.g);
    c.g.dataset.fs = fs;
    int rc = sp_cli_generate_parse(argc, argv, &c);
    if (rc < 0) return SP_EXIT_OK; /* --help */
    sp_config cfg;
    memset(&cfg, 0, sizeof cfg);
    if (rc == SP_EXIT_OK) rc = sp_cli_load_config(c.config, &cfg);
    rc = agree_launch(&c, rc);
    if (rc == SP_EXIT_OK) rc = run(&c, &cfg);
    sp_config_free(&cfg);
    return rc;
}

int sp_cmd_generate_fs(int argc, char **argv, const sp_fs *fs)
{
    return sp_cmd_generate_group(argc, argv, fs, NULL, 1);
}

int sp_cmd_generate(int argc, char **argv)
{
    return sp_cmd_generate_fs(argc, argv, NULL);
}
