/* dataset_meta.c: the small text files of a dataset and the writer's progress record.
 *
 * params.jsonl: one line per pair, in pair order, keys in this fixed order (docs/formats.md):
 *   index, record_seed, key, seeding_density, diameter_range, intensity_range, rho_range,
 *   particles, source (JSON-escaped), record, epoch, batch, repetition, and with a light
 *   sheet only (so lines without one are unchanged) sheet: {profile, thickness, edge,
 *   depth, w, in_sheet, lost, gained} (docs/realism.md).
 * Floats print with %.9g, which round-trips float32 exactly.
 *
 * dataset.json: format "synthpix-dataset", version, pairs, optional data_shard, image format
 * and bit depth, shapes, (other layouts: layout, case, split, split_pairs), flow units, file
 * name patterns and the configuration echo; jansson, 2-space indent, keys in insertion
 * order, one trailing newline. The layouts' spools are removed between its rename and the
 * folder's fsync (docs/durability.md).
 *
 * The progress record (the "user" leaf of a generate checkpoint) says how far the dataset
 * on disk is durable: pairs covered and written, the durable length of the partial
 * params file and its name (other layouts: of each side file), plus what must not change on
 * resume (format, layout, split, case, bit depth, pairs bound, configuration CRC32C, and
 * the data shard of a sharded dataset). Records of the synthpix layout carry no layout key
 * and are read as before.
 */
#include "dataset_internal.h"

#include <jansson.h>

static const char *const format_names[SP_DATASET_FORMAT_COUNT_] = {"png", "tiff", "npy", "h5"};
static const char *const format_exts[SP_DATASET_FORMAT_COUNT_] = {"png", "tif", "npy", "h5"};

const char *sp_dataset_format_name(sp_dataset_format f)
{
    return (unsigned)f < SP_DATASET_FORMAT_COUNT_ ? format_names[f] : NULL;
}

int sp_dataset_format_parse(const char *name, sp_dataset_format *out)
{
    static const struct {
        const char *name;
        sp_dataset_format f;
    } names[] = {{"png", SP_DATASET_PNG}, {"tiff", SP_DATASET_TIFF}, {"tif", SP_DATASET_TIFF},
                 {"npy", SP_DATASET_NPY}, {"h5", SP_DATASET_H5},     {"hdf5", SP_DATASET_H5}};
    for (size_t i = 0; name && i < SP_ARRAY_LEN(names); i++) {
        if (strcmp(name, names[i].name) == 0) {
            *out = names[i].f;
            return 1;
        }
    }
    return 0;
}

const char *sp__dataset_ext(sp_dataset_format f)
{
    return (unsigned)f < SP_DATASET_FORMAT_COUNT_ ? format_exts[f] : "?";
}

/* ---- params.jsonl ---------------------------------------------------------------------- */

static sp_status json_escaped(const sp_sink *sink, const char *text, sp_error *err)
{
    for (const char *c = text; *c; c++) {
        char esc[8];
        size_t len = 1;
        esc[0] = *c;
        if (*c == '"' || *c == '\\') {
            esc[0] = '\\';
            esc[1] = *c;
            len = 2;
        } else if ((unsigned char)*c < 0x20) {
            len = (size_t)snprintf(esc, sizeof esc, "\\u%04x", (unsigned)(unsigned char)*c);
        }
        SP_TRY(sp_sink_write(sink, esc, len, err));
    }
    return SP_OK;
}

/* Appends "[v0, v1, ...]" of n floats (or unsigned counts) to line at *len. */
static void json_list(char *line, size_t cap, size_t *len, const float *f, const uint32_t *u, size_t n)
{
    for (size_t i = 0; i < n && *len < cap; i++) {
        const char *const sep = i ? ", " : "[";
        int const m = f ? snprintf(line + *len, cap - *len, "%s%.9g", sep, (double)f[i])
                        : snprintf(line + *len, cap - *len, "%s%u", sep, u[i]);
        *len += (size_t)m;
    }
    if (*len < cap) *len += (size_t)snprintf(line + *len, cap - *len, n ? "]" : "[]");
}

/* The light sheet's part of a params line (docs/realism.md): ", \"sheet\": {...}". */
static sp_status sheet_json(const sp_sink *sink, const sp_batch *b, size_t k, sp_error *err)
{
    static const char *const profiles[] = {"none", "gaussian", "tophat"};
    const sp_pair_params *const p = &b->params[k];
    size_t const K = b->frames;
    char line[2048];
    size_t len = (size_t)snprintf(line, sizeof line,
                                  ", \"sheet\": {\"profile\": \"%s\", \"thickness\": %.9g, \"edge\": %.9g, "
                                  "\"depth\": [%.9g, %.9g], \"w\": %.9g, \"in_sheet\": ",
                                  p->sheet_profile < 3 ? profiles[p->sheet_profile] : "?", (double)p->sheet_thickness,
                                  (double)p->sheet_edge, (double)p->depth[0], (double)p->depth[1], (double)p->w);
    json_list(line, sizeof line, &len, NULL, p->in_sheet, K);
    len += (size_t)snprintf(line + len, sizeof line - len, ", \"lost\": ");
    json_list(line, sizeof line, &len, p->lost, NULL, K - 1);
    len += (size_t)snprintf(line + len, sizeof line - len, ", \"gained\": ");
    json_list(line, sizeof line, &len, p->gained, NULL, K - 1);
    len += (size_t)snprintf(line + len, sizeof line - len, "}");
    SP_RETURN_IF(len >= sizeof line, err, SP_ERR_RANGE, "params line too long");
    return sp_sink_write(sink, line, len, err);
}

sp_status sp__params_line(sp_membuf *out, const sp_batch *b, size_t k, sp_error *err)
{
    const sp_pair_params *const p = &b->params[k];
    char line[2048];
    int const n = snprintf(line, sizeof line,
        "{\"index\": %llu, \"record_seed\": %u, \"key\": [%u, %u], \"seeding_density\": %.9g, "
        "\"diameter_range\": [%.9g, %.9g], \"intensity_range\": [%.9g, %.9g], \"rho_range\": [%.9g, %.9g], "
        "\"particles\": %u, \"source\": \"",
        (unsigned long long)(b->first_pair + k), b->seeds[k], b->keys[k].k[0], b->keys[k].k[1],
        (double)p->seeding_density, (double)p->diameter_range[0], (double)p->diameter_range[1],
        (double)p->intensity_range[0], (double)p->intensity_range[1], (double)p->rho_range[0],
        (double)p->rho_range[1], p->particles);
    sp_sink const sink = sp_sink_membuf(out);
    SP_TRY(sp_sink_write(&sink, line, (size_t)n, err));
    SP_TRY(json_escaped(&sink, b->files[k], err));
    int const m = snprintf(line, sizeof line, "\", \"record\": %llu, \"epoch\": %d, \"batch\": %llu, \"repetition\": %u",
                           (unsigned long long)b->records[k], (int)b->epoch[k], (unsigned long long)b->batch_index,
                           b->repetition);
    SP_TRY(sp_sink_write(&sink, line, (size_t)m, err));
    if (p->sheet_profile != SP_SHEET_NONE) SP_TRY(sheet_json(&sink, b, k, err));
    return sp_sink_write(&sink, "}\n", 2, err);
}

/* ---- dataset.json -------------------------------------------------------------------- */

static json_t *file_patterns(const sp_dataset_writer *w)
{
    sp_dataset_format const f = w->opt.format;
    if (w->layout != SP_DATASET_LAYOUT_SYNTHPIX) return sp__layout_files_json(w);
    if (f == SP_DATASET_H5)
        return json_pack("{s:s, s:I, s:s}", "shards", "shard_%05d.h5", "shard_size", (json_int_t)w->opt.shard_size,
                         "params", "params.jsonl");
    json_t *const o = json_object();
    for (size_t i = 1; i <= w->frames; i++) {
        char key[16], name[32];
        snprintf(key, sizeof key, "image%zu", i);
        snprintf(name, sizeof name, "pair_%%06d_img%zu.%s", i, sp__dataset_ext(f));
        json_object_set_new(o, key, json_string(name));
    }
    json_object_set_new(o, "flow", json_string(f == SP_DATASET_NPY ? "pair_%06d_flow.npy" : "pair_%06d_flow.flo"));
    json_object_set_new(o, "params", json_string("params.jsonl"));
    return o;
}

static json_t *dataset_doc(const sp_dataset_writer *w)
{
    sp_dataset_format const f = w->opt.format;
    json_t *const root = json_object();
    json_object_set_new(root, "format", json_string("synthpix-dataset"));
    json_object_set_new(root, "synthpix_version", json_string(SP_VERSION_STRING));
    json_object_set_new(root, "stream_version", json_integer(SP_STREAM_VERSION));
    json_object_set_new(root, "pairs", json_integer((json_int_t)w->written));
    if (w->opt.data_shard_count > 1)
        json_object_set_new(root, "data_shard", json_pack("{s:I, s:I}", "index", (json_int_t)w->opt.data_shard_index,
                                                          "count", (json_int_t)w->opt.data_shard_count));
    json_object_set_new(root, "image_format", json_string(sp__dataset_ext(f)));
    json_object_set_new(root, "bit_depth", f == SP_DATASET_NPY ? json_null() : json_integer(w->bit_depth));
    json_object_set_new(root, "image_shape", json_pack("[I, I]", (json_int_t)w->height, (json_int_t)w->width));
    json_object_set_new(root, "frames", json_integer((json_int_t)w->frames));
    json_object_set_new(root, "flow_shape",
                        json_pack("[I, I, I]", (json_int_t)w->flow_h, (json_int_t)w->flow_w, (json_int_t)2));
    sp__layout_json(w, root); /* layouts other than synthpix only */
    return root;
}

sp_status sp__dataset_json_write(sp_dataset_writer *w, sp_error *err)
{
    json_t *const root = dataset_doc(w);
    json_object_set_new(root, "flow_units",
                        json_string(w->flow_units_pixels ? "pixels" : "measure units per second"));
    json_object_set_new(root, "files", file_patterns(w));
    json_object_set_new(root, "configuration", json_string(w->config_yaml));
    char *const text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (text == NULL) return sp_error_set(err, SP_ERR_NOMEM, "dataset.json: out of memory");
    size_t const len = strlen(text);
    char *const body = (char *)malloc(len + 2);
    if (body == NULL) {
        free(text);
        return sp_error_set(err, SP_ERR_NOMEM, "dataset.json: out of memory");
    }
    memcpy(body, text, len);
    body[len] = '\n';
    free(text);
    char path[SP_FS_PATH_MAX];
    snprintf(path, sizeof path, "%s/dataset.json", w->dir);
    sp_status st = sp__fs_write_atomic_no_dir_sync(w->fs, path, w->tag, body, len + 1, err);
    free(body);
    /* The layouts' spools go once dataset.json has its name, and one fsync of the folder
     * covers both: a job killed in between leaves a complete dataset and spools that the
     * family's next job removes. */
    if (st == SP_OK) st = sp__sides_remove(w, err);
    return st == SP_OK ? sp__fs_fsync_dir(w->fs, w->dir, w->dir, err) : st;
}

/* ---- the progress record ------------------------------------------------------------- */

char *sp__progress_dump(const sp_dataset_writer *w)
{
    const char *const name = strrchr(w->params_path, '/');
    json_t *const u = json_pack("{s:I, s:I, s:I, s:I, s:s, s:i, s:I, s:s, s:s}", "pairs_covered",
                                (json_int_t)w->covered, "pairs_written", (json_int_t)w->written, "params_bytes",
                                (json_int_t)w->params_bytes, "pairs", (json_int_t)w->opt.pairs, "format",
                                sp__dataset_ext(w->opt.format), "bit_depth", w->bit_depth, "configuration_crc32c",
                                (json_int_t)w->config_crc, "params_file", name ? name + 1 : w->params_path,
                                "tmp_tag", w->tag);
    if (u && w->opt.data_shard_count > 1) /* a shard's dataset continues only as that shard */
        json_object_set_new(u, "data_shard", json_pack("[I, I]", (json_int_t)w->opt.data_shard_index,
                                                       (json_int_t)w->opt.data_shard_count));
    sp__layout_progress(w, u);
    char *const text = u ? json_dumps(u, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(u);
    return text;
}

static int get_count(const json_t *u, const char *key, uint64_t *out)
{
    const json_t *const v = json_object_get(u, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0) return -1;
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

/* A name we created in the dataset folder: no '/', not "." or "..". */
static int plain_name(const char *s)
{
    return s && *s && strchr(s, '/') == NULL && strcmp(s, ".") != 0 && strcmp(s, "..") != 0 &&
           strlen(s) < 256;
}

/* A data shard's dataset numbers its own pairs: it continues only as the same shard (the
 * sampler itself would continue the global stream on any shard). */
static sp_status check_data_shard(const sp_dataset_writer *w, const json_t *ds, sp_error *err)
{
    unsigned const count = w->opt.data_shard_count > 1 ? w->opt.data_shard_count : 1;
    unsigned const index = count > 1 ? w->opt.data_shard_index : 0;
    json_int_t const i = ds ? json_integer_value(json_array_get(ds, 0)) : 0;
    json_int_t const n = ds ? json_integer_value(json_array_get(ds, 1)) : 1;
    if (i == (json_int_t)index && n == (json_int_t)count) return SP_OK;
    return sp_error_set(err, SP_ERR_MISMATCH,
                        "%s: the dataset was written as data shard %lld of %lld; this run is shard %u of %u (a shard's "
                        "dataset continues only as that shard)", n != (json_int_t)count ? "shard_count" : "shard_index",
                        (long long)i, (long long)n, index, count);
}

static sp_status check_identity(const sp_dataset_writer *w, const json_t *u, uint64_t crc, uint64_t covered,
                                sp_error *err)
{
    const char *const fmt = json_string_value(json_object_get(u, "format"));
    const char *why = NULL;
    if (strcmp(fmt, sp__dataset_ext(w->opt.format)) != 0) why = "the format differs";
    else if (json_integer_value(json_object_get(u, "bit_depth")) != w->bit_depth) why = "the bit depth differs";
    else if (crc != w->config_crc) why = "the configuration differs";
    else if (covered > w->opt.pairs) why = "the pair count is smaller than the pairs it already covers";
    if (why) return sp_error_set(err, SP_ERR_MISMATCH, "%s from the run that wrote it", why);
    return check_data_shard(w, json_object_get(u, "data_shard"), err);
}

sp_status sp__progress_parse(sp_dataset_writer *w, const char *json, char *params_name, size_t cap,
                             sp_error *err)
{
    json_t *const u = json_loads(json, 0, NULL);
    uint64_t v[4] = {0};
    int const ok = u && !get_count(u, "pairs_covered", &v[0]) && !get_count(u, "pairs_written", &v[1]) &&
                   !get_count(u, "params_bytes", &v[2]) && !get_count(u, "configuration_crc32c", &v[3]) &&
                   json_is_string(json_object_get(u, "format")) && json_is_integer(json_object_get(u, "bit_depth"));
    const char *pname = json_string_value(json_object_get(u, "params_file"));
    if (pname == NULL) pname = "params.jsonl.partial"; /* records written before params_file */
    sp_status st = ok && plain_name(pname) ? SP_OK
                                           : sp_error_set(err, SP_ERR_CORRUPT, "the checkpoint has no valid generate progress record");
    if (st == SP_OK) st = sp__layout_parse_progress(w, u, err); /* the layout first: it fixes the format */
    if (st == SP_OK) st = check_identity(w, u, v[3], v[0], err);
    if (st == SP_OK) {
        w->covered = v[0];
        w->written = v[1];
        w->params_bytes = v[2];
        snprintf(params_name, cap, "%s", pname);
    }
    json_decref(u);
    return st;
}

/* ---- the layout's names ---------------------------------------------------------------- */

/* Skips at least min decimal digits; NULL when there are fewer. */
static const char *digits(const char *s, size_t min)
{
    size_t n = 0;
    while (s[n] >= '0' && s[n] <= '9') n++;
    return n >= min ? s + n : NULL;
}

static const char *hex_run(const char *s, size_t min, size_t max)
{
    size_t n = 0;
    while ((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')) n++;
    return n >= min && n <= max ? s + n : NULL;
}

/* Length of the final name inside name (the whole name, or what precedes ".sp-tmp-<tag>-<16 hex>"). */
static size_t final_part(const char *name)
{
    const char *const t = strstr(name, SP_FS_TMP_TAG);
    if (t == NULL) return strlen(name);
    const char *p = hex_run(t + strlen(SP_FS_TMP_TAG), 1, SP_DATASET_TAG_MAX);
    if (p == NULL || *p != '-' || (p = hex_run(p + 1, 16, 16)) == NULL || *p != '\0') return 0;
    return (size_t)(t - name);
}

/* cai's pair files: <case>_<at least 5 digits>_{img1.tif, img2.tif, flow.flo}, for the
 * writer's case and the one DIR's dataset.json names only (a name alone does not make a
 * file ours: a folder may hold the original Cai dataset's files). */
static int cai_name(const char *case_name, const char *base)
{
    size_t const n = strlen(case_name);
    const char *p;
    if (n == 0 || strncmp(base, case_name, n) != 0 || base[n] != '_' || (p = digits(base + n + 1, 5)) == NULL) return 0;
    return strcmp(p, "_img1.tif") == 0 || strcmp(p, "_img2.tif") == 0 || strcmp(p, "_flow.flo") == 0;
}

int sp__layout_name(const sp_dataset_writer *w, const char *name)
{
    static const char *const fixed[] = {"params.jsonl", "dataset.json", "FlowData_train.list", "FlowData_test.list",
                                        "pykitpiv.h5", "liteflownet.h5"};
    char base[256];
    size_t const n = final_part(name);
    if (n == 0 || n >= sizeof base) return 0;
    memcpy(base, name, n);
    base[n] = '\0';
    for (size_t i = 0; i < SP_ARRAY_LEN(fixed); i++)
        if (strcmp(base, fixed[i]) == 0) return 1;
    if (cai_name(w->case_name, base) || cai_name(w->found_case, base)) return 1;
    const char *p;
    if (strncmp(base, "shard_", 6) == 0) return (p = digits(base + 6, 5)) != NULL && strcmp(p, ".h5") == 0;
    if (strncmp(base, "pair_", 5) != 0 || (p = digits(base + 5, 6)) == NULL) return 0;
    if (strcmp(p, "_flow.flo") == 0 || strcmp(p, "_flow.npy") == 0) return 1;
    /* _img1 .. _img16 (frames: K, docs/realism.md), no leading zero */
    if (strncmp(p, "_img", 4) != 0 || p[4] < '1' || p[4] > '9') return 0;
    const char *const e = digits(p + 4, 1);
    long const frame = strtol(p + 4, NULL, 10);
    if (e - (p + 4) > 2 || frame > SP_MAX_FRAMES) return 0;
    return strcmp(e, ".png") == 0 || strcmp(e, ".tif") == 0 || strcmp(e, ".npy") == 0;
}

static int same_string(const json_t *o, const char *key, const char *want)
{
    const char *const v = json_string_value(json_object_get(o, key));
    return v && strcmp(v, want) == 0;
}

int sp__dataset_json_matches(const sp_dataset_writer *w)
{
    char path[SP_FS_PATH_MAX];
    snprintf(path, sizeof path, "%s/dataset.json", w->dir);
    unsigned char *buf = NULL;
    size_t n = 0;
    if (sp__fs_read_file(w->fs, path, (size_t)64 << 20, &buf, &n, path, NULL) != SP_OK) return 0;
    json_t *const d = json_loadb((const char *)buf, n, 0, NULL);
    free(buf);
    json_t *const shard = json_object_get(d, "data_shard");
    json_int_t const bits = json_integer_value(json_object_get(d, "bit_depth"));
    /* A dataset of another stream version (docs/determinism.md) has other bytes: not this one. */
    int const ok = d && same_string(d, "format", "synthpix-dataset") && same_string(d, "configuration", w->config_yaml) &&
                   json_integer_value(json_object_get(d, "stream_version")) == SP_STREAM_VERSION &&
                   same_string(d, "image_format", sp__dataset_ext(w->opt.format)) &&
                   (w->opt.format == SP_DATASET_NPY || bits == w->bit_depth) &&
                   json_integer_value(json_object_get(d, "pairs")) == (json_int_t)w->opt.pairs &&
                   (w->layout != SP_DATASET_LAYOUT_SYNTHPIX || w->opt.format != SP_DATASET_H5 ||
                    json_integer_value(json_object_get(json_object_get(d, "files"), "shard_size")) ==
                        (json_int_t)w->opt.shard_size) &&
                   sp__layout_json_matches(w, d) &&
                   (w->opt.data_shard_count > 1
                        ? json_integer_value(json_object_get(shard, "index")) == (json_int_t)w->opt.data_shard_index &&
                              json_integer_value(json_object_get(shard, "count")) == (json_int_t)w->opt.data_shard_count
                        : shard == NULL);
    json_decref(d);
    return ok;
}
