/* synthpix: configuration.
 *
 * A configuration is SynthPix's YAML (same keys, same defaults, same validation:
 * docs/synthpix-compat.md, Configuration) plus our extensions (docs/configuration.md,
 * Extensions). Loading never stops at the first mistake: every invalid value is reported as
 * an error naming the key, the value and the allowed range, every unknown key as a warning
 * suggesting the nearest known key, and the load fails when there is at least one error.
 *
 * Thread safety: an sp_config is a plain value; load/free one per thread. Reading a loaded
 * configuration from several threads is safe.
 */
#ifndef SP_CONFIG_H
#define SP_CONFIG_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* uint64_t */
#include <stdio.h>  /* FILE */

#include "sp/sp_api.h"
#include "sp/sp_errors.h"
#include "sp/sp_flow.h"
#include "sp/sp_render.h" /* sp_psf */
#include "sp/sp_sink.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SP_CONFIG_MAX_RANGES 64
#define SP_CONFIG_MAX_ANALYTIC 64
#define SP_MAX_FRAMES 16 /* most frames a sample may have (key `frames`) */

typedef struct sp_range {
    double min, max;
} sp_range;

typedef enum sp_source_kind {
    SP_SOURCE_MAT = 0,  /* ".mat" */
    SP_SOURCE_H5,       /* ".h5" */
    SP_SOURCE_NPY,      /* ".npy" */
    SP_SOURCE_FLO,      /* ".flo" (extension) */
    SP_SOURCE_KINEMATIC,/* "kinematic" */
    SP_SOURCE_ANALYTIC  /* "analytic" (extension) */
} sp_source_kind;

typedef enum sp_output_units { SP_UNITS_PIXELS = 0, SP_UNITS_MEASURE_PER_SECOND } sp_output_units;
typedef enum sp_diameter_convention { SP_DIAMETER_SYNTHPIX = 0, SP_DIAMETER_E2 } sp_diameter_convention;
typedef enum sp_advection { SP_ADVECT_EULER = 0, SP_ADVECT_RK4 } sp_advection;
/* The light sheet's intensity profile across its depth (key sheet_profile; docs/realism.md). */
typedef enum sp_sheet_profile {
    SP_SHEET_NONE = 0, /* no sheet: particles have no depth (SynthPix) */
    SP_SHEET_GAUSSIAN, /* exp(-8 z^2 / t^2): e^-2 at |z| = t/2, cut to 0 beyond |z| = t */
    SP_SHEET_TOPHAT    /* 1 inside, 0 outside, linear edges of width sheet_edge * t centred on |z| = t/2 */
} sp_sheet_profile;

typedef struct sp_config {
    /* ---- pipeline (docs/configuration.md, Pipeline keys) ---- */
    sp_source_kind scheduler_class;     /* required */
    int batch_size;                     /* B, required, > 0 */
    int flow_fields_per_batch;          /* F, required, 1..B */
    int batches_per_flow_batch;         /* required unless include_images, > 0 */
    int include_images;                 /* false */
    size_t image_shape[2];              /* (H, W), required for synthetic images */
    char **file_list;                   /* owned strings; may be empty */
    size_t file_list_len;
    int randomize;                      /* false */
    int loop;                           /* true */
    uint64_t seed;                      /* 0 */
    int episode_length;                 /* 0, >= 0 */
    int buffer_size;                    /* 0, >= 0 */
    int worker_count;                   /* 0, >= 0 */
    int num_threads;                    /* 16 */
    /* ---- generation (docs/configuration.md, Image-generation keys) ---- */
    double dt;                          /* 1.0, > 0 */
    sp_range seeding_density_range;     /* (0.01, 0.02) */
    double p_hide_img1, p_hide_img2;    /* 0.01, [0, 1] */
    sp_range diameter_ranges[SP_CONFIG_MAX_RANGES]; /* [(0.1, 1.0)], 0 < min <= max, pixels */
    size_t n_diameter_ranges;
    double diameter_var;                /* 1.0, >= 0 */
    sp_range intensity_ranges[SP_CONFIG_MAX_RANGES]; /* [(50, 200)], 0 < min <= max */
    size_t n_intensity_ranges;
    double intensity_var;               /* 1.0 */
    sp_range rho_ranges[SP_CONFIG_MAX_RANGES]; /* [(-0.99, 0.99)], -1 < min <= max < 1 */
    size_t n_rho_ranges;
    double rho_var;                     /* 1.0 */
    double noise_uniform;               /* 0, >= 0 */
    double noise_gaussian_mean;         /* 0, >= 0 */
    double noise_gaussian_std;          /* 0, >= 0 */
    double img_offset[2];               /* (128, 128) measure units, >= 0 */
    char *mask;                         /* path of a .npy (H, W) of 0/1, or NULL */
    char *histogram;                    /* path of a .npy (256,), or NULL */
    /* ---- geometry (docs/configuration.md, Geometry keys) ---- */
    double flow_field_size[2];          /* (Ly, Lx) measure units, > 0, required */
    double resolution;                  /* camera pixels per measure unit, > 0, required */
    double velocities_per_pixel;        /* > 0, required */
    double min_speed_x, max_speed_x;    /* required, max >= min */
    double min_speed_y, max_speed_y;
    sp_output_units output_units;       /* required: "pixels" | "measure units per second" */
    /* ---- kinematic source (docs/configuration.md, Kinematic source keys) ---- */
    size_t num_examples;                /* 18278 */
    sp_range filter_sigma_range;        /* (5, 100) */
    sp_range max_displacement_range;    /* (0, 16) */
    sp_kinematic_scale scale_mode;      /* peak */
    /* ---- extensions (docs/configuration.md, Extensions) ---- */
    sp_analytic_params analytic[SP_CONFIG_MAX_ANALYTIC]; /* scheduler_class "analytic": analytic_flow */
    size_t n_analytic;                  /* record i uses analytic[i mod n_analytic] */
    size_t analytic_num_examples;       /* records in one epoch of an analytic source; default n_analytic */
    sp_psf psf;                    /* point */
    sp_diameter_convention diameter_convention; /* synthpix */
    sp_advection advection;             /* euler */
    int bit_depth;                      /* 8 | 16, default 8 */
    int threads;                        /* 0 = all cores */
    /* ---- light sheet, out-of-plane motion, frames (docs/realism.md) ---- */
    sp_sheet_profile sheet_profile;     /* none */
    double sheet_thickness;             /* t, measure units, [1e-15, 1e30]; required with a profile */
    double sheet_edge;                  /* tophat edge width as a fraction of t, [0, 1]; 0.2 */
    sp_range out_of_plane_range;        /* (0, 0) units/s: w drawn per sample, added to the flow's */
    double over_exposure;               /* 1, > 0: factor on every particle's brightness */
    int frames;                         /* K frames per sample, [2, SP_MAX_FRAMES]; 2 */
    /* ---- bookkeeping ---- */
    char *source_name;                  /* file the configuration came from, or "<embedded default>" */
    unsigned present_mask_[4];          /* internal: which keys were given explicitly */
} sp_config;

/* ---- diagnostics ---- */
typedef enum sp_diag_level { SP_DIAG_WARNING = 0, SP_DIAG_ERROR } sp_diag_level;

typedef struct sp_diag_item {
    sp_diag_level level;
    char key[128];     /* the key at fault ("diameter_ranges[1]"), "" when not about one key */
    char message[512]; /* a full sentence naming the key, the value and what was expected */
    int line, column;  /* 1-based position in the YAML text; 0 when not tied to one place */
} sp_diag_item;

typedef struct sp_diag {
    sp_diag_item *items; /* owned */
    size_t count, capacity;
} sp_diag;

SP_API void sp_diag_init(sp_diag *d);
SP_API void sp_diag_free(sp_diag *d); /* NULL allowed */
SP_API size_t sp_diag_errors(const sp_diag *d);
/* Prints "source:LINE:COL: error: message" / "...: warning: message" lines (the position is
 * left out when unknown). */
SP_API void sp_diag_print(const sp_diag *d, const char *source, FILE *f);

/* ---- geometry ---- */

/* The seeding region and grids, in pixels and measure units. The canvas (frame-1 seeding
 * region) extends the field of view on each side by the largest displacement toward the
 * image from that side, and by at least one particle patch, on all four sides
 * (docs/synthpix-compat.md, Geometry and D2); canvas pixel (i, j) is at
 * physical (origin_y + i / r, origin_x + j / r); image pixel (i, j) is canvas pixel
 * (i + crop_y, j + crop_x), i.e. physical (img_offset_y + i / r, img_offset_x + j / r). */
typedef struct sp_geometry {
    size_t height, width;           /* image H, W */
    size_t canvas_h, canvas_w;      /* PB in pixels */
    size_t crop_y, crop_x;          /* image origin inside the canvas, pixels */
    double origin_y, origin_x;      /* physical position of canvas pixel (0, 0), units */
    double resolution;              /* r, pixels per unit */
    size_t flow_h, flow_w;          /* output flow grid (int(H vpp), int(W vpp)) */
    double flow_step;               /* output sample spacing in image pixels = 1 / vpp */
    int radius;                     /* R: footprint half-width, pixels */
    double sigma_max;               /* largest Gaussian sigma, pixels */
    size_t max_particles;           /* floor(canvas area * density_max) */
} sp_geometry;

/* Computes the geometry; errors name the key (img_offset, flow_field_size, ...). Loading a
 * synthetic configuration runs the same checks and reports every geometry error at once
 * with the keys' positions, so a configuration that loads computes its geometry. */
SP_API sp_status sp_geometry_compute(const sp_config *cfg, sp_geometry *g, sp_error *err);

/* ---- loading ---- */

/* Zeroes c and fills every default of docs/configuration.md (required keys stay unset). */
SP_API void sp_config_init(sp_config *c);
/* Frees the owned strings (NULL allowed); c is re-initialised. */
SP_API void sp_config_free(sp_config *c);
/* Deep copy. */
SP_API sp_status sp_config_copy(sp_config *dst, const sp_config *src, sp_error *err);

/* Parses YAML text (named `name` in messages), validates, and fills c. Relative paths in
 * file_list, mask and histogram are resolved against base_dir (NULL = current directory);
 * a relative base_dir is made absolute first. Returns SP_ERR_CONFIG when d holds at least
 * one error (c is then freed), SP_ERR_NOMEM on allocation failure. d may be NULL; it keeps
 * at most 1000 items (the status still reflects every error). docs/configuration.md lists
 * the keys, their defaults and rules. */
SP_API sp_status sp_config_load_string(sp_config *c, const char *yaml, size_t len, const char *name,
                                       const char *base_dir, sp_diag *d);
/* Reads and parses a file (at most 16 MiB); relative paths resolve against its directory.
 * SP_ERR_NOTFOUND / SP_ERR_IO name the path in d. */
SP_API sp_status sp_config_load_file(sp_config *c, const char *path, sp_diag *d);
/* The embedded default configuration (analytic flows, 256x256, realistic particles). */
SP_API const char *sp_config_default_yaml(void);
SP_API sp_status sp_config_load_default(sp_config *c, sp_diag *d);

/* Writes the resolved configuration as YAML that sp_config_load_string accepts and that
 * loads back into an equal configuration. */
SP_API sp_status sp_config_write_yaml(const sp_config *c, const sp_sink *sink, sp_error *err);

SP_API const char *sp_source_kind_name(sp_source_kind k); /* ".mat", ..., "analytic" */

/* ---- additions ---- */

/* 1 when a and b hold the same resolved configuration: every field compared by value
 * (strings by content, doubles exactly with NaN == NaN); source_name and which keys were
 * given explicitly are not compared. */
SP_API int sp_config_equal(const sp_config *a, const sp_config *b);
/* 1 when `key` (a SynthPix or extension key name) was given explicitly in the loaded text
 * (a deprecated alias counts for its new name); 0 when it took its default or is unknown. */
SP_API int sp_config_has_key(const sp_config *c, const char *key);
/* Parses a scheduler_class value (".mat", ..., "analytic"); SP_ERR_INVALID when unknown. */
SP_API sp_status sp_source_kind_parse(const char *name, sp_source_kind *k);

#ifdef __cplusplus
}
#endif
#endif /* SP_CONFIG_H */
