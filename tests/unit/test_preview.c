/* test_preview.c: `synthpix preview`, end to end (the built command).
 *
 * The flow panel of a uniform flow pointing right, up-left and down has, pixel for pixel, the
 * colour an independent NumPy implementation of the Middlebury wheel gives that direction
 * (tests/unit/preview_colours.py), and the key agrees; the sheet opens with PIL at the
 * documented size, and its image panels are the very 8-bit pixels `synthpix generate` writes
 * for the same pair (past a batch boundary, so sp_sampler_skip is on the path); a bad pair,
 * an unreadable configuration, a missing folder, a link, a directory or a FIFO under the
 * output's name give a message naming them, exit 2 and leave no file; a build without
 * libcairo says so (and its other cases report as skipped).
 */
#include "sp_test.h"

#include <jansson.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sp/sp.h"

#define SHEET_W 1240 /* docs/formats.md, "Preview images" */
#define SHEET_H 860

/* The command with args, which may redirect stdout to a file: stderr still goes to out (it
 * is redirected first). In sanitizer builds libfontconfig's own leftovers are not reported
 * (tests/unit/lsan_fontconfig.supp). */
static int run_cli(char *out, size_t cap, const char *args)
{
    return sp_test_sh(out, cap,
                      "LSAN_OPTIONS=suppressions=%s/tests/unit/lsan_fontconfig.supp:print_suppressions=0 %s 2>&1 %s",
                      sp_test_source_dir(), sp_test_cli(), args);
}

static const char *tmp_path(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", sp_test_tmpdir(), name);
    return buf;
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* A small analytic configuration: images H = 64 by W = 96 (not square, so a transposed
 * panel shows), resolution 100 px/unit, dt 0.01 s, flows in pixels per pair. */
static void write_config(const char *path, const char *flow, const char *extra)
{
    FILE *const f = fopen(path, "w");
    SP_EXPECT(f != NULL);
    fprintf(f,
            "scheduler_class: analytic\nanalytic_flow:\n  - %s\n"
            "image_shape: [64, 96]\nflow_field_size: [1.0, 1.3]\nresolution: 100\nimg_offset: [0.15, 0.15]\n"
            "dt: 0.01\nvelocities_per_pixel: 1\noutput_units: pixels\n"
            "min_speed_x: -2.5\nmax_speed_x: 2.5\nmin_speed_y: -2.5\nmax_speed_y: 2.5\n"
            "batch_size: 2\nflow_fields_per_batch: 2\nbatches_per_flow_batch: 1\n"
            "seeding_density_range: [0.02, 0.04]\ndiameter_ranges: [[2.0, 3.0]]\n%s",
            flow, extra);
    fclose(f);
}

static json_t *load_layout(const char *path)
{
    json_error_t je;
    json_t *const l = json_load_file(path, 0, &je);
    SP_EXPECT_MSG(l != NULL, "%s: %s", path, je.text);
    return l;
}

/* u, v in units/s; the sheet's flow panel and key must match the wheel's colour of (u, v). */
static void check_direction(const char *name, double u, double v)
{
    char cfg[600], png[700], lay[700], args[2400], out[8192], flow[128];
    tmp_path(cfg, sizeof cfg, name);
    snprintf(flow, sizeof flow, "{kind: uniform, u: %g, v: %g}", u, v);
    write_config(cfg, flow, "");
    snprintf(png, sizeof png, "%s.png", cfg);
    snprintf(lay, sizeof lay, "%s.json", cfg);
    snprintf(args, sizeof args, "preview -c %s -o %s --layout-json > %s", cfg, png, lay);
    SP_ASSERT_EQ_INT(run_cli(out, sizeof out, args), 0);
    json_t *const l = load_layout(lay);
    json_t *const r = json_object_get(json_object_get(l, "panels"), "flow");
    /* The 64 x 96 flow grid keeps its shape: 3 screen pixels per sample both ways. */
    SP_ASSERT_EQ_INT(json_integer_value(json_object_get(r, "w")), 96 * 3);
    SP_ASSERT_EQ_INT(json_integer_value(json_object_get(r, "h")), 64 * 3);
    json_decref(l);
    /* Pixels per pair = units/s x 100 px/unit x 0.01 s. */
    double const max_px = hypot(u, v) * 100.0 * 0.01;
    int const rc = sp_test_sh(out, sizeof out,
                              "/usr/bin/python3 %s/tests/unit/preview_colours.py %s %s %.17g %.17g %.17g 2>&1",
                              sp_test_source_dir(), png, lay, u, v, max_px);
    SP_EXPECT_MSG(rc == 0 && strstr(out, "colours-ok"), "%s (u %g, v %g): rc %d: %s", name, u, v, rc, out);
}

SP_TEST(preview_uniform_flow_has_the_wheel_colour_of_its_direction)
{
    sp_test_need_feature("cairo");
    if (!sp_test_have_python("numpy PIL")) sp_test_skip("/usr/bin/python3 lacks numpy or PIL");
    check_direction("right.yaml", 2.0, 0.0);   /* the wheel's angle 0: pure red */
    check_direction("upleft.yaml", -1.5, -1.5); /* v < 0 points up the image */
    check_direction("down.yaml", 0.0, 1.2);
}

/* Pair 11 of the embedded default (batch 1, pair 3: one batch skipped). */
SP_TEST(preview_opens_with_pil_and_shows_the_pixels_generate_writes)
{
    sp_test_need_feature("cairo");
    if (!sp_test_have_python("numpy PIL")) sp_test_skip("/usr/bin/python3 lacks numpy or PIL");
    char png[600], lay[600], data[600], args[2400], out[8192];
    tmp_path(png, sizeof png, "sheet.png");
    tmp_path(lay, sizeof lay, "sheet.json");
    tmp_path(data, sizeof data, "data");
    snprintf(args, sizeof args, "preview -n 11 -o %s --layout-json > %s", png, lay);
    SP_ASSERT_EQ_INT(run_cli(out, sizeof out, args), 0);
    snprintf(args, sizeof args, "generate -q -n 12 -o %s", data);
    SP_ASSERT_EQ_INT(run_cli(out, sizeof out, args), 0);
    int const rc = sp_test_sh(out, sizeof out,
        "/usr/bin/python3 - '%s' '%s' '%s' <<'EOF' 2>&1\n"
        "import sys, json, numpy as np\n"
        "from PIL import Image\n"
        "sheet, layout, data = sys.argv[1:]\n"
        "im = Image.open(sheet); im.verify(); im = Image.open(sheet)\n"
        "assert im.format == 'PNG' and im.mode == 'RGB' and im.size == (%d, %d), (im.format, im.mode, im.size)\n"
        "rgb = np.asarray(im).astype(int)\n"
        "L = json.load(open(layout))\n"
        "assert (L['width'], L['height'], L['pair']) == (%d, %d, 11), L\n"
        "for k in (1, 2):\n"
        "    r = L['panels']['image%%d' %% k]\n"
        "    want = np.asarray(Image.open('%%s/pair_000011_img%%d.png' %% (data, k))).astype(int)\n"
        "    got = rgb[r['y']:r['y'] + r['h'], r['x']:r['x'] + r['w']]\n"
        "    assert got.shape[:2] == want.shape, (got.shape, want.shape)\n"
        "    assert (got[..., 0] == want).all() and (got[..., 1] == want).all() and (got[..., 2] == want).all(), k\n"
        "print('sheet-ok')\n"
        "EOF",
        png, lay, data, SHEET_W, SHEET_H, SHEET_W, SHEET_H);
    SP_EXPECT_MSG(rc == 0 && strstr(out, "sheet-ok"), "rc %d: %s", rc, out);
}

/* No PNG and no temporary in dir: a refused run leaves nothing. */
static void expect_nothing_written(const char *dir)
{
    char out[4096];
    SP_ASSERT_EQ_INT(sp_test_sh(out, sizeof out, "ls -A '%s' | grep -c -e '\\.png' -e '\\.sp-tmp-'", dir), 1);
    SP_EXPECT_MSG(atoi(out) == 0, "files left in %s", dir);
}

/* A failing run: exit status want (2: usage or input, 1: the OS refused a read), and both
 * needles in its output. */
static void expect_exit(const char *args, int want, const char *needle1, const char *needle2)
{
    char out[8192];
    int const rc = run_cli(out, sizeof out, args);
    SP_EXPECT_MSG(rc == want, "synthpix %s: exit %d, want %d: %s", args, rc, want, out);
    SP_ASSERT_STR_CONTAINS(out, needle1);
    SP_ASSERT_STR_CONTAINS(out, needle2);
}

SP_TEST(preview_refuses_bad_pairs_and_configurations_and_writes_nothing)
{
    sp_test_need_feature("cairo");
    char dir[600], png[700], args[2400], cfg[700];
    tmp_path(dir, sizeof dir, "out");
    SP_EXPECT(mkdir(dir, 0755) == 0);
    snprintf(png, sizeof png, "%s/p.png", dir);
    static const char *const bad_pairs[] = {"-1", "abc", "2.5", "1e3", "", "1099511627776"};
    for (size_t i = 0; i < sizeof bad_pairs / sizeof bad_pairs[0]; i++) {
        snprintf(args, sizeof args, "preview -n '%s' -o %s", bad_pairs[i], png);
        expect_exit(args, 2, "--pair", "is not a pair index");
    }
    snprintf(args, sizeof args, "preview -c %s/no-such.yaml -o %s", dir, png);
    expect_exit(args, 2, "no-such.yaml", "not");
    snprintf(args, sizeof args, "preview -c %s -o %s", dir, png); /* a folder is no configuration */
    expect_exit(args, 1, "out: not a regular file", "configuration not loaded");
    tmp_path(cfg, sizeof cfg, "bad.yaml");
    write_config(cfg, "{kind: uniform, u: 1, v: 0}", "p_hide_img1: 1.5\n");
    snprintf(args, sizeof args, "preview -c %s -o %s", cfg, png);
    expect_exit(args, 2, "p_hide_img1", "1.5");
    /* A finite stream of 4 pairs: pair 4 does not exist, pair 3 does. */
    tmp_path(cfg, sizeof cfg, "finite.yaml");
    write_config(cfg, "{kind: uniform, u: 1, v: 0}", "loop: false\nanalytic_num_examples: 4\n");
    snprintf(args, sizeof args, "preview -c %s -n 4 -o %s", cfg, png);
    expect_exit(args, 2, "--pair 4", "past the end of the stream");
    expect_nothing_written(dir);
    char out[8192];
    snprintf(args, sizeof args, "preview -c %s -n 3 -o %s", cfg, png);
    SP_ASSERT_EQ_INT(run_cli(out, sizeof out, args), 0);
    SP_EXPECT(exists(png));
}

SP_TEST(preview_refuses_output_paths_it_must_not_replace)
{
    sp_test_need_feature("cairo");
    char dir[600], path[700], victim[700], args[2400], out[8192];
    tmp_path(dir, sizeof dir, "out");
    SP_EXPECT(mkdir(dir, 0755) == 0);
    snprintf(args, sizeof args, "preview -o %s/missing/p.png", dir);
    expect_exit(args, 2, "missing/p.png", "missing does not exist");
    snprintf(path, sizeof path, "%s/missing", dir);
    SP_EXPECT(!exists(path));
    snprintf(victim, sizeof victim, "%s/victim", sp_test_tmpdir());
    sp_test_write_file(victim, "precious", 8);
    snprintf(path, sizeof path, "%s/link.png", dir);
    SP_EXPECT(symlink(victim, path) == 0);
    snprintf(args, sizeof args, "preview -o %s", path);
    expect_exit(args, 2, "link.png", "is a symbolic link");
    char target[700] = {0};
    SP_EXPECT(readlink(path, target, sizeof target - 1) > 0 && strcmp(target, victim) == 0);
    size_t n = 0;
    unsigned char *const kept = sp_test_read_file(victim, &n);
    SP_EXPECT(kept != NULL && n == 8 && memcmp(kept, "precious", 8) == 0);
    free(kept);
    SP_EXPECT(unlink(path) == 0);
    SP_EXPECT(mkdir(path, 0755) == 0); /* a directory named link.png */
    expect_exit(args, 2, "link.png", "is a directory");
    snprintf(path, sizeof path, "%s/fifo.png", dir);
    SP_EXPECT(mkfifo(path, 0644) == 0);
    snprintf(args, sizeof args, "preview -o %s", path);
    expect_exit(args, 2, "fifo.png", "is not a regular file");
    SP_ASSERT_EQ_INT(sp_test_sh(out, sizeof out, "ls -A '%s' | grep -c -e '\\.sp-tmp-' -e '^p\\.png'", dir), 1);
    /* A regular file is replaced whole. */
    snprintf(path, sizeof path, "%s/old.png", dir);
    sp_test_write_file(path, "not a png", 9);
    snprintf(args, sizeof args, "preview -o %s", path);
    SP_ASSERT_EQ_INT(run_cli(out, sizeof out, args), 0);
    SP_ASSERT_STR_CONTAINS(out, "wrote");
    unsigned char *const png = sp_test_read_file(path, &n);
    SP_EXPECT(png != NULL && n > 1000 && memcmp(png, "\x89PNG\r\n\x1a\n", 8) == 0);
    free(png);
}

SP_TEST(preview_without_cairo_says_so_and_writes_nothing)
{
    if (sp_have_feature("cairo")) sp_test_skip("this build has libcairo (the case is for builds without it)");
    char dir[600], args[2400];
    tmp_path(dir, sizeof dir, "out");
    SP_EXPECT(mkdir(dir, 0755) == 0);
    snprintf(args, sizeof args, "preview -o %s/p.png", dir);
    expect_exit(args, 2, "lacks libcairo", "libcairo2-dev");
    expect_nothing_written(dir);
}

SP_TEST(preview_help_lists_every_option)
{
    char out[8192];
    SP_ASSERT_EQ_INT(run_cli(out, sizeof out, "preview --help"), 0);
    SP_ASSERT_STR_CONTAINS(out, "--pair PAIR");
    SP_ASSERT_STR_CONTAINS(out, "--layout-json");
    SP_ASSERT_EQ_INT(run_cli(out, sizeof out, "preview --no-such-option"), 2);
    SP_ASSERT_EQ_INT(run_cli(out, sizeof out, "preview extra"), 2);
}
