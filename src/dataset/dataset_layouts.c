/* dataset_layouts.c: the dataset layouts other than synthpix's own (docs/formats.md,
 * "Dataset layouts"): their names, what each needs and fixes, the split rule, the pair file
 * names, and their part of dataset.json and of the progress record.
 *
 *   cai          <case>_NNNNN_img1.tif, _img2.tif, _flow.flo (NNNNN = pair index + 1, at
 *                least 5 digits), FlowData_train.list and FlowData_test.list: one line per
 *                pair, "<img1>\t<img2>\t<flow>\n", names relative to the dataset folder
 *   pykitpiv     pykitpiv.h5: I (N, 2, H, W) float32 = clamp(image, 0, 255) * 257, targets
 *                (N, 2, H, W) float32 = (u, v) in pixels, v along increasing rows
 *   liteflownet  liteflownet.h5: train/ and val/, each data1, data2 (n, H, W, 3) uint8 (the
 *                8-bit image in all three channels) and label (n, H, W, 2) float32 (u, v)
 * Every layout but synthpix needs two frames, a flow grid equal to the image grid,
 * output_units: pixels and one process; params.jsonl and dataset.json are written as for
 * the synthpix layout (dataset.json gains layout, split, case and split_pairs).
 *
 * Split rule (sp_dataset_split_is_test): pair n is a test (val) pair when the Threefry word
 * sp_random_bits(fold_in(PRNGKey(seed), 0x73706c74), n) is below split * 2^32. It depends
 * only on the seed and the pair index, so a resumed job splits exactly as the killed one.
 */
#include "dataset_internal.h"

#include "sp/sp_rng.h"

#define SP_SPLIT_KEY_TAG 0x73706c74u /* "splt" */

static const char *const layout_names[SP_DATASET_LAYOUT_COUNT_] = {"synthpix", "cai", "pykitpiv", "liteflownet"};

const char *sp_dataset_layout_name(sp_dataset_layout l)
{
    return (unsigned)l < SP_DATASET_LAYOUT_COUNT_ ? layout_names[l] : NULL;
}

int sp_dataset_layout_parse(const char *name, sp_dataset_layout *out)
{
    for (unsigned i = 0; name && i < SP_DATASET_LAYOUT_COUNT_; i++) {
        if (strcmp(name, layout_names[i]) == 0) {
            *out = (sp_dataset_layout)i;
            return 1;
        }
    }
    return 0;
}

int sp_dataset_split_is_test(uint64_t seed, uint64_t index, double split)
{
    sp_key const key = sp_key_fold_in(sp_key_from_seed(seed), SP_SPLIT_KEY_TAG);
    /* 2^32 * split is exact in double; b < 2^32 always, so split 1 takes every pair and
     * split 0 (or NaN, refused earlier) none. */
    return (double)sp_random_bits(key, index) < split * 4294967296.0;
}

/* ---- what a layout needs ------------------------------------------------------------- */

static int case_ok(const char *s)
{
    size_t const n = strlen(s);
    if (n == 0 || n > SP_DATASET_CASE_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '_' || s[i] == '-'))
            return 0;
    return 1;
}

static int uses_split(sp_dataset_layout l)
{
    return l == SP_DATASET_LAYOUT_CAI || l == SP_DATASET_LAYOUT_LITEFLOWNET;
}

/* The image bit depth each layout stores, from the one asked for (0 = the configuration's). */
static sp_status layout_bits(const sp_dataset_options *o, int *bits, sp_error *err)
{
    const char *const name = sp_dataset_layout_name(o->layout);
    const char *const from = o->bit_depth ? "asked for" : "the configuration's bit_depth";
    if (o->layout == SP_DATASET_LAYOUT_PYKITPIV) {
        SP_RETURN_IF(o->bit_depth != 0 && o->bit_depth != 32, err, SP_ERR_INVALID,
                     "bit depth %d: the pykitpiv layout stores float32 images (I in [0, 65535]); leave the bit depth "
                     "unset", o->bit_depth);
        *bits = 32;
    } else if (o->layout == SP_DATASET_LAYOUT_LITEFLOWNET) {
        SP_RETURN_IF(*bits != 8, err, SP_ERR_INVALID,
                     "bit depth %d (%s): the liteflownet layout stores uint8 images (data1, data2); use bit depth 8",
                     *bits, from);
    } else {
        SP_RETURN_IF(*bits != 8 && *bits != 16, err, SP_ERR_INVALID,
                     "bit depth %d (%s): the %s layout stores 8- or 16-bit TIFF images", *bits, from, name);
    }
    return SP_OK;
}

sp_status sp__layout_resolve(const sp_dataset_options *opt, const sp_config *cfg, const sp_geometry *geom,
                             sp_dataset_options *out, int *bits, sp_error *err)
{
    *out = *opt;
    *bits = opt->bit_depth ? opt->bit_depth : cfg->bit_depth;
    SP_RETURN_IF((unsigned)opt->layout >= SP_DATASET_LAYOUT_COUNT_, err, SP_ERR_INVALID,
                 "dataset layout %d is not one of synthpix, cai, pykitpiv, liteflownet", (int)opt->layout);
    if (opt->layout == SP_DATASET_LAYOUT_SYNTHPIX) return SP_OK;
    const char *const name = sp_dataset_layout_name(opt->layout);
    SP_RETURN_IF(!(opt->split >= 0.0 && opt->split <= 1.0), err, SP_ERR_INVALID,
                 "split %g is not in [0, 1] (the fraction of pairs that go to the test part)", opt->split);
    SP_RETURN_IF(opt->case_name && !case_ok(opt->case_name), err, SP_ERR_INVALID,
                 "case name '%.80s' is not 1 to %d characters of [A-Za-z0-9_-]", opt->case_name, SP_DATASET_CASE_MAX);
    SP_RETURN_IF(!cfg->include_images && cfg->frames != 2, err, SP_ERR_UNSUPPORTED,
                 "frames: %d: the %s layout stores image pairs only; write %d frames per sample with the synthpix "
                 "layout (--format png, tiff or npy)", cfg->frames, name, cfg->frames);
    SP_RETURN_IF(geom->flow_h != geom->height || geom->flow_w != geom->width, err, SP_ERR_INVALID,
                 "the %s layout stores one flow vector per pixel, but the flow grid is %zux%zu and the images %zux%zu "
                 "(set velocities_per_pixel: 1)", name, geom->flow_h, geom->flow_w, geom->height, geom->width);
    SP_RETURN_IF(cfg->output_units != SP_UNITS_PIXELS, err, SP_ERR_INVALID,
                 "the %s layout stores displacements in pixels (set output_units: pixels)", name);
    SP_TRY(layout_bits(opt, bits, err));
    out->bit_depth = *bits;
    out->format = opt->layout == SP_DATASET_LAYOUT_CAI ? SP_DATASET_TIFF : SP_DATASET_H5;
    out->shard_size = 256; /* unused: the layout has no shards */
    SP_RETURN_IF(out->format == SP_DATASET_H5 && !sp_have_feature("hdf5"), err, SP_ERR_UNSUPPORTED,
                 "synthpix was built without libhdf5: the %s layout needs it (install libhdf5-dev and rebuild)", name);
    return SP_OK;
}

void sp__layout_init(sp_dataset_writer *w, const sp_config *cfg)
{
    static const size_t sides[SP_DATASET_LAYOUT_COUNT_] = {0, 2, 1, 2};
    w->layout = w->opt.layout;
    w->split = uses_split(w->layout) ? w->opt.split : 0.0;
    snprintf(w->case_name, sizeof w->case_name, "%s", w->opt.case_name ? w->opt.case_name : "synthpix");
    w->opt.case_name = NULL; /* copied */
    w->seed = cfg->seed;
    w->nside = sides[w->layout];
    for (size_t i = 0; i < SP_DATASET_SIDE_MAX; i++) w->side[i].fd = -1;
}

void sp__layout_find_case(sp_dataset_writer *w)
{
    char path[SP_FS_PATH_MAX];
    snprintf(path, sizeof path, "%s/dataset.json", w->dir);
    unsigned char *buf = NULL;
    size_t n = 0;
    w->found_case[0] = '\0';
    if (sp__fs_read_file(w->fs, path, (size_t)64 << 20, &buf, &n, path, NULL) != SP_OK) return;
    json_t *const d = json_loadb((const char *)buf, n, 0, NULL);
    free(buf);
    const char *const format = json_string_value(json_object_get(d, "format"));
    const char *const layout = json_string_value(json_object_get(d, "layout"));
    const char *const case_name = json_string_value(json_object_get(d, "case"));
    if (format && strcmp(format, "synthpix-dataset") == 0 && layout && strcmp(layout, "cai") == 0 && case_name &&
        case_ok(case_name))
        snprintf(w->found_case, sizeof w->found_case, "%s", case_name);
    json_decref(d);
}

const char *sp__side_base(const sp_dataset_writer *w, size_t i)
{
    if (w->layout == SP_DATASET_LAYOUT_CAI) return i == 0 ? "FlowData_train.list" : "FlowData_test.list";
    return w->layout == SP_DATASET_LAYOUT_PYKITPIV ? "pykitpiv.h5" : "liteflownet.h5";
}

int sp__pair_path(const sp_dataset_writer *w, uint64_t index, const char *suffix, char *buf, size_t cap)
{
    unsigned long long const n1 = (unsigned long long)index + 1; /* cai numbers from 00001 */
    int const n = w->layout == SP_DATASET_LAYOUT_CAI
                      ? snprintf(buf, cap, "%s/%s_%05llu_%s", w->dir, w->case_name, n1, suffix)
                      : snprintf(buf, cap, "%s/pair_%06llu_%s", w->dir, (unsigned long long)index, suffix);
    return n > 0 && (size_t)n < cap;
}

/* ---- the progress record ------------------------------------------------------------- */

void sp__layout_progress(const sp_dataset_writer *w, json_t *u)
{
    if (w->layout == SP_DATASET_LAYOUT_SYNTHPIX || u == NULL) return;
    json_object_set_new(u, "layout", json_string(sp_dataset_layout_name(w->layout)));
    json_object_set_new(u, "split", json_real(w->split));
    json_object_set_new(u, "case", json_string(w->case_name));
    json_t *const sides = json_array();
    for (size_t i = 0; i < w->nside; i++) {
        const char *const slash = strrchr(w->side[i].path, '/');
        json_array_append_new(sides, json_pack("[s, I, I]", slash ? slash + 1 : w->side[i].path,
                                               (json_int_t)w->side[i].bytes, (json_int_t)w->side[i].count));
    }
    json_object_set_new(u, "side_files", sides);
}

/* A side file the record names: a temporary of the expected base name. */
static sp_status take_side(sp_dataset_writer *w, size_t i, const json_t *e, sp_error *err)
{
    const char *const name = json_string_value(json_array_get(e, 0));
    json_t *const bytes = json_array_get(e, 1), *const count = json_array_get(e, 2);
    const char *const base = sp__side_base(w, i);
    size_t const n = strlen(base);
    int const ok = name && strchr(name, '/') == NULL && strncmp(name, base, n) == 0 &&
                   strncmp(name + n, SP_FS_TMP_TAG, strlen(SP_FS_TMP_TAG)) == 0 && json_is_integer(bytes) &&
                   json_is_integer(count) && json_integer_value(bytes) >= 0 && json_integer_value(count) >= 0;
    SP_RETURN_IF(!ok, err, SP_ERR_CORRUPT, "the checkpoint's progress record names no valid %s side file", base);
    char *const path = w->side[i].path;
    SP_RETURN_IF((size_t)snprintf(path, SP_FS_PATH_MAX, "%s/%s", w->dir, name) >= SP_FS_PATH_MAX, err, SP_ERR_INVALID,
                 "%s: path too long", w->dir);
    w->side[i].bytes = (uint64_t)json_integer_value(bytes);
    w->side[i].count = (uint64_t)json_integer_value(count);
    return SP_OK;
}

sp_status sp__layout_parse_progress(sp_dataset_writer *w, const json_t *u, sp_error *err)
{
    const char *layout = json_string_value(json_object_get(u, "layout"));
    if (layout == NULL) layout = "synthpix"; /* records of the synthpix layout carry none */
    const char *const mine = sp_dataset_layout_name(w->layout);
    const char *const case_name = json_string_value(json_object_get(u, "case"));
    const char *why = NULL;
    if (strcmp(layout, mine) != 0) why = "the layout differs";
    else if (w->layout == SP_DATASET_LAYOUT_SYNTHPIX) return SP_OK;
    else if (json_real_value(json_object_get(u, "split")) != w->split) why = "the split differs";
    else if (case_name == NULL || strcmp(case_name, w->case_name) != 0) why = "the case name differs";
    if (why)
        return sp_error_set(err, SP_ERR_MISMATCH, "%s from the run that wrote it (layout %s; this run: %s)", why,
                            layout, mine);
    const json_t *const sides = json_object_get(u, "side_files");
    SP_RETURN_IF(json_array_size(sides) != w->nside, err, SP_ERR_CORRUPT,
                 "the checkpoint's progress record lists %zu side files; the %s layout has %zu", json_array_size(sides),
                 mine, w->nside);
    for (size_t i = 0; i < w->nside; i++) SP_TRY(take_side(w, i, json_array_get(sides, i), err));
    return SP_OK;
}

/* ---- dataset.json ---------------------------------------------------------------------- */

void sp__layout_json(const sp_dataset_writer *w, json_t *root)
{
    if (w->layout == SP_DATASET_LAYOUT_SYNTHPIX) return;
    json_object_set_new(root, "layout", json_string(sp_dataset_layout_name(w->layout)));
    if (w->layout == SP_DATASET_LAYOUT_CAI) json_object_set_new(root, "case", json_string(w->case_name));
    if (!uses_split(w->layout)) return;
    json_object_set_new(root, "split", json_real(w->split));
    const char *const second = w->layout == SP_DATASET_LAYOUT_CAI ? "test" : "val";
    json_object_set_new(root, "split_pairs", json_pack("{s:I, s:I}", "train", (json_int_t)w->side[0].count, second,
                                                       (json_int_t)w->side[1].count));
}

json_t *sp__layout_files_json(const sp_dataset_writer *w)
{
    if (w->layout == SP_DATASET_LAYOUT_SYNTHPIX) return NULL;
    if (w->layout != SP_DATASET_LAYOUT_CAI)
        return json_pack("{s:s, s:s}", "file", sp__side_base(w, 0), "params", "params.jsonl");
    char img1[96], img2[96], flow[96];
    snprintf(img1, sizeof img1, "%s_%%05d_img1.tif", w->case_name);
    snprintf(img2, sizeof img2, "%s_%%05d_img2.tif", w->case_name);
    snprintf(flow, sizeof flow, "%s_%%05d_flow.flo", w->case_name);
    return json_pack("{s:s, s:s, s:s, s:i, s:s, s:s, s:s}", "image1", img1, "image2", img2, "flow", flow,
                     "first_number", 1, "train_list", "FlowData_train.list", "test_list", "FlowData_test.list",
                     "params", "params.jsonl");
}

int sp__layout_json_matches(const sp_dataset_writer *w, const json_t *doc)
{
    const char *layout = json_string_value(json_object_get(doc, "layout"));
    if (layout == NULL) layout = "synthpix";
    if (strcmp(layout, sp_dataset_layout_name(w->layout)) != 0) return 0;
    const char *const case_name = json_string_value(json_object_get(doc, "case"));
    if (w->layout == SP_DATASET_LAYOUT_CAI && (case_name == NULL || strcmp(case_name, w->case_name) != 0)) return 0;
    return !uses_split(w->layout) || json_real_value(json_object_get(doc, "split")) == w->split;
}
