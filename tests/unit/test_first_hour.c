/* test_first_hour.c: what a new user meets in their first hour with the command line
 * (docs and README as written): honest progress and summaries after a resume, per-command
 * help, OS errors with their reason, a progress line that fits the terminal.
 */
#include "sp_test.h"

#include <stdarg.h>
#include <unistd.h>

#include "cli_common.h"
#include "test_fixtures.h"

static char g_cfg[700];

static const char *config(void)
{
    snprintf(g_cfg, sizeof g_cfg, "%s/small.yaml", sp_test_tmpdir());
    SP_ASSERT_OK(sp_test_sh(NULL, 0,
                            "'%s' config default | sed -e 's/^image_shape: .*/image_shape: [64, 64]/' "
                            "-e 's/^batch_size: .*/batch_size: 4/' -e 's/^flow_fields_per_batch: .*/flow_fields_per_batch: 2/' "
                            "> '%s'",
                            sp_test_cli(), g_cfg));
    return g_cfg;
}

static int cli(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int cli(char *out, size_t cap, const char *fmt, ...)
{
    char args[4000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    return sp_test_sh(out, cap, "cd '%s' && '%s' %s 2>&1", sp_test_tmpdir(), sp_test_cli(), args);
}

/* After a resume the summary counts this run's pairs only, and its rate is theirs; a
 * finished dataset says so and exits 0. */
SP_TEST(first_hour_resume_reports_this_runs_work_only)
{
    char out[8192];
    const char *const cfg = config();
    SP_ASSERT_EQ_INT(cli(out, sizeof out, "generate -q -c %s -n 20 -o d --checkpoint-dir ck --checkpoint-every 1", cfg), 0);
    SP_ASSERT_EQ_INT(cli(out, sizeof out, "generate -c %s -n 40 -o d --checkpoint-dir ck --checkpoint-every 1 --resume", cfg), 0);
    SP_ASSERT_STR_CONTAINS(out, "resuming after 20 pairs");
    const char *const w = strstr(out, "wrote 40 pairs");
    SP_EXPECT_MSG(w != NULL, "no summary: %s", out);
    unsigned long after = 0;
    double secs = 0, rate = 0;
    SP_EXPECT_MSG(sscanf(strstr(w, ": ") + 2, "%lu after resuming, in %lf s (%lf pairs/s", &after, &secs, &rate) == 3,
                  "summary: %s", w);
    SP_ASSERT_EQ_INT(after, 20);
    SP_EXPECT_MSG(secs > 0 && fabs(rate - 20.0 / secs) <= 0.06 * rate + 0.1, "rate %.1f for 20 pairs in %.2f s", rate, secs);
    SP_ASSERT_EQ_INT(cli(out, sizeof out, "generate -c %s -n 40 -o d --checkpoint-dir ck --checkpoint-every 1 --resume", cfg), 0);
    SP_ASSERT_STR_CONTAINS(out, "already holds this dataset (40 pairs, complete): nothing to do");
    SP_EXPECT_MSG(strstr(out, "pairs/s") == NULL, "a finished dataset reported a rate: %s", out);
    /* The same configuration under another stream version is another dataset. */
    SP_ASSERT_EQ_INT(sp_test_sh(out, sizeof out, "cd '%s' && sed -i 's/\"stream_version\": [0-9]*/\"stream_version\": 1/' d/dataset.json && grep -c '\"stream_version\": 1' d/dataset.json", sp_test_tmpdir()), 0);
    SP_ASSERT_EQ_INT(cli(out, sizeof out, "generate -c %s -n 40 -o d", cfg), 2);
    SP_ASSERT_STR_CONTAINS(out, "already holds another dataset");
}

SP_TEST(first_hour_every_ckpt_subcommand_has_its_own_help)
{
    const char *const verbs[] = {"ls", "verify", "inspect", "rm"};
    for (size_t i = 0; i < 4; i++) {
        char out[4096], want[64];
        int const rc = cli(out, sizeof out, "ckpt %s --help", verbs[i]);
        SP_EXPECT_MSG(rc == 0, "ckpt %s --help: exit %d", verbs[i], rc);
        snprintf(want, sizeof want, "usage: synthpix ckpt %s DIR", verbs[i]);
        SP_ASSERT_STR_CONTAINS(out, want);
        for (size_t j = 0; j < 4; j++) {
            char other[64];
            snprintf(other, sizeof other, "synthpix ckpt %s DIR", verbs[j]);
            SP_EXPECT_MSG(j == i || strstr(out, other) == NULL, "ckpt %s --help shows %s's usage", verbs[i], verbs[j]);
        }
    }
}

/* OS errors name the path and the OS's reason. */
SP_TEST(first_hour_os_errors_carry_the_reason)
{
    char out[8192];
    const char *const cfg = config();
    sp_test_write_file("/dev/null", "", 0);
    char file[800];
    snprintf(file, sizeof file, "%s/plainfile", sp_test_tmpdir());
    sp_test_write_file(file, "x", 1);
    int rc = cli(out, sizeof out, "generate -q -c %s -n 4 -o plainfile/out", cfg);
    SP_EXPECT_MSG(rc == 1, "exit %d: %s", rc, out);
    SP_ASSERT_STR_CONTAINS(out, "plainfile/out");
    SP_ASSERT_STR_CONTAINS(out, "Not a directory");
    rc = cli(out, sizeof out, "generate -q -c %s -n 4 -o ok --checkpoint-dir plainfile/ck", cfg);
    SP_EXPECT_MSG(rc == 1, "exit %d: %s", rc, out);
    SP_ASSERT_STR_CONTAINS(out, "plainfile/ck");
    SP_ASSERT_STR_CONTAINS(out, "Not a directory");
    rc = cli(out, sizeof out, "generate -q -c %s/missing.yaml -n 4 -o ok2", sp_test_tmpdir());
    SP_EXPECT_MSG(rc == 2, "exit %d: %s", rc, out);
    SP_ASSERT_STR_CONTAINS(out, "missing.yaml");
    SP_ASSERT_STR_CONTAINS(out, "No such file or directory");
}

SP_TEST(first_hour_durations_print_as_h_mm_ss)
{
    const struct {
        double s;
        const char *want;
    } cases[] = {{0, "0:00"}, {59.4, "0:59"}, {59.6, "1:00"}, {754, "12:34"}, {3599.4, "59:59"},
                 {3600, "1:00:00"}, {12812, "3:33:32"}, {360000, "100:00:00"}, {-5, "0:00"}, {NAN, "0:00"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[32];
        sp_cli_format_duration(cases[i].s, buf, sizeof buf);
        SP_EXPECT_MSG(strcmp(buf, cases[i].want) == 0, "%g s printed as %s, want %s", cases[i].s, buf, cases[i].want);
    }
}

/* On a 40-column terminal the progress line is redrawn in place: every redraw fits in 39
 * columns (a longer one would wrap and leave a copy on screen at every batch). */
SP_TEST(first_hour_progress_fits_a_narrow_terminal)
{
    if (sp_test_sh(NULL, 0, "command -v script >/dev/null") != 0) sp_test_skip("no script(1) to provide a terminal");
    const char *const cfg = config();
    char cmd[2000], log[800];
    snprintf(log, sizeof log, "%s/tty.log", sp_test_tmpdir());
    snprintf(cmd, sizeof cmd, "cd '%s' && script -qec \"stty cols 40 rows 10; '%s' generate -c '%s' -n 200 -o tty\" '%s' >/dev/null 2>&1",
             sp_test_tmpdir(), sp_test_cli(), cfg, log);
    SP_ASSERT_EQ_INT(sp_test_sh(NULL, 0, "%s", cmd), 0);
    size_t n = 0;
    char *const text = (char *)sp_test_read_file(log, &n);
    SP_EXPECT(text != NULL);
    /* Between script(1)'s own first and last lines, every segment between \r and \n, CSI
     * escapes removed, is one redraw; the final summary line is exempt. */
    int redraws = 0;
    size_t widest = 0, at = 0;
    size_t i = 0;
    while (i < n && text[i] != '\n') i++;
    while (i < n) {
        if (text[i] == '\r' || text[i] == '\n') {
            redraws += text[i] == '\r';
            i++;
            continue;
        }
        size_t col = 0, start = i;
        while (i < n && text[i] != '\r' && text[i] != '\n') {
            if (text[i] == '\033') { /* CSI ... final letter: no column */
                while (i + 1 < n && !((text[i + 1] >= 'A' && text[i + 1] <= 'Z') || (text[i + 1] >= 'a' && text[i + 1] <= 'z'))) i++;
                i += 2;
                continue;
            }
            col++;
            i++;
        }
        int const summary = strncmp(text + start, "synthpix: wrote", 15) == 0 || strncmp(text + start, "Script done", 11) == 0;
        if (!summary && col > widest) widest = col, at = start;
    }
    SP_EXPECT_MSG(redraws >= 3, "only %d progress redraws", redraws);
    SP_EXPECT_MSG(widest <= 39, "a progress line is %zu columns wide on a 40-column terminal: %.80s", widest, text + at);
    free(text);
}

/* `config check` refuses what `generate` refuses, with every geometry error at once and
 * the position of each key (one code path: the loader runs the geometry checks). */
SP_TEST(first_hour_config_check_runs_the_geometry_checks)
{
    char out[8192], cfg[800];
    snprintf(cfg, sizeof cfg, "%s/bad.yaml", sp_test_tmpdir());
    SP_ASSERT_OK(sp_test_sh(NULL, 0,
                            "'%s' config default | sed -e 's/^image_shape: .*/image_shape: [512, 512]/' "
                            "-e 's/^img_offset: .*/img_offset: [0.0, 0.0]/' > '%s'",
                            sp_test_cli(), cfg));
    int rc = cli(out, sizeof out, "config check %s", cfg);
    SP_EXPECT_MSG(rc == 2, "config check: exit %d: %s", rc, out);
    SP_ASSERT_STR_CONTAINS(out, "bad.yaml:");
    SP_ASSERT_STR_CONTAINS(out, "error: flow_field_size: (1.6, 1.6) is too small");
    SP_ASSERT_STR_CONTAINS(out, "error: img_offset: (0, 0) puts the image too close");
    SP_ASSERT_STR_CONTAINS(out, "(2 errors)");
    rc = cli(out, sizeof out, "generate -c %s -n 2 -o never", cfg);
    SP_EXPECT_MSG(rc == 2, "generate: exit %d: %s", rc, out);
    SP_ASSERT_STR_CONTAINS(out, "flow_field_size: (1.6, 1.6) is too small");
    SP_EXPECT(sp_test_sh(NULL, 0, "test -e '%s/never'", sp_test_tmpdir()) != 0);
    /* Each alone. */
    SP_ASSERT_OK(sp_test_sh(NULL, 0, "'%s' config default | sed -e 's/^img_offset: .*/img_offset: [0.0, 0.0]/' > '%s'",
                            sp_test_cli(), cfg));
    rc = cli(out, sizeof out, "config check %s", cfg);
    SP_EXPECT_MSG(rc == 2 && strstr(out, "img_offset") && strstr(out, "(1 error)"), "exit %d: %s", rc, out);
}

/* A folder of flows not named flow_*.npy: the error says which pattern was searched, where,
 * and how many other .npy files were there. */
SP_TEST(first_hour_unmatched_npy_names_say_the_pattern)
{
    char out[8192], path[800];
    size_t const shape[3] = {64, 64, 2};
    static float zeros[64 * 64 * 2];
    SP_ASSERT_OK(sp_test_sh(NULL, 0, "mkdir -p '%s/flows'", sp_test_tmpdir()));
    const char *const names[] = {"a.npy", "b.npy"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/flows/%s", sp_test_tmpdir(), names[i]);
        sp_test_write_npy(path, SP_DTYPE_F32, 3, shape, zeros);
    }
    snprintf(path, sizeof path, "%s/npy.yaml", sp_test_tmpdir());
    const char *const yaml = "scheduler_class: \".npy\"\nfile_list: [flows]\nbatch_size: 2\nflow_fields_per_batch: 1\n"
                             "batches_per_flow_batch: 1\nimage_shape: [32, 32]\nflow_field_size: [64, 64]\nresolution: 1\n"
                             "velocities_per_pixel: 1\nimg_offset: [8, 8]\nmin_speed_x: -1\nmax_speed_x: 1\n"
                             "min_speed_y: -1\nmax_speed_y: 1\noutput_units: pixels\n";
    sp_test_write_file(path, yaml, strlen(yaml));
    int const rc = cli(out, sizeof out, "generate -q -c npy.yaml -n 2 -o never");
    SP_EXPECT_MSG(rc == 2, "exit %d: %s", rc, out);
    SP_ASSERT_STR_CONTAINS(out, "flow_*.npy");
    SP_ASSERT_STR_CONTAINS(out, "2 other .npy files did not match");
    SP_ASSERT_STR_CONTAINS(out, "flows/a.npy");
    /* Renamed to the pattern, the same folder works. */
    SP_ASSERT_OK(sp_test_sh(NULL, 0, "cd '%s/flows' && mv a.npy flow_a.npy && mv b.npy flow_b.npy", sp_test_tmpdir()));
    SP_ASSERT_EQ_INT(cli(out, sizeof out, "generate -q -c npy.yaml -n 2 -o now"), 0);
}
