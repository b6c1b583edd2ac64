/* config_struct.c: the sp_config value: defaults, free, deep copy, equality, names.
 *
 * Ownership: an sp_config owns its strings (file_list and its entries, mask, histogram,
 * source_name); everything else is stored inline. sp_config_free releases them and leaves a
 * freshly initialised value, so a freed configuration can be freed or loaded again.
 * Defaults are those of docs/configuration.md (SynthPix's, and our extensions'); keys that
 * SynthPix requires stay zero here and are checked by the loader.
 */
#include "config_keys.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sp_internal.h"

void sp_config_init(sp_config *c)
{
    memset(c, 0, sizeof *c);
    c->scheduler_class = SP_SOURCE_MAT; /* required; placeholder */
    c->image_shape[0] = c->image_shape[1] = 256;
    c->loop = 1;
    c->num_threads = 16;
    c->dt = 1.0;
    c->seeding_density_range = (sp_range){0.01, 0.02};
    c->p_hide_img1 = c->p_hide_img2 = 0.01;
    c->diameter_ranges[0] = (sp_range){0.1, 1.0};
    c->n_diameter_ranges = 1;
    c->diameter_var = 1.0;
    c->intensity_ranges[0] = (sp_range){50.0, 200.0};
    c->n_intensity_ranges = 1;
    c->intensity_var = 1.0;
    c->rho_ranges[0] = (sp_range){-0.99, 0.99};
    c->n_rho_ranges = 1;
    c->rho_var = 1.0;
    c->img_offset[0] = c->img_offset[1] = 128.0;
    c->output_units = SP_UNITS_PIXELS; /* required; placeholder */
    c->num_examples = 18278;
    c->filter_sigma_range = (sp_range){5.0, 100.0};
    c->max_displacement_range = (sp_range){0.0, 16.0};
    c->psf = SP_PSF_POINT;
    c->diameter_convention = SP_DIAMETER_SYNTHPIX;
    c->advection = SP_ADVECT_EULER;
    c->bit_depth = 8;
    c->threads = 0;
    c->scale_mode = SP_KINEMATIC_SCALE_PEAK;
    c->sheet_profile = SP_SHEET_NONE;
    c->sheet_edge = 0.2;
    c->over_exposure = 1.0;
    c->frames = 2;
}

void sp_config_free(sp_config *c)
{
    if (c == NULL) return;
    for (size_t i = 0; i < c->file_list_len; i++) free(c->file_list[i]);
    free(c->file_list);
    free(c->mask);
    free(c->histogram);
    free(c->source_name);
    sp_config_init(c);
}

static int dup_into(char **dst, const char *src)
{
    *dst = NULL;
    if (src == NULL) return 1;
    size_t const n = strlen(src) + 1;
    *dst = (char *)malloc(n);
    if (*dst == NULL) return 0;
    memcpy(*dst, src, n);
    return 1;
}

sp_status sp_config_copy(sp_config *dst, const sp_config *src, sp_error *err)
{
    SP_RETURN_IF(dst == NULL || src == NULL || dst == src, err, SP_ERR_INVALID,
                 "sp_config_copy: invalid arguments");
    *dst = *src; /* scalars and inline arrays; the owned pointers are replaced below */
    dst->file_list = NULL;
    dst->file_list_len = 0;
    int ok = dup_into(&dst->mask, src->mask) & dup_into(&dst->histogram, src->histogram) &
             dup_into(&dst->source_name, src->source_name);
    if (ok && src->file_list_len) {
        dst->file_list = (char **)calloc(src->file_list_len, sizeof(char *));
        ok = dst->file_list != NULL;
        if (ok) dst->file_list_len = src->file_list_len;
        for (size_t i = 0; ok && i < src->file_list_len; i++) ok = dup_into(&dst->file_list[i], src->file_list[i]);
    }
    if (!ok) {
        sp_config_free(dst);
        return sp_error_set(err, SP_ERR_NOMEM, "out of memory copying a configuration");
    }
    return SP_OK;
}

static int same_str(const char *a, const char *b)
{
    if (a == NULL || b == NULL) return a == b;
    return strcmp(a, b) == 0;
}

static int same_ranges(const sp_range *a, size_t na, const sp_range *b, size_t nb)
{
    if (na != nb) return 0;
    for (size_t i = 0; i < na; i++)
        if (a[i].min != b[i].min || a[i].max != b[i].max) return 0;
    return 1;
}

/* Everything but strings, ranges and analytic entries, compared field by field (no memcmp:
 * padding bytes are unspecified). */
static int same_scalars(const sp_config *a, const sp_config *b)
{
    return a->scheduler_class == b->scheduler_class && a->batch_size == b->batch_size &&
           a->flow_fields_per_batch == b->flow_fields_per_batch &&
           a->batches_per_flow_batch == b->batches_per_flow_batch && a->include_images == b->include_images &&
           a->image_shape[0] == b->image_shape[0] && a->image_shape[1] == b->image_shape[1] &&
           a->randomize == b->randomize && a->loop == b->loop && a->seed == b->seed &&
           a->episode_length == b->episode_length && a->buffer_size == b->buffer_size &&
           a->worker_count == b->worker_count && a->num_threads == b->num_threads && a->dt == b->dt &&
           a->p_hide_img1 == b->p_hide_img1 && a->p_hide_img2 == b->p_hide_img2 &&
           a->diameter_var == b->diameter_var && a->intensity_var == b->intensity_var &&
           a->rho_var == b->rho_var && a->noise_uniform == b->noise_uniform &&
           a->noise_gaussian_mean == b->noise_gaussian_mean && a->noise_gaussian_std == b->noise_gaussian_std &&
           a->img_offset[0] == b->img_offset[0] && a->img_offset[1] == b->img_offset[1] &&
           a->flow_field_size[0] == b->flow_field_size[0] && a->flow_field_size[1] == b->flow_field_size[1] &&
           a->resolution == b->resolution && a->velocities_per_pixel == b->velocities_per_pixel &&
           a->min_speed_x == b->min_speed_x && a->max_speed_x == b->max_speed_x &&
           a->min_speed_y == b->min_speed_y && a->max_speed_y == b->max_speed_y &&
           a->output_units == b->output_units && a->num_examples == b->num_examples &&
           a->analytic_num_examples == b->analytic_num_examples && a->psf == b->psf &&
           a->diameter_convention == b->diameter_convention && a->advection == b->advection &&
           a->bit_depth == b->bit_depth && a->threads == b->threads && a->scale_mode == b->scale_mode &&
           a->sheet_profile == b->sheet_profile && a->sheet_thickness == b->sheet_thickness &&
           a->sheet_edge == b->sheet_edge && a->over_exposure == b->over_exposure && a->frames == b->frames;
}

int sp_config_equal(const sp_config *a, const sp_config *b)
{
    if (a == NULL || b == NULL) return a == b;
    if (!same_scalars(a, b)) return 0;
    if (!same_ranges(&a->seeding_density_range, 1, &b->seeding_density_range, 1) ||
        !same_ranges(&a->filter_sigma_range, 1, &b->filter_sigma_range, 1) ||
        !same_ranges(&a->max_displacement_range, 1, &b->max_displacement_range, 1) ||
        !same_ranges(&a->out_of_plane_range, 1, &b->out_of_plane_range, 1) ||
        !same_ranges(a->diameter_ranges, a->n_diameter_ranges, b->diameter_ranges, b->n_diameter_ranges) ||
        !same_ranges(a->intensity_ranges, a->n_intensity_ranges, b->intensity_ranges, b->n_intensity_ranges) ||
        !same_ranges(a->rho_ranges, a->n_rho_ranges, b->rho_ranges, b->n_rho_ranges))
        return 0;
    if (!same_str(a->mask, b->mask) || !same_str(a->histogram, b->histogram)) return 0;
    if (a->file_list_len != b->file_list_len || a->n_analytic != b->n_analytic) return 0;
    for (size_t i = 0; i < a->file_list_len; i++)
        if (!same_str(a->file_list[i], b->file_list[i])) return 0;
    for (size_t i = 0; i < a->n_analytic && i < SP_CONFIG_MAX_ANALYTIC; i++)
        if (!sp__cfg_analytic_equal(&a->analytic[i], &b->analytic[i])) return 0;
    return 1;
}

int sp_config_has_key(const sp_config *c, const char *key)
{
    if (c == NULL || key == NULL) return 0;
    if (strcmp(key, "noise_level") == 0) key = "noise_uniform";
    if (strcmp(key, "scheduler_files") == 0) key = "file_list";
    int const i = sp__cfg_key_index(key);
    return i >= 0 && (c->present_mask_[i / 32] >> (i % 32) & 1u) != 0;
}

static const char *const kind_names[] = {".mat", ".h5", ".npy", ".flo", "kinematic", "analytic"};

const char *sp_source_kind_name(sp_source_kind k)
{
    return (unsigned)k < SP_ARRAY_LEN(kind_names) ? kind_names[k] : "(invalid)";
}

sp_status sp_source_kind_parse(const char *name, sp_source_kind *k)
{
    for (size_t i = 0; name != NULL && i < SP_ARRAY_LEN(kind_names); i++) {
        if (strcmp(name, kind_names[i]) == 0) {
            *k = (sp_source_kind)i;
            return SP_OK;
        }
    }
    return SP_ERR_INVALID;
}
