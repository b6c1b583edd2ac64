/* cmd_ckpt.c: `synthpix ckpt`, list, verify, inspect and delete checkpoint steps.
 *
 *   synthpix ckpt ls DIR                 steps, commit times (UTC), sizes, items
 *   synthpix ckpt verify DIR [--step N]  full checksum pass; exit 1 naming each damaged file
 *   synthpix ckpt inspect DIR [--step N] the tree of a step (default: latest): paths, dtypes, shapes
 *   synthpix ckpt rm DIR --step N        delete one step (takes the writer lock)
 * Options common to all: --prefix P and --pad N give the step naming explicitly; without
 * them the naming recorded in DIR/_ROOT_METADATA is used. DIR must be a checkpoint root
 * (it holds _ROOT_METADATA): any other directory is refused by name and nothing is created
 * in it. Directories named like steps without a _MANIFEST are not ours: listed as foreign,
 * never touched. Exit codes: 0 success, 1 damage or runtime error, 2 usage.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "sp/sp.h"

typedef struct ckpt_args {
    const char *verb;
    const char *dir;
    int64_t step; /* -1: not given */
    const char *prefix;
    int pad;
    int naming_given;
} ckpt_args;

static const struct verb_help {
    const char *verb, *synopsis, *what;
} verbs[] = {
    {"ls", "synthpix ckpt ls DIR", "list the committed steps: commit time (UTC), bytes, files, items"},
    {"verify", "synthpix ckpt verify DIR [--step N]",
     "read every file of every step (or of step N) against its manifest's size and CRC32C;\n"
     "exit 1 naming each damaged file"},
    {"inspect", "synthpix ckpt inspect DIR [--step N]", "print the tree of a step (default: the latest)"},
    {"rm", "synthpix ckpt rm DIR --step N", "delete step N (takes the root's writer lock)"},
    {NULL, NULL, NULL}};

static void ckpt_usage(FILE *f, const char *verb)
{
    for (const struct verb_help *v = verbs; v->verb; v++) {
        if (verb && strcmp(verb, v->verb) != 0) continue;
        fprintf(f, "%s %s\n", v == verbs || verb ? "usage:" : "      ", v->synopsis);
        if (verb) fprintf(f, "\n%s\n", v->what);
    }
    fprintf(f, "\noptions: --prefix P  --pad N  (step naming; default: read from DIR/_ROOT_METADATA)\n"
               "DIR must be a checkpoint root (it holds _ROOT_METADATA); nothing is created elsewhere.\n"
               "Exit status: 0 success, 1 damage or runtime error, 2 usage.\n");
}

/* A non-negative integer that fits int64 (no silent clamping); 0 on error. */
static int parse_i64(const char *opt, const char *s, int64_t max, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long const v = strtoll(s, &end, 10);
    if (s[0] == 0 || *end != 0 || errno == ERANGE || v < 0 || v > max) {
        fprintf(stderr, "synthpix ckpt: %s: '%s' is not an integer in [0, %lld]\n", opt, s, (long long)max);
        return 0;
    }
    *out = (int64_t)v;
    return 1;
}

static int parse_args(int argc, char **argv, const char *verb, ckpt_args *a)
{
    memset(a, 0, sizeof *a);
    a->verb = verb;
    a->step = -1;
    for (int i = 1; i < argc; i++) {
        const char *const s = argv[i];
        int64_t v = 0;
        if (strcmp(s, "--step") == 0 && i + 1 < argc) {
            if (!parse_i64("--step", argv[++i], INT64_MAX, &v)) return 0;
            a->step = v;
        } else if (strcmp(s, "--pad") == 0 && i + 1 < argc) {
            if (!parse_i64("--pad", argv[++i], 18, &v)) return 0;
            a->pad = (int)v;
            a->naming_given = 1;
        } else if (strcmp(s, "--prefix") == 0 && i + 1 < argc) {
            a->prefix = argv[++i];
            a->naming_given = 1;
        } else if (s[0] == '-' || a->dir != NULL) {
            fprintf(stderr, "synthpix ckpt %s: unexpected argument '%s'\n", a->verb, s);
            return 0;
        } else {
            a->dir = s;
        }
    }
    if (a->dir == NULL) fprintf(stderr, "synthpix ckpt %s: missing DIR\n", a->verb);
    return a->dir != NULL;
}

static sp_status open_root(const ckpt_args *a, int writer, sp_ckpt_manager **m, sp_error *e)
{
    sp_ckpt_options opt;
    sp_ckpt_options_init(&opt);
    opt.read_only = !writer;
    opt.create = 0;
    opt.detect_naming = !a->naming_given;
    opt.require_root = 1;
    opt.step_prefix = a->prefix;
    opt.step_format_fixed_length = a->pad;
    return sp_ckpt_manager_open(m, a->dir, &opt, e);
}

static void fmt_time(int64_t ns, char *buf, size_t cap)
{
    time_t const t = (time_t)(ns / 1000000000);
    struct tm tm;
    if (ns <= 0 || gmtime_r(&t, &tm) == NULL) {
        snprintf(buf, cap, "-");
        return;
    }
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int cmd_ls(sp_ckpt_manager *m)
{
    size_t const n = sp_ckpt_all_steps(m, NULL, 0);
    int64_t *const steps = (int64_t *)malloc((n ? n : 1) * sizeof *steps);
    if (steps == NULL) return SP_EXIT_RUNTIME;
    size_t const k = sp_ckpt_all_steps(m, steps, n);
    printf("%-12s %-24s %-20s %12s %6s  %s\n", "STEP", "DIRECTORY", "COMMITTED (UTC)", "BYTES", "FILES", "ITEMS");
    int bad = 0;
    for (size_t i = 0; i < k && i < n; i++) {
        sp_ckpt_step_info info;
        sp_error e;
        sp_error_clear(&e);
        if (sp_ckpt_metadata(m, steps[i], &info, NULL, &e) != SP_OK || info.damaged) {
            printf("%-12lld %-24s damaged: %s\n", (long long)steps[i], info.dir_name, e.message);
            bad = 1;
            continue;
        }
        char when[32];
        fmt_time(info.commit_ns, when, sizeof when);
        printf("%-12lld %-24s %-20s %12llu %6llu  %s\n", (long long)info.step, info.dir_name, when,
               (unsigned long long)info.total_bytes, (unsigned long long)info.n_files, info.items);
    }
    printf("%zu step%s\n", k, k == 1 ? "" : "s");
    free(steps);
    return bad ? SP_EXIT_RUNTIME : SP_EXIT_OK;
}

static void print_damage(void *ctx, sp_status s, const char *message)
{
    (void)s;
    ++*(int *)ctx;
    printf("DAMAGED %s\n", message);
}

static int verify_one(sp_ckpt_manager *m, int64_t step)
{
    int count = 0;
    sp_error e;
    sp_error_clear(&e);
    sp_status const s = sp_ckpt_verify(m, step, print_damage, &count, &e);
    if (s == SP_OK) {
        printf("step %lld: ok\n", (long long)step);
        return 0;
    }
    if (count == 0) printf("DAMAGED %s\n", e.message); /* e.g. step not found */
    printf("step %lld: %s\n", (long long)step, sp_strerror(s));
    return 1;
}

static int cmd_verify(sp_ckpt_manager *m, int64_t step)
{
    if (step >= 0) return verify_one(m, step) ? SP_EXIT_RUNTIME : SP_EXIT_OK;
    size_t const n = sp_ckpt_all_steps(m, NULL, 0);
    int64_t *const steps = (int64_t *)malloc((n ? n : 1) * sizeof *steps);
    if (steps == NULL) return SP_EXIT_RUNTIME;
    size_t const k = sp_ckpt_all_steps(m, steps, n);
    int bad = 0;
    for (size_t i = 0; i < k && i < n; i++) bad += verify_one(m, steps[i]);
    free(steps);
    printf("%zu step%s verified, %d damaged\n", k, k == 1 ? "" : "s", bad);
    return bad ? SP_EXIT_RUNTIME : SP_EXIT_OK;
}

static void print_leaf(const sp_leaf_view *v)
{
    switch (v->kind) {
    case SP_LEAF_ARRAY:
        printf("%-40s array   %-8s [", v->path, sp_dtype_numpy_name(v->dtype));
        for (size_t d = 0; d < v->ndim; d++) printf(d ? ", %llu" : "%llu", (unsigned long long)v->shape[d]);
        printf("]\n");
        break;
    case SP_LEAF_I64: printf("%-40s i64     %lld\n", v->path, (long long)v->i64); break;
    case SP_LEAF_F64: printf("%-40s f64     %.17g\n", v->path, v->f64); break;
    case SP_LEAF_STRING: printf("%-40s string  \"%s\"\n", v->path, v->text); break;
    case SP_LEAF_JSON: printf("%-40s json    (%s.json)\n", v->path, v->path); break;
    }
}

static int cmd_inspect(sp_ckpt_manager *m, int64_t step)
{
    sp_ckpt_restore_args ra;
    sp_ckpt_restore_args_init(&ra);
    ra.metadata_only = 1;
    int64_t got = -1;
    ra.restored_step = &got;
    sp_tree *t = NULL;
    sp_error e;
    sp_error_clear(&e);
    if (sp_ckpt_restore(m, step >= 0 ? step : SP_CKPT_LATEST, NULL, &ra, &t, &e) != SP_OK) {
        fprintf(stderr, "synthpix ckpt inspect: %s\n", e.message);
        return SP_EXIT_RUNTIME;
    }
    printf("step %lld of %s: %zu leaves\n", (long long)got, sp_ckpt_root(m), sp_tree_count(t));
    for (size_t i = 0; i < sp_tree_count(t); i++) {
        sp_leaf_view v;
        if (sp_tree_at(t, i, &v) == SP_OK) print_leaf(&v);
    }
    sp_tree_free(t);
    return SP_EXIT_OK;
}

static int cmd_rm(sp_ckpt_manager *m, int64_t step)
{
    sp_error e;
    sp_error_clear(&e);
    if (sp_ckpt_delete(m, step, &e) != SP_OK) {
        fprintf(stderr, "synthpix ckpt rm: %s\n", e.message);
        return SP_EXIT_RUNTIME;
    }
    printf("deleted step %lld\n", (long long)step);
    return SP_EXIT_OK;
}

/* Step-named directories without a manifest: not ours, reported, left alone. */
static size_t print_foreign(sp_ckpt_manager *m)
{
    size_t const n = sp_ckpt_foreign_count(m);
    for (size_t i = 0; i < n; i++)
        printf("FOREIGN %s/%s: no _MANIFEST, not a checkpoint step (left alone)\n", sp_ckpt_root(m),
               sp_ckpt_foreign_name(m, i));
    return n;
}

static int run_verb(sp_ckpt_manager *m, const ckpt_args *a)
{
    if (strcmp(a->verb, "ls") == 0) {
        int const rc = cmd_ls(m);
        print_foreign(m);
        return rc;
    }
    if (strcmp(a->verb, "verify") == 0) {
        int const rc = cmd_verify(m, a->step);
        return print_foreign(m) && a->step < 0 ? SP_EXIT_RUNTIME : rc;
    }
    if (strcmp(a->verb, "inspect") == 0) return cmd_inspect(m, a->step);
    return cmd_rm(m, a->step);
}

int sp_cmd_ckpt(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        ckpt_usage(stdout, NULL);
        return SP_EXIT_OK;
    }
    const char *verb = NULL;
    for (const struct verb_help *v = verbs; argc >= 2 && v->verb; v++)
        if (strcmp(argv[1], v->verb) == 0) verb = v->verb;
    if (verb == NULL) {
        if (argc >= 2) fprintf(stderr, "synthpix ckpt: unknown command '%s'\n", argv[1]);
        ckpt_usage(stderr, NULL);
        return SP_EXIT_USAGE;
    }
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            ckpt_usage(stdout, verb);
            return SP_EXIT_OK;
        }
    }
    ckpt_args a;
    int const ok = parse_args(argc - 1, argv + 1, verb, &a);
    if (ok && strcmp(verb, "rm") == 0 && a.step < 0) fprintf(stderr, "synthpix ckpt rm: --step N is required\n");
    if (!ok || (strcmp(verb, "rm") == 0 && a.step < 0)) {
        ckpt_usage(stderr, verb);
        return SP_EXIT_USAGE;
    }
    sp_ckpt_manager *m = NULL;
    sp_error e;
    sp_error_clear(&e);
    if (open_root(&a, strcmp(verb, "rm") == 0, &m, &e) != SP_OK) {
        fprintf(stderr, "synthpix ckpt %s: %s\n", verb, e.message);
        return SP_EXIT_RUNTIME;
    }
    int rc = run_verb(m, &a);
    if (sp_ckpt_manager_close(m, 60000, &e) != SP_OK && rc == SP_EXIT_OK) rc = SP_EXIT_RUNTIME;
    fflush(stdout);
    return rc;
}
