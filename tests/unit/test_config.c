/* test_config.c: the configuration module.
 *
 * Validation rules are table-driven: each row takes a valid base configuration, removes or
 * overrides keys, and states the key the error must name and a fragment of its message.
 * Expected values (defaults, messages, resolved paths) are written out by hand from
 * docs/configuration.md and docs/synthpix-compat.md, Configuration, never copied from the code.
 */
#include "sp_test.h"

#include <unistd.h>

#include "sp/sp_config.h"
#include "sp/sp_flow.h"

/* ---- helpers ---- */

/* A valid synthetic configuration with a file source (each line "key: value"). */
static const char *const base_npy[] = {
    "scheduler_class: \".npy\"",
    "file_list: [\"flows/\"]",
    "batch_size: 8",
    "flow_fields_per_batch: 4",
    "batches_per_flow_batch: 2",
    "image_shape: [64, 64]",
    "flow_field_size: [256, 256]",
    "resolution: 1",
    "velocities_per_pixel: 1",
    "img_offset: [0, 0]",
    "min_speed_x: 0",
    "max_speed_x: 0",
    "min_speed_y: 0",
    "max_speed_y: 0",
    "output_units: pixels",
    NULL,
};

/* The same with analytic flows. */
static const char *const base_analytic[] = {
    "scheduler_class: analytic",
    "analytic_flow: [{kind: uniform, u: 1, v: 0}]",
    "batch_size: 8",
    "flow_fields_per_batch: 4",
    "batches_per_flow_batch: 2",
    "image_shape: [64, 64]",
    "flow_field_size: [4, 4]",
    "resolution: 50",
    "velocities_per_pixel: 1",
    "img_offset: [1, 1]",
    "min_speed_x: -1",
    "max_speed_x: 1",
    "min_speed_y: -1",
    "max_speed_y: 1",
    "output_units: pixels",
    NULL,
};

/* 1 when line starts with "key:" for a key named in `keys` (newline-separated "k: v" text). */
static int line_key_in(const char *line, const char *keys)
{
    const char *const colon = strchr(line, ':');
    if (colon == NULL || keys == NULL) return 0;
    size_t const klen = (size_t)(colon - line);
    for (const char *p = keys; *p;) {
        const char *const c2 = strchr(p, ':');
        const char *const nl = strchr(p, '\n');
        if (c2 && (!nl || c2 < nl) && (size_t)(c2 - p) == klen && strncmp(p, line, klen) == 0) return 1;
        if (!nl) break;
        p = nl + 1;
    }
    return 0;
}

/* base minus `remove` (one key name) minus the keys `set` overrides, plus `set`. */
static char *build_yaml(const char *const *base, const char *remove, const char *set)
{
    static char buf[8192];
    buf[0] = '\0';
    for (const char *const *l = base; *l; l++) {
        if (remove && strncmp(*l, remove, strlen(remove)) == 0 && (*l)[strlen(remove)] == ':') continue;
        if (line_key_in(*l, set)) continue;
        strcat(buf, *l);
        strcat(buf, "\n");
    }
    if (set) {
        strcat(buf, set);
        strcat(buf, "\n");
    }
    return buf;
}

static sp_status load_text(sp_config *c, const char *yaml, sp_diag *d)
{
    sp_diag_init(d);
    return sp_config_load_string(c, yaml, strlen(yaml), "test", NULL, d);
}

/* The first diagnostic of `level` whose key is `key` (exactly). */
static const sp_diag_item *find_diag(const sp_diag *d, sp_diag_level level, const char *key)
{
    for (size_t i = 0; i < d->count; i++)
        if (d->items[i].level == level && strcmp(d->items[i].key, key) == 0) return &d->items[i];
    return NULL;
}

/* Its message, or NULL (so a missing diagnostic fails the containment check cleanly). */
static const char *diag_msg(const sp_diag *d, sp_diag_level level, const char *key)
{
    const sp_diag_item *const it = find_diag(d, level, key);
    return it ? it->message : NULL;
}

static void dump(const sp_diag *d)
{
    sp_diag_print(d, "test", stderr);
}

/* ---- every validation rule ---- */

typedef struct rule_case {
    const char *const *base;
    const char *remove; /* key to delete from the base, or NULL */
    const char *set;    /* lines replacing/adding keys, or NULL */
    const char *key;    /* key the error must name */
    const char *msg;    /* fragment of its message */
} rule_case;

#define NPY base_npy
#define ANA base_analytic

static const rule_case rules[] = {
    /* 2.1 pipeline */
    {NPY, "scheduler_class", NULL, "scheduler_class", "missing required key 'scheduler_class'"},
    {NPY, NULL, "scheduler_class: \".txt\"", "scheduler_class", "expected one of \".mat\", \".h5\", \".npy\", \".flo\", \"kinematic\", \"analytic\""},
    {NPY, NULL, "scheduler_class: mat", "scheduler_class", "did you mean \".mat\""},
    {NPY, "batch_size", NULL, "batch_size", "missing required key 'batch_size'"},
    {NPY, NULL, "batch_size: \"abc\"", "batch_size", "batch_size: \"abc\" is not an integer"},
    {NPY, NULL, "batch_size: 2.5", "batch_size", "batch_size: 2.5 is not an integer"},
    {NPY, NULL, "batch_size: 0", "batch_size", "batch_size: 0 is out of range; expected an integer >= 1"},
    {NPY, NULL, "batch_size: 99999999999", "batch_size", "expected an integer in [1, 2147483647]"},
    {NPY, "flow_fields_per_batch", NULL, "flow_fields_per_batch", "missing required key 'flow_fields_per_batch'"},
    {NPY, NULL, "flow_fields_per_batch: 0", "flow_fields_per_batch", "expected an integer >= 1"},
    {NPY, NULL, "flow_fields_per_batch: 9", "flow_fields_per_batch", "9 is out of range; expected an integer in [1, batch_size = 8]"},
    {NPY, "batches_per_flow_batch", NULL, "batches_per_flow_batch", "missing required key 'batches_per_flow_batch'"},
    {NPY, NULL, "batches_per_flow_batch: -2", "batches_per_flow_batch", "-2 is out of range"},
    {NPY, NULL, "include_images: \"yes please\"", "include_images", "is not a boolean"},
    {NPY, NULL, "include_images: true", "include_images", "not supported with scheduler_class \".npy\""},
    {NPY, NULL, "include_images: true\nscheduler_class: kinematic", "include_images", "\"kinematic\""},
    {NPY, "image_shape", NULL, "image_shape", "missing required key 'image_shape'"},
    {NPY, NULL, "image_shape: [256]", "image_shape", "image_shape: [256] is not a list of two integers"},
    {NPY, NULL, "image_shape: [0, 256]", "image_shape[0]", "image_shape[0]: 0 is out of range"},
    {NPY, NULL, "image_shape: [256, 12.5]", "image_shape[1]", "is not an integer"},
    {NPY, NULL, "file_list: {a: 1}", "file_list", "is not a path or a list of paths"},
    {NPY, NULL, "file_list: []", "file_list", "is empty"},
    {NPY, NULL, "file_list: [a.npy, [b]]", "file_list[1]", "is not a string"},
    {NPY, NULL, "randomize: 3", "randomize", "randomize: 3 is not a boolean"},
    {NPY, NULL, "loop: maybe", "loop", "is not a boolean"},
    {NPY, NULL, "seed: -1", "seed", "seed: -1 is out of range"},
    {NPY, NULL, "seed: abc", "seed", "is not an integer"},
    {NPY, NULL, "episode_length: -1", "episode_length", "expected an integer >= 0"},
    {NPY, NULL, "episode_length: 5\nscheduler_class: kinematic", "episode_length", "not allowed with scheduler_class \"kinematic\""},
    {ANA, NULL, "episode_length: 5", "episode_length", "not allowed with scheduler_class \"analytic\""},
    {NPY, NULL, "buffer_size: -3", "buffer_size", "expected an integer >= 0"},
    {NPY, NULL, "worker_count: -1", "worker_count", "expected an integer >= 0"},
    {NPY, NULL, "worker_count: 2\nepisode_length: 4", "worker_count", "not allowed in episodic mode"},
    {NPY, NULL, "num_threads: -1", "num_threads", "expected an integer >= 0"},
    {NPY, NULL, "device_ids: [a]", "device_ids[0]", "is not an integer"},
    {NPY, NULL, "device_ids: 3", "device_ids", "is not a list of device indices or null"},
    /* 2.2 image generation */
    {NPY, NULL, "dt: 0", "dt", "dt: 0 is out of range; expected a number > 0"},
    {NPY, NULL, "dt: \"0.5\"", "dt", "dt: \"0.5\" is not a number"},
    {NPY, NULL, "dt: .inf", "dt", "is not a finite number"},
    {NPY, NULL, "dt: 1e999", "dt", "is not a finite number"},
    {NPY, NULL, "seeding_density_range: [0.04, 0.02]", "seeding_density_range", "has min > max; expected [min, max] with 0 <= min <= max"},
    {NPY, NULL, "seeding_density_range: [-0.1, 0.2]", "seeding_density_range", "is out of range"},
    {NPY, NULL, "seeding_density_range: [0.1]", "seeding_density_range", "is not a [min, max] pair of numbers"},
    {NPY, NULL, "p_hide_img1: 1.5", "p_hide_img1", "p_hide_img1: 1.5 is out of range; expected a number in [0, 1]"},
    {NPY, NULL, "p_hide_img2: -0.1", "p_hide_img2", "expected a number in [0, 1]"},
    {NPY, NULL, "diameter_ranges: [[0, 1]]", "diameter_ranges[0]", "expected [min, max] with 0 < min <= max"},
    {NPY, NULL, "diameter_ranges: [[1, 2], [2, 1]]", "diameter_ranges[1]", "has min > max"},
    {NPY, NULL, "diameter_ranges: []", "diameter_ranges", "is not a non-empty list of [min, max] pairs"},
    {NPY, NULL, "diameter_var: -1", "diameter_var", "expected a number >= 0"},
    {NPY, NULL, "intensity_ranges: [[0, 100]]", "intensity_ranges[0]", "expected [min, max] with 0 < min <= max"},
    {NPY, NULL, "intensity_var: -0.5", "intensity_var", "expected a number >= 0"},
    {NPY, NULL, "rho_ranges: [[-1, 0.5]]", "rho_ranges[0]", "expected [min, max] with -1 < min <= max < 1"},
    {NPY, NULL, "rho_ranges: [[-0.5, 1]]", "rho_ranges[0]", "is out of range"},
    {NPY, NULL, "rho_var: -1", "rho_var", "expected a number >= 0"},
    {NPY, NULL, "noise_uniform: -1", "noise_uniform", "expected a number >= 0"},
    {NPY, NULL, "noise_gaussian_mean: -2", "noise_gaussian_mean", "noise_gaussian_mean: -2 is out of range; expected a number >= 0"},
    {NPY, NULL, "noise_gaussian_std: -1", "noise_gaussian_std", "expected a number >= 0"},
    {NPY, NULL, "img_offset: [-1, 0]", "img_offset", "expected two numbers, each >= 0"},
    {NPY, NULL, "img_offset: [1, 2, 3]", "img_offset", "is not a list of two numbers"},
    {NPY, NULL, "mask: [a]", "mask", "is not a string"},
    {NPY, NULL, "histogram: {a: b}", "histogram", "is not a string"},
    /* 2.3 geometry */
    {NPY, "flow_field_size", NULL, "flow_field_size", "missing required key 'flow_field_size'"},
    {NPY, NULL, "flow_field_size: [0, 1]", "flow_field_size", "expected two numbers, each > 0"},
    {NPY, "resolution", NULL, "resolution", "missing required key 'resolution'"},
    {NPY, NULL, "resolution: 0", "resolution", "expected a number > 0"},
    {NPY, "velocities_per_pixel", NULL, "velocities_per_pixel", "missing required key"},
    {NPY, NULL, "velocities_per_pixel: 0", "velocities_per_pixel", "expected a number > 0"},
    {NPY, NULL, "velocities_per_pixel: 0.001", "velocities_per_pixel", "output flow of (0, 0) points"},
    {NPY, NULL, "min_speed_x: 1\nmax_speed_x: 0", "max_speed_x", "max_speed_x: 0 is less than min_speed_x (1)"},
    {NPY, NULL, "min_speed_y: 2\nmax_speed_y: -2", "max_speed_y", "is less than min_speed_y"},
    {NPY, NULL, "min_speed_x: fast", "min_speed_x", "is not a number"},
    {NPY, "min_speed_x", NULL, "min_speed_x", "missing required key 'min_speed_x'"},
    {NPY, "max_speed_y", NULL, "max_speed_y", "missing required key 'max_speed_y'"},
    {NPY, NULL, "output_units: meters", "output_units", "expected one of \"pixels\", \"measure units per second\""},
    {NPY, "output_units", NULL, "output_units", "missing required key 'output_units'"},
    /* 2.4 kinematic */
    {NPY, NULL, "num_examples: 0", "num_examples", "expected an integer >= 1"},
    {NPY, NULL, "filter_sigma_range: [5, 1]", "filter_sigma_range", "has min > max"},
    {NPY, NULL, "max_displacement_range: [-1, 2]", "max_displacement_range", "is out of range"},
    /* extensions */
    {ANA, "analytic_flow", NULL, "analytic_flow", "missing required key 'analytic_flow'"},
    {ANA, NULL, "analytic_flow: 5", "analytic_flow", "is not a flow mapping or a non-empty list"},
    {ANA, NULL, "analytic_flow: []", "analytic_flow", "non-empty list"},
    {ANA, NULL, "analytic_flow: [{u: 1}]", "analytic_flow[0].kind", "missing; expected one of uniform, lamb_oseen"},
    {ANA, NULL, "analytic_flow: [{kind: vortex}]", "analytic_flow[0].kind", "analytic_flow[0].kind: vortex is not allowed"},
    {ANA, NULL, "analytic_flow: [{kind: uniform}, 3]", "analytic_flow[1]", "is not a mapping"},
    {ANA, NULL, "analytic_flow: {kind: rankine, core_radius: 0}", "analytic_flow[0].core_radius", "expected a number > 0"},
    {ANA, NULL, "analytic_flow: [{kind: taylor_green, wavelength: -1}]", "analytic_flow[0].wavelength", "expected a number > 0"},
    {ANA, NULL, "analytic_flow: [{kind: poiseuille, half_width: 0}]", "analytic_flow[0].half_width", "expected a number > 0"},
    {ANA, NULL, "analytic_flow: [{kind: kinematic, filter_sigma_range: [3, 1]}]", "analytic_flow[0].filter_sigma_range", "has min > max"},
    {ANA, NULL, "analytic_flow: [{kind: kinematic, max_displacement_range: [-1, 1]}]", "analytic_flow[0].max_displacement_range", "0 <= min <= max"},
    {ANA, NULL, "analytic_flow: [{kind: shear, grid: [1, 10]}]", "analytic_flow[0].grid[0]", "expected an integer in [2, 100000]"},
    {ANA, NULL, "analytic_flow: [{kind: shear, grid: [8]}]", "analytic_flow[0].grid", "is not a list of two integers"},
    {ANA, NULL, "analytic_flow: [{kind: lamb_oseen, center: [a, 1]}]", "analytic_flow[0].center[0]", "is not a number"},
    {ANA, NULL, "analytic_flow: [{kind: uniform, u: .nan}]", "analytic_flow[0].u", "is not a finite number"},
    {ANA, NULL, "analytic_num_examples: 0", "analytic_num_examples", "expected an integer >= 1"},
    {ANA, NULL, "psf: gaussian", "psf", "expected one of \"point\", \"integrated\""},
    {ANA, NULL, "diameter_convention: raffel", "diameter_convention", "expected one of \"synthpix\", \"e2\""},
    {ANA, NULL, "advection: rk2", "advection", "expected one of \"euler\", \"rk4\""},
    {ANA, NULL, "bit_depth: 12", "bit_depth", "bit_depth: 12 is not allowed; expected 8 or 16"},
    {ANA, NULL, "bit_depth: 32", "bit_depth", "out of range"},
    {ANA, NULL, "threads: -1", "threads", "threads: -1 is out of range; expected an integer in [0, 4096]"},
};

SP_TEST(config_every_rule_names_its_key)
{
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        const rule_case *const r = &rules[i];
        const char *const yaml = build_yaml(r->base, r->remove, r->set);
        sp_config c;
        sp_diag d;
        sp_status const st = load_text(&c, yaml, &d);
        const sp_diag_item *const it = find_diag(&d, SP_DIAG_ERROR, r->key);
        if (st != SP_ERR_CONFIG || it == NULL || strstr(it->message, r->msg) == NULL) {
            dump(&d);
            sp_test_fail(__FILE__, __LINE__, "rule %zu (key %s, set \"%s\"): status %d, want an error naming "
                         "'%s' containing \"%s\"", i, r->key, r->set ? r->set : "", (int)st, r->key, r->msg);
        }
        SP_EXPECT_MSG(strncmp(it->message, r->key, strlen(r->key)) == 0 || strstr(it->message, "missing") != NULL,
                      "rule %zu: message \"%s\" does not start with the key", i, it->message);
        sp_diag_free(&d);
        sp_config_free(&c);
    }
}

SP_TEST(config_bases_are_valid)
{
    const char *const *bases[] = {base_npy, base_analytic};
    for (int b = 0; b < 2; b++) {
        sp_config c;
        sp_diag d;
        SP_ASSERT_OK(load_text(&c, build_yaml(bases[b], NULL, NULL), &d));
        SP_ASSERT_EQ_INT(d.count, 0);
        sp_diag_free(&d);
        sp_config_free(&c);
    }
}

SP_TEST(config_reports_every_mistake)
{
    const char *const yaml = "scheduler_class: analytic\n"
                             "analytic_flow: {kind: vortex}\n"
                             "batch_size: \"abc\"\n"
                             "flow_fields_per_batch: 2\n"
                             "batches_per_flow_batch: 1\n"
                             "image_shape: [64, -64]\n"
                             "flow_field_size: [1, 1]\n"
                             "resolution: 64\n"
                             "p_hide_img1: 1.5\n"
                             "rho_ranges: [[-2, 0.5]]\n"
                             "min_speed_x: 0\nmax_speed_x: -1\nmin_speed_y: 0\nmax_speed_y: 0\n"
                             "output_units: pixels\n"
                             "batchsize: 3\n";
    sp_config c;
    sp_diag d;
    SP_ASSERT_STATUS(load_text(&c, yaml, &d), SP_ERR_CONFIG);
    static const char *const keys[] = {"analytic_flow[0].kind", "batch_size", "image_shape[1]", "p_hide_img1",
                                       "rho_ranges[0]", "max_speed_x", "velocities_per_pixel"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        SP_EXPECT_MSG(find_diag(&d, SP_DIAG_ERROR, keys[i]) != NULL, "no error for %s", keys[i]);
    SP_ASSERT_EQ_INT(sp_diag_errors(&d), 7);
    SP_EXPECT(find_diag(&d, SP_DIAG_WARNING, "batchsize") != NULL);
    /* Errors carry the line of the value at fault: p_hide_img1 is on line 9. */
    SP_ASSERT_EQ_INT(find_diag(&d, SP_DIAG_ERROR, "p_hide_img1")->line, 9);
    sp_diag_free(&d);
    sp_config_free(&c);
}

SP_TEST(config_unknown_key_suggests_nearest)
{
    sp_config c;
    sp_diag d;
    SP_ASSERT_OK(load_text(&c, build_yaml(base_npy, NULL, "batchsize: 3\nzzqqxxyy: 1\nP_hide_img1: 0.5"), &d));
    const sp_diag_item *it = find_diag(&d, SP_DIAG_WARNING, "batchsize");
    SP_EXPECT(it != NULL);
    SP_ASSERT_STR_CONTAINS(it->message, "unknown key 'batchsize'; did you mean 'batch_size'?");
    it = find_diag(&d, SP_DIAG_WARNING, "zzqqxxyy");
    SP_EXPECT(it != NULL);
    SP_ASSERT_STR_CONTAINS(it->message, "unknown key 'zzqqxxyy'");
    SP_EXPECT(strstr(it->message, "did you mean") == NULL);
    it = find_diag(&d, SP_DIAG_WARNING, "P_hide_img1");
    SP_EXPECT(it != NULL);
    SP_ASSERT_STR_CONTAINS(it->message, "did you mean 'p_hide_img1'?");
    SP_ASSERT_EQ_INT(c.batch_size, 8); /* the unknown key changed nothing */
    sp_diag_free(&d);
    sp_config_free(&c);
    /* Inside an analytic flow too. */
    SP_ASSERT_OK(load_text(&c, build_yaml(base_analytic, NULL, "analytic_flow: [{kind: rankine, core_radus: 0.3}]"), &d));
    SP_EXPECT(d.count >= 1);
    SP_ASSERT_STR_CONTAINS(d.items[0].message, "did you mean 'core_radius'?");
    sp_diag_free(&d);
    sp_config_free(&c);
}

SP_TEST(config_deprecated_and_ignored_keys)
{
    sp_config c;
    sp_diag d;
    SP_ASSERT_OK(load_text(&c, build_yaml(base_npy, "file_list", "noise_level: 0.5\nscheduler_files: [old/]\n"
                                          "output_shape: [3, 3]\nidentifiable_flow: true\nREPETITIONS: 4\n"
                                          "EXECUTIONS_FAST: 2\ndevice_ids: [0, 1]"), &d));
    SP_ASSERT_NEAR(c.noise_uniform, 0.5, 0);
    SP_ASSERT_EQ_INT(c.file_list_len, 1);
    SP_EXPECT(strcmp(c.file_list[0], "old/") == 0);
    SP_ASSERT_STR_CONTAINS(diag_msg(&d, SP_DIAG_WARNING, "noise_level"), "deprecated key; use 'noise_uniform'");
    SP_ASSERT_STR_CONTAINS(diag_msg(&d, SP_DIAG_WARNING, "scheduler_files"), "use 'file_list'");
    const char *const ignored[] = {"output_shape", "identifiable_flow", "REPETITIONS", "EXECUTIONS_FAST"};
    for (int i = 0; i < 4; i++) {
        const sp_diag_item *const it = find_diag(&d, SP_DIAG_WARNING, ignored[i]);
        SP_EXPECT_MSG(it != NULL && strstr(it->message, "ignored") != NULL, "%s not warned as ignored", ignored[i]);
    }
    SP_ASSERT_STR_CONTAINS(diag_msg(&d, SP_DIAG_WARNING, "device_ids"), "ignored");
    SP_ASSERT_EQ_INT(sp_diag_errors(&d), 0);
    SP_EXPECT(sp_config_has_key(&c, "noise_uniform") && sp_config_has_key(&c, "noise_level"));
    SP_EXPECT(!sp_config_has_key(&c, "dt"));
    sp_diag_free(&d);
    sp_config_free(&c);
    /* device_ids: null is accepted the same way. */
    SP_ASSERT_OK(load_text(&c, build_yaml(base_npy, NULL, "device_ids: null"), &d));
    SP_EXPECT(find_diag(&d, SP_DIAG_WARNING, "device_ids") != NULL);
    sp_diag_free(&d);
    sp_config_free(&c);
}

SP_TEST(config_warnings_for_soft_rules)
{
    sp_config c;
    sp_diag d;
    /* B % F != 0 and episodes with batches_per_flow_batch > 1 are warnings
     * (docs/synthpix-compat.md, Configuration, Rules between keys). */
    SP_ASSERT_OK(load_text(&c, build_yaml(base_npy, NULL, "flow_fields_per_batch: 3\nepisode_length: 4"), &d));
    SP_ASSERT_STR_CONTAINS(diag_msg(&d, SP_DIAG_WARNING, "flow_fields_per_batch"), "not a multiple of 3");
    SP_EXPECT(find_diag(&d, SP_DIAG_WARNING, "batches_per_flow_batch") != NULL);
    SP_ASSERT_EQ_INT(sp_diag_errors(&d), 0);
    sp_diag_free(&d);
    sp_config_free(&c);
    /* A duplicate key: the last value wins, as in PyYAML, with a warning. */
    char yaml[4096];
    snprintf(yaml, sizeof yaml, "%sbatch_size: 16\n", build_yaml(base_npy, NULL, NULL));
    SP_ASSERT_OK(load_text(&c, yaml, &d));
    SP_ASSERT_EQ_INT(c.batch_size, 16);
    SP_ASSERT_STR_CONTAINS(diag_msg(&d, SP_DIAG_WARNING, "batch_size"), "given more than once");
    sp_diag_free(&d);
    sp_config_free(&c);
}

SP_TEST(config_real_images_need_less)
{
    /* include_images: geometry and batches_per_flow_batch are not required
     * (docs/synthpix-compat.md, Configuration, Required keys). */
    sp_config c;
    sp_diag d;
    SP_ASSERT_OK(load_text(&c, "scheduler_class: .mat\ninclude_images: true\nfile_list: x/\nbatch_size: 10\n"
                               "flow_fields_per_batch: 10\n", &d));
    SP_ASSERT_EQ_INT(d.count, 0);
    SP_ASSERT_EQ_INT(c.include_images, 1);
    SP_ASSERT_EQ_INT(c.image_shape[0], 256); /* real-image default (docs/configuration.md) */
    SP_ASSERT_EQ_INT(c.image_shape[1], 256);
    SP_ASSERT_EQ_INT(c.file_list_len, 1); /* a single string is a one-entry list */
    sp_diag_free(&d);
    sp_config_free(&c);
    /* SynthPix's docs/examples/npy form: include_images with .npy is refused
     * (docs/synthpix-compat.md, Configuration, Rules between keys). */
    SP_ASSERT_STATUS(load_text(&c, "scheduler_class: .npy\ninclude_images: true\nfile_list: npy/\n"
                                   "batch_size: 10\nflow_fields_per_batch: 10\n", &d), SP_ERR_CONFIG);
    SP_EXPECT(find_diag(&d, SP_DIAG_ERROR, "include_images") != NULL);
    sp_diag_free(&d);
    sp_config_free(&c);
}

/* ---- defaults ---- */

SP_TEST(config_defaults_match_reference)
{
    sp_config c;
    sp_diag d;
    SP_ASSERT_OK(load_text(&c, build_yaml(base_npy, NULL, NULL), &d));
    /* docs/configuration.md, Pipeline keys */
    SP_ASSERT_EQ_INT(c.include_images, 0);
    SP_ASSERT_EQ_INT(c.randomize, 0);
    SP_ASSERT_EQ_INT(c.loop, 1);
    SP_ASSERT_EQ_U64(c.seed, 0);
    SP_ASSERT_EQ_INT(c.episode_length, 0);
    SP_ASSERT_EQ_INT(c.buffer_size, 0);
    SP_ASSERT_EQ_INT(c.worker_count, 0);
    SP_ASSERT_EQ_INT(c.num_threads, 16);
    /* docs/configuration.md, Image-generation keys */
    SP_ASSERT_NEAR(c.dt, 1.0, 0);
    SP_ASSERT_NEAR(c.seeding_density_range.min, 0.01, 0);
    SP_ASSERT_NEAR(c.seeding_density_range.max, 0.02, 0);
    SP_ASSERT_NEAR(c.p_hide_img1, 0.01, 0);
    SP_ASSERT_NEAR(c.p_hide_img2, 0.01, 0);
    SP_ASSERT_EQ_INT(c.n_diameter_ranges, 1);
    SP_ASSERT_NEAR(c.diameter_ranges[0].min, 0.1, 0);
    SP_ASSERT_NEAR(c.diameter_ranges[0].max, 1.0, 0);
    SP_ASSERT_NEAR(c.diameter_var, 1.0, 0);
    SP_ASSERT_EQ_INT(c.n_intensity_ranges, 1);
    SP_ASSERT_NEAR(c.intensity_ranges[0].min, 50, 0);
    SP_ASSERT_NEAR(c.intensity_ranges[0].max, 200, 0);
    SP_ASSERT_NEAR(c.intensity_var, 1.0, 0);
    SP_ASSERT_EQ_INT(c.n_rho_ranges, 1);
    SP_ASSERT_NEAR(c.rho_ranges[0].min, -0.99, 0);
    SP_ASSERT_NEAR(c.rho_ranges[0].max, 0.99, 0);
    SP_ASSERT_NEAR(c.rho_var, 1.0, 0);
    SP_ASSERT_NEAR(c.noise_uniform, 0, 0);
    SP_ASSERT_NEAR(c.noise_gaussian_mean, 0, 0);
    SP_ASSERT_NEAR(c.noise_gaussian_std, 0, 0);
    SP_EXPECT(c.mask == NULL && c.histogram == NULL);
    /* docs/configuration.md, Kinematic source keys */
    SP_ASSERT_EQ_INT(c.num_examples, 18278);
    SP_ASSERT_NEAR(c.filter_sigma_range.min, 5.0, 0);
    SP_ASSERT_NEAR(c.filter_sigma_range.max, 100.0, 0);
    SP_ASSERT_NEAR(c.max_displacement_range.min, 0.0, 0);
    SP_ASSERT_NEAR(c.max_displacement_range.max, 16.0, 0);
    /* the extensions keep SynthPix behaviour by default (docs/configuration.md, Extensions) */
    SP_ASSERT_EQ_INT(c.psf, SP_PSF_POINT);
    SP_ASSERT_EQ_INT(c.diameter_convention, SP_DIAMETER_SYNTHPIX);
    SP_ASSERT_EQ_INT(c.advection, SP_ADVECT_EULER);
    SP_ASSERT_EQ_INT(c.bit_depth, 8);
    SP_ASSERT_EQ_INT(c.threads, 0);
    sp_diag_free(&d);
    sp_config_free(&c);
    /* img_offset's default (128, 128) needs a config that leaves it out. */
    SP_ASSERT_OK(load_text(&c, build_yaml(base_npy, "img_offset", NULL), &d));
    SP_ASSERT_NEAR(c.img_offset[0], 128, 0);
    SP_ASSERT_NEAR(c.img_offset[1], 128, 0);
    sp_diag_free(&d);
    sp_config_free(&c);
}

SP_TEST(config_default_loads_cleanly)
{
    sp_config c;
    sp_diag d;
    sp_diag_init(&d);
    SP_ASSERT_OK(sp_config_load_default(&c, &d));
    if (d.count) dump(&d);
    SP_ASSERT_EQ_INT(d.count, 0);
    SP_ASSERT_EQ_INT(c.scheduler_class, SP_SOURCE_ANALYTIC);
    SP_ASSERT_EQ_INT(c.n_analytic, 8);
    SP_ASSERT_EQ_INT(c.analytic_num_examples, 1000000);
    SP_ASSERT_EQ_INT(c.flow_fields_per_batch, c.batch_size); /* a record per pair */
    SP_ASSERT_EQ_INT(c.batches_per_flow_batch, 1);
    static const sp_analytic_kind kinds[8] = {SP_FLOW_UNIFORM, SP_FLOW_LAMB_OSEEN, SP_FLOW_RANKINE,
                                              SP_FLOW_TAYLOR_GREEN, SP_FLOW_SHEAR, SP_FLOW_POISEUILLE,
                                              SP_FLOW_STAGNATION, SP_FLOW_KINEMATIC};
    for (int i = 0; i < 8; i++) SP_ASSERT_EQ_INT(c.analytic[i].kind, kinds[i]);
    SP_ASSERT_EQ_INT(c.image_shape[0], 256);
    SP_ASSERT_EQ_INT(c.image_shape[1], 256);
    SP_ASSERT_NEAR(c.flow_field_size[0], 1.6, 0);
    SP_ASSERT_NEAR(c.resolution, 200, 0);
    SP_ASSERT_NEAR(c.img_offset[1], 0.16, 0);
    SP_ASSERT_NEAR(c.dt, 0.01, 0);
    SP_ASSERT_NEAR(c.min_speed_x, -2.5, 0);
    SP_ASSERT_NEAR(c.max_speed_y, 2.5, 0);
    SP_ASSERT_EQ_INT(c.batch_size, 8);
    SP_ASSERT_EQ_INT(c.flow_fields_per_batch, 8);
    SP_ASSERT_EQ_INT(c.batches_per_flow_batch, 1);
    SP_ASSERT_NEAR(c.seeding_density_range.min, 0.02, 0);
    SP_ASSERT_EQ_INT(c.diameter_convention, SP_DIAMETER_E2);
    SP_ASSERT_EQ_INT(c.psf, SP_PSF_INTEGRATED);
    SP_ASSERT_NEAR(c.diameter_ranges[0].max, 4.0, 0);
    SP_ASSERT_NEAR(c.intensity_ranges[0].min, 150, 0);
    SP_ASSERT_NEAR(c.rho_ranges[0].min, -0.1, 0);
    SP_ASSERT_NEAR(c.p_hide_img2, 0.001, 0);
    SP_ASSERT_NEAR(c.noise_gaussian_mean, 2, 0);
    SP_ASSERT_NEAR(c.noise_gaussian_std, 2, 0);
    SP_ASSERT_EQ_INT(c.loop, 1);
    SP_ASSERT_EQ_INT(c.bit_depth, 8);
    SP_ASSERT_NEAR(c.analytic[7].max_displacement_range[0], 0.5, 0);
    SP_ASSERT_NEAR(c.analytic[7].max_displacement_range[1], 2.0, 0);
    SP_ASSERT_NEAR(c.analytic[7].filter_sigma_range[0], 2, 0); /* grid cells of its 80 x 80 grid */
    SP_ASSERT_NEAR(c.analytic[7].filter_sigma_range[1], 8, 0);
    SP_ASSERT_EQ_INT(c.analytic[7].grid[0], 80);
    SP_EXPECT(strcmp(c.source_name, "<embedded default>") == 0);
    sp_diag_free(&d);
    sp_config_free(&c);
}

/* Every closed-form default flow stays below 2.4 units/s on the whole domain (displacements
 * below ~5 px), checked on a fine grid with the flow module's evaluator. */
/* Peak speed of one concrete flow on a (n+1)^2 grid of the domain. */
static double peak_speed(const sp_analytic_params *p, double ly, double lx, int n)
{
    double peak = 0;
    for (int i = 0; i <= n; i++)
        for (int j = 0; j <= n; j++) {
            double u, v;
            sp_analytic_velocity(p, ly, lx, ly * i / n, lx * j / n, &u, &v);
            double const s = sqrt(u * u + v * v);
            if (s > peak) peak = s;
        }
    return peak;
}

/* Every flow the default can draw stays under 2.4 units/s (inside its +-2.5 speed bounds, so
 * the seeding margins hold): 150 records of each entry, drawn as the source draws them, on a
 * 161 x 161 grid of the domain (1 cm spacing: finer than the smallest vortex core, 13 cm). */
SP_TEST(config_default_flows_are_slow)
{
    sp_config c;
    SP_ASSERT_OK(sp_config_load_default(&c, NULL));
    double const ly = c.flow_field_size[0], lx = c.flow_field_size[1];
    for (size_t f = 0; f < c.n_analytic; f++) {
        if (c.analytic[f].kind == SP_FLOW_KINEMATIC) {
            SP_EXPECT(c.analytic[f].max_displacement_range[1] < 2.4);
            continue;
        }
        SP_EXPECT_MSG(c.analytic[f].random != 0, "default flow %zu draws nothing per record", f);
        double lowest = 1e9, highest = 0;
        for (uint64_t r = f; r < 150 * c.n_analytic; r += c.n_analytic) {
            sp_analytic_params p;
            sp_analytic_draw(&c.analytic[f], (uint32_t)c.seed, r, &p);
            double const peak = peak_speed(&p, ly, lx, 160);
            lowest = fmin(lowest, peak);
            highest = fmax(highest, peak);
        }
        SP_EXPECT_MSG(highest < 2.4, "default flow %zu peaks at %g units/s", f, highest);
        SP_EXPECT_MSG(highest > 1.0 && lowest < 0.8 * highest, "default flow %zu: peaks only in [%g, %g]", f, lowest,
                      highest);
        SP_EXPECT(highest <= c.max_speed_x + 1e-9);
    }
    sp_config_free(&c);
}

/* ---- writing ---- */

static void round_trip(const sp_config *c, const char *what)
{
    sp_membuf a = {0}, b = {0};
    sp_sink const sa = sp_sink_membuf(&a), sb = sp_sink_membuf(&b);
    SP_ASSERT_OK(sp_config_write_yaml(c, &sa, NULL));
    sp_config back;
    sp_diag d;
    sp_diag_init(&d);
    sp_status const st = sp_config_load_string(&back, (const char *)a.data, a.size, "rt", NULL, &d);
    if (st != SP_OK) {
        dump(&d);
        fprintf(stderr, "%.*s\n", (int)a.size, (const char *)a.data);
    }
    SP_EXPECT_MSG(st == SP_OK, "%s: written YAML does not load", what);
    SP_EXPECT_MSG(sp_config_equal(c, &back), "%s: round trip changed the configuration", what);
    SP_ASSERT_OK(sp_config_write_yaml(&back, &sb, NULL));
    /* Identical bytes after the first line (which names the source). */
    const char *const ba = memchr(a.data, '\n', a.size), *const bb = memchr(b.data, '\n', b.size);
    SP_EXPECT(ba != NULL && bb != NULL);
    size_t const ra = a.size - (size_t)(ba - (const char *)a.data), rb = b.size - (size_t)(bb - (const char *)b.data);
    SP_EXPECT_MSG(ra == rb && memcmp(ba, bb, ra) == 0, "%s: second write differs", what);
    sp_config_free(&back);
    sp_diag_free(&d);
    sp_membuf_free(&a);
    sp_membuf_free(&b);
}

SP_TEST(config_write_round_trip)
{
    sp_config c;
    sp_diag d;
    SP_ASSERT_OK(sp_config_load_default(&c, NULL));
    round_trip(&c, "default");
    sp_config_free(&c);
    static const char *const extra[] = {
        "dt: 0.1\nseeding_density_range: [0.1, 0.30000000000000004]\nseed: 18446744073709551615\n"
        "diameter_ranges: [[1e-3, 2.5], [3, 3]]\nmask: \"dir with \\\"quotes\\\"\\\\/m\\tnpy\"\nhistogram: h.npy\n"
        "file_list: [a.npy, \"b c.npy\", \"\\u00e9t\\u00e9.npy\"]\nbit_depth: 16\nthreads: 7\npsf: integrated\n",
        "min_speed_x: -1e-300\nnoise_gaussian_std: 1e300\nnoise_uniform: 123456789.123\nrho_ranges: [[-0.9999999999999999, 0.5]]\n",
    };
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) {
        SP_ASSERT_OK(load_text(&c, build_yaml(base_npy, NULL, extra[i]), &d));
        round_trip(&c, extra[i]);
        sp_diag_free(&d);
        sp_config_free(&c);
    }
    /* Analytic entries with NaN defaults (center, half_width), grids and off-kind parameters. */
    SP_ASSERT_OK(load_text(&c, build_yaml(base_analytic, NULL,
                                          "analytic_flow: [{kind: poiseuille}, {kind: lamb_oseen, center: [null, 0.3]},"
                                          " {kind: uniform, rate: 3, grid: [17, 33]}, {kind: kinematic}]\n"
                                          "analytic_num_examples: 100\nadvection: rk4"), &d));
    SP_ASSERT_EQ_INT(c.n_analytic, 4);
    SP_EXPECT(isnan(c.analytic[0].half_width) && isnan(c.analytic[1].center[0]));
    SP_ASSERT_NEAR(c.analytic[1].center[1], 0.3, 0);
    SP_ASSERT_EQ_INT(c.analytic[2].grid[1], 33);
    round_trip(&c, "analytic");
    sp_diag_free(&d);
    sp_config_free(&c);
    /* A real-image configuration has unset geometry; the writer must still give valid YAML. */
    SP_ASSERT_OK(load_text(&c, "scheduler_class: .mat\ninclude_images: true\nfile_list: [x/]\nbatch_size: 3\n"
                               "flow_fields_per_batch: 3\n", &d));
    round_trip(&c, "real images");
    sp_diag_free(&d);
    sp_config_free(&c);
}

SP_TEST(config_fixtures_load_and_round_trip)
{
    static const char *const files[] = {"main", "cylinder", "Jassal", "JHTDB", "test_data", "kinematic",
                                        "test_benchmark", "docs_mat", "docs_npy"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/tests/data/configs/%s.yaml", sp_test_source_dir(), files[i]);
        sp_config c;
        sp_diag d;
        sp_diag_init(&d);
        sp_status const st = sp_config_load_file(&c, path, &d);
        if (st != SP_OK) dump(&d);
        SP_EXPECT_MSG(st == SP_OK && sp_diag_errors(&d) == 0, "%s does not load", path);
        round_trip(&c, files[i]);
        sp_diag_free(&d);
        sp_config_free(&c);
    }
}

SP_TEST(config_fixture_values)
{
    /* Spot checks against docs/synthpix-compat.md, Example configurations. */
    char path[1024];
    sp_config c;
    snprintf(path, sizeof path, "%s/tests/data/configs/JHTDB.yaml", sp_test_source_dir());
    SP_ASSERT_OK(sp_config_load_file(&c, path, NULL));
    SP_ASSERT_EQ_INT(c.scheduler_class, SP_SOURCE_H5);
    SP_ASSERT_EQ_INT(c.batch_size, 128);
    SP_ASSERT_EQ_INT(c.flow_fields_per_batch, 64);
    SP_ASSERT_EQ_INT(c.batches_per_flow_batch, 500);
    SP_ASSERT_EQ_INT(c.image_shape[0], 1216);
    SP_ASSERT_EQ_INT(c.image_shape[1], 1936);
    SP_ASSERT_NEAR(c.flow_field_size[1], 12.56637061, 0);
    SP_ASSERT_NEAR(c.min_speed_y, -0.4597, 0);
    SP_ASSERT_EQ_INT(c.output_units, SP_UNITS_MEASURE_PER_SECOND);
    sp_config_free(&c);
    snprintf(path, sizeof path, "%s/tests/data/configs/kinematic.yaml", sp_test_source_dir());
    SP_ASSERT_OK(sp_config_load_file(&c, path, NULL));
    SP_ASSERT_EQ_INT(c.scheduler_class, SP_SOURCE_KINEMATIC);
    SP_ASSERT_EQ_INT(c.buffer_size, 150);
    SP_ASSERT_EQ_INT(c.randomize, 1);
    sp_config_free(&c);
}

SP_TEST(config_equal_detects_differences)
{
    sp_config a, b;
    SP_ASSERT_OK(sp_config_load_default(&a, NULL));
    SP_ASSERT_OK(sp_config_copy(&b, &a, NULL));
    SP_EXPECT(sp_config_equal(&a, &b));
    SP_EXPECT(b.source_name != a.source_name); /* deep copy */
    b.analytic[3].wavelength += 1e-12;
    SP_EXPECT(!sp_config_equal(&a, &b));
    b.analytic[3].wavelength = a.analytic[3].wavelength;
    b.rho_ranges[0].max = 0.2;
    SP_EXPECT(!sp_config_equal(&a, &b));
    sp_config_free(&b);
    sp_config_free(&b); /* free leaves an initialised value: freeing twice is safe */
    sp_config_free(&a);
}

/* ---- paths ---- */

SP_TEST(config_paths_resolve_against_base_dir)
{
    sp_config c;
    sp_diag d;
    sp_diag_init(&d);
    const char *const yaml = build_yaml(base_npy, NULL, "file_list: [flows/, /abs/x.npy, \"hf://org/set\"]\n"
                                                        "mask: masks/m.npy\nhistogram: /h/hist.npy");
    SP_ASSERT_OK(sp_config_load_string(&c, yaml, strlen(yaml), "t", "/data/cfg", &d));
    SP_ASSERT_EQ_INT(c.file_list_len, 3);
    SP_EXPECT(strcmp(c.file_list[0], "/data/cfg/flows/") == 0);
    SP_EXPECT(strcmp(c.file_list[1], "/abs/x.npy") == 0);
    SP_EXPECT(strcmp(c.file_list[2], "hf://org/set") == 0);
    SP_EXPECT(strcmp(c.mask, "/data/cfg/masks/m.npy") == 0);
    SP_EXPECT(strcmp(c.histogram, "/h/hist.npy") == 0);
    sp_config_free(&c);
    /* No base directory: paths stay as written (relative to the current directory). */
    SP_ASSERT_OK(sp_config_load_string(&c, yaml, strlen(yaml), "t", NULL, &d));
    SP_EXPECT(strcmp(c.file_list[0], "flows/") == 0);
    sp_config_free(&c);
    /* From a file: relative to the file's directory. */
    char path[1024], want[1200];
    snprintf(path, sizeof path, "%s/sub", sp_test_tmpdir());
    SP_EXPECT(sp_test_sh(NULL, 0, "mkdir -p '%s'", path) == 0);
    snprintf(path, sizeof path, "%s/sub/c.yaml", sp_test_tmpdir());
    sp_test_write_file(path, yaml, strlen(yaml));
    SP_ASSERT_OK(sp_config_load_file(&c, path, &d));
    snprintf(want, sizeof want, "%s/sub/flows/", sp_test_tmpdir());
    SP_EXPECT_MSG(strcmp(c.file_list[0], want) == 0, "got %s, want %s", c.file_list[0], want);
    SP_EXPECT(strcmp(c.source_name, path) == 0);
    sp_config_free(&c);
    sp_diag_free(&d);
}

SP_TEST(config_missing_file_names_it)
{
    sp_config c;
    sp_diag d;
    sp_diag_init(&d);
    SP_ASSERT_STATUS(sp_config_load_file(&c, "/nonexistent/dir/cfg.yaml", &d), SP_ERR_NOTFOUND);
    SP_EXPECT(d.count == 1);
    SP_ASSERT_STR_CONTAINS(d.items[0].message, "/nonexistent/dir/cfg.yaml");
    sp_diag_free(&d);
    SP_ASSERT_STATUS(sp_config_load_file(&c, sp_test_tmpdir(), &d), SP_ERR_IO); /* a directory */
    sp_diag_free(&d);
    sp_config_free(&c);
}

/* ---- YAML structure ---- */

SP_TEST(config_syntax_error_has_line_and_column)
{
    sp_config c;
    sp_diag d;
    SP_ASSERT_STATUS(load_text(&c, "batch_size: 8\nimage_shape: [64, 64\nseed: 1\n", &d), SP_ERR_CONFIG);
    SP_ASSERT_EQ_INT(d.count, 1);
    SP_EXPECT(d.items[0].line >= 2 && d.items[0].column > 0);
    SP_ASSERT_STR_CONTAINS(d.items[0].message, "line ");
    SP_ASSERT_STR_CONTAINS(d.items[0].message, "column ");
    sp_diag_free(&d);
    SP_ASSERT_STATUS(load_text(&c, "a: 1\n  b: 2\n", &d), SP_ERR_CONFIG); /* bad indentation */
    SP_ASSERT_EQ_INT(d.items[0].line, 2);
    sp_diag_free(&d);
    SP_ASSERT_STATUS(load_text(&c, "- 1\n- 2\n", &d), SP_ERR_CONFIG);
    SP_ASSERT_STR_CONTAINS(d.items[0].message, "expected a mapping");
    sp_diag_free(&d);
    SP_ASSERT_STATUS(load_text(&c, "", &d), SP_ERR_CONFIG);
    SP_ASSERT_STR_CONTAINS(d.items[0].message, "empty");
    sp_diag_free(&d);
    SP_ASSERT_STATUS(load_text(&c, "a: 1\n---\nb: 2\n", &d), SP_ERR_CONFIG);
    SP_ASSERT_STR_CONTAINS(d.items[0].message, "more than one YAML document");
    sp_diag_free(&d);
    SP_ASSERT_STATUS(load_text(&c, "seed: !!python/object 1\n", &d), SP_ERR_CONFIG);
    SP_ASSERT_STR_CONTAINS(d.items[0].message, "unsupported YAML tag");
    sp_diag_free(&d);
    sp_config_free(&c);
}

SP_TEST(config_anchors_and_alias_limits)
{
    sp_config c;
    sp_diag d;
    /* A legitimate alias is expanded. */
    SP_ASSERT_OK(load_text(&c, build_yaml(base_npy, NULL, "diameter_ranges: &r [[2, 3]]\nintensity_ranges: *r"), &d));
    SP_ASSERT_NEAR(c.intensity_ranges[0].max, 3, 0);
    sp_diag_free(&d);
    sp_config_free(&c);
    /* "Billion laughs": 10 levels of 10 aliases each would be 10^10 nodes. */
    char bomb[4096] = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
    for (int i = 1; i < 10; i++) {
        char line[200];
        snprintf(line, sizeof line, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i, i,
                 i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
        strcat(bomb, line);
    }
    SP_ASSERT_STATUS(load_text(&c, bomb, &d), SP_ERR_CONFIG);
    SP_ASSERT_STR_CONTAINS(d.items[0].message, "too many YAML nodes");
    sp_diag_free(&d);
    /* Deep nesting. */
    char deep[512] = "a: ";
    for (int i = 0; i < 100; i++) strcat(deep, "[");
    SP_ASSERT_STATUS(load_text(&c, deep, &d), SP_ERR_CONFIG);
    SP_ASSERT_STR_CONTAINS(d.items[0].message, "nesting too deep");
    sp_diag_free(&d);
    /* A recursive alias. */
    SP_ASSERT_STATUS(load_text(&c, "a: &x [1, *x]\n", &d), SP_ERR_CONFIG);
    SP_ASSERT_STR_CONTAINS(d.items[0].message, "unknown or unfinished anchor");
    sp_diag_free(&d);
    sp_config_free(&c);
}

SP_TEST(config_diag_print_format)
{
    sp_config c;
    sp_diag d;
    SP_ASSERT_STATUS(load_text(&c, build_yaml(base_npy, NULL, "p_hide_img1: 1.5"), &d), SP_ERR_CONFIG);
    char path[1024];
    snprintf(path, sizeof path, "%s/diag.txt", sp_test_tmpdir());
    FILE *const f = fopen(path, "w");
    SP_EXPECT(f != NULL);
    sp_diag_print(&d, "cfg.yaml", f);
    fclose(f);
    size_t n = 0;
    char *const text = (char *)sp_test_read_file(path, &n);
    /* p_hide_img1 is the last line of the base (15 lines) plus the override: line 16. */
    SP_ASSERT_STR_CONTAINS(text, "cfg.yaml:16:14: error: p_hide_img1: 1.5 is out of range; expected a number in [0, 1]");
    free(text);
    sp_diag_free(&d);
    sp_config_free(&c);
}

SP_TEST(config_source_kind_names)
{
    SP_EXPECT(strcmp(sp_source_kind_name(SP_SOURCE_MAT), ".mat") == 0);
    SP_EXPECT(strcmp(sp_source_kind_name(SP_SOURCE_FLO), ".flo") == 0);
    SP_EXPECT(strcmp(sp_source_kind_name(SP_SOURCE_ANALYTIC), "analytic") == 0);
    sp_source_kind k;
    SP_ASSERT_OK(sp_source_kind_parse("kinematic", &k));
    SP_ASSERT_EQ_INT(k, SP_SOURCE_KINEMATIC);
    SP_ASSERT_STATUS(sp_source_kind_parse("mat", &k), SP_ERR_INVALID);
}

/* ---- CLI (skipped when the CLI has not been built) ---- */

SP_TEST(config_cli_check_and_default)
{
    char out[16384];
    if (access(sp_test_cli(), X_OK) != 0) sp_test_skip("CLI not built at %s", sp_test_cli());
    SP_ASSERT_EQ_INT(sp_test_sh(out, sizeof out, "'%s' config default", sp_test_cli()), 0);
    SP_ASSERT_STR_CONTAINS(out, "scheduler_class: analytic");
    char path[1024];
    snprintf(path, sizeof path, "%s/bad.yaml", sp_test_tmpdir());
    const char *const bad = "scheduler_class: .npy\nfile_list: [a]\nbatch_size: abc\nflow_fields_per_batch: 1\n"
                            "p_hide_img1: 2\nbatchsize: 1\n";
    sp_test_write_file(path, bad, strlen(bad));
    SP_ASSERT_EQ_INT(sp_test_sh(out, sizeof out, "'%s' config check '%s' 2>&1", sp_test_cli(), path), 2);
    SP_ASSERT_STR_CONTAINS(out, "batch_size: abc is not an integer");
    SP_ASSERT_STR_CONTAINS(out, "p_hide_img1: 2 is out of range");
    SP_ASSERT_STR_CONTAINS(out, "did you mean 'batch_size'?");
    SP_ASSERT_STR_CONTAINS(out, "missing required key 'resolution'");
    snprintf(path, sizeof path, "%s/tests/data/configs/JHTDB.yaml", sp_test_source_dir());
    SP_ASSERT_EQ_INT(sp_test_sh(out, sizeof out, "'%s' config check '%s' 2>/dev/null", sp_test_cli(), path), 0);
    SP_ASSERT_STR_CONTAINS(out, "batches_per_flow_batch: 500");
    SP_ASSERT_EQ_INT(sp_test_sh(out, sizeof out, "'%s' config check /nonexistent.yaml 2>&1", sp_test_cli()), 1);
    SP_ASSERT_EQ_INT(sp_test_sh(out, sizeof out, "'%s' config frobnicate 2>&1", sp_test_cli()), 2);
    SP_ASSERT_EQ_INT(sp_test_sh(out, sizeof out, "'%s' config check --help", sp_test_cli()), 0);
    SP_ASSERT_STR_CONTAINS(out, "usage: synthpix config check FILE");
}

/* ---- API edges ---- */

SP_TEST(config_load_without_diag_still_fails)
{
    sp_config c;
    const char *const yaml = build_yaml(base_npy, NULL, "p_hide_img1: 7");
    SP_ASSERT_STATUS(sp_config_load_string(&c, yaml, strlen(yaml), "t", NULL, NULL), SP_ERR_CONFIG);
    /* A failed load leaves an initialised value (the defaults, no owned strings). */
    SP_EXPECT(c.file_list == NULL && c.source_name == NULL);
    SP_ASSERT_EQ_INT(c.num_threads, 16);
    sp_config_free(&c);
}

SP_TEST(config_diag_list_is_capped)
{
    /* 1500 invalid entries in one list: the status fails, the list stops at 1000 items. */
    static char yaml[65536];
    strcpy(yaml, build_yaml(base_npy, NULL, NULL));
    strcat(yaml, "device_ids: [");
    for (int i = 0; i < 1500; i++) strcat(yaml, i ? ", x" : "x");
    strcat(yaml, "]\n");
    sp_config c;
    sp_diag d;
    SP_ASSERT_STATUS(load_text(&c, yaml, &d), SP_ERR_CONFIG);
    SP_ASSERT_EQ_INT(d.count, 1000);
    sp_diag_free(&d);
    sp_config_free(&c);
}

static sp_status failing_write(void *ctx, const void *data, size_t n, sp_error *err)
{
    (void)data;
    size_t *const budget = (size_t *)ctx;
    if (n > *budget) return sp_error_set(err, SP_ERR_NOSPC, "sink full");
    *budget -= n;
    return SP_OK;
}

SP_TEST(config_write_reports_sink_failure)
{
    sp_config c;
    SP_ASSERT_OK(sp_config_load_default(&c, NULL));
    size_t budget = 100; /* fails part-way through */
    sp_sink const s = {failing_write, &budget};
    sp_error e;
    sp_error_clear(&e);
    SP_ASSERT_STATUS(sp_config_write_yaml(&c, &s, &e), SP_ERR_NOSPC);
    SP_ASSERT_STR_CONTAINS(e.message, "sink full");
    sp_config_free(&c);
}

/* Ranges in analytic_flow: a scalar or a centre component given as [lo, hi] is drawn per
 * record; bad ranges are refused by key; uniform takes u/v or speed/angle, not both. */
SP_TEST(config_analytic_ranges)
{
    sp_config c;
    sp_diag d;
    SP_ASSERT_OK(load_text(&c, build_yaml(base_analytic, NULL,
                                          "analytic_flow: [{kind: lamb_oseen, center: [[0.2, 0.4], 0.5], "
                                          "circulation: [-3, 3], core_radius: 0.2}]"),
                           &d));
    const sp_analytic_params *const p = &c.analytic[0];
    SP_ASSERT_EQ_INT(p->random, 1u << SP_AP_CENTER_Y | 1u << SP_AP_CIRCULATION);
    SP_ASSERT_NEAR(p->range[SP_AP_CENTER_Y][1], 0.4, 0);
    SP_ASSERT_NEAR(p->range[SP_AP_CIRCULATION][0], -3, 0);
    SP_ASSERT_NEAR(p->center[1], 0.5, 0);
    round_trip(&c, "ranges");
    sp_diag_free(&d);
    sp_config_free(&c);
    const struct {
        const char *set, *words;
    } bad[] = {{"analytic_flow: [{kind: lamb_oseen, circulation: [3, -3]}]", "analytic_flow[0].circulation"},
               {"analytic_flow: [{kind: rankine, core_radius: [0, 0.3]}]", "analytic_flow[0].core_radius"},
               {"analytic_flow: [{kind: uniform, u: 1, speed: [0, 2]}]", "not both"},
               {"analytic_flow: [{kind: uniform, speed: [-1, 2]}]", "analytic_flow[0].speed"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sp_diag_init(&d);
        SP_ASSERT_STATUS(load_text(&c, build_yaml(base_analytic, NULL, bad[i].set), &d), SP_ERR_CONFIG);
        int found = 0;
        for (size_t k = 0; k < d.count; k++) found |= strstr(d.items[k].message, bad[i].words) != NULL;
        SP_EXPECT_MSG(found, "%s: no error names '%s'", bad[i].set, bad[i].words);
        sp_diag_free(&d);
    }
}
