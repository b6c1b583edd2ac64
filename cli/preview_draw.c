/* preview_draw.c: draws the `synthpix preview` sheet with libcairo and encodes it as PNG
 * (cli/preview.h has the layout).
 *
 *   sp_cli_preview_draw   one RGB24 image surface of SP_PREVIEW_WIDTH x SP_PREVIEW_HEIGHT:
 *     draw_title          configuration, pair, image size, particles (cairo's toy text API)
 *     draw_frame x 2      the 8-bit frames as grey rasters
 *     draw_histograms     256-bin histograms of both frames, log counts, labelled axes
 *     draw_flow           the flow in Middlebury colours, normalised by its largest
 *                         displacement (as flow_vis's flow_to_color)
 *     draw_wheel          the colour key: the wheel itself, its rim labelled with that largest
 *                         displacement in pixels, a dashed circle at half of it
 *     draw_magnitude      |(u, v)| in ten viridis bands with a sparse field of arrows and a
 *                         colour bar
 *   then cairo_surface_write_to_png_stream into the caller's memory buffer.
 *
 * Rasters (frames, flow, magnitude, wheel) are filled pixel by pixel into cairo image
 * surfaces, then scaled and painted by cairo; every line, arrow and glyph is cairo's.
 * Nothing here touches a file: the caller writes the bytes atomically. No state outlives a
 * call.
 */
#include "preview.h"

#include <cairo.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sp/sp.h"

#define TITLE_H 60
#define CELL 400  /* cells are 400 x 400; the third column is 440 wide */
#define BOX 320   /* rasters fit a BOX x BOX square 40 px inside their cell */
#define WHEEL_R 100
#define ARROWS 16 /* arrows along the longer side of the magnitude panel */
#define BANDS 10  /* colour bands of the magnitude panel */

typedef struct rgb {
    double r, g, b;
} rgb;

static const rgb INK = {0.10, 0.10, 0.12};
static const rgb GREY = {0.45, 0.45, 0.48};
static const rgb BLUE = {0.12, 0.47, 0.71};   /* image 1 */
static const rgb ORANGE = {1.00, 0.50, 0.05}; /* image 2 */

typedef struct draw_ctx {
    cairo_t *cr;
    const sp_cli_preview_input *in;
    sp_cli_preview_layout *lay;
    double max_px; /* largest displacement, pixels per pair */
} draw_ctx;

/* ---- small helpers ------------------------------------------------------------------- */

static void set_colour(cairo_t *cr, rgb c)
{
    cairo_set_source_rgb(cr, c.r, c.g, c.b);
}

/* Text with its baseline at y; align -1 left of x, 0 centred on x, 1 right of x. */
static void put_text(cairo_t *cr, double x, double y, double size, int bold, int align, const char *s)
{
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
    cairo_text_extents_t e;
    cairo_text_extents(cr, s, &e);
    double const dx = align < 0 ? 0.0 : align == 0 ? -(e.x_advance / 2.0) : -e.x_advance;
    cairo_move_to(cr, x + dx, y);
    cairo_show_text(cr, s);
}

/* The heading of the cell whose top-left corner is (x, y). */
static void heading(cairo_t *cr, int x, int y, const char *s)
{
    set_colour(cr, INK);
    put_text(cr, x + 40, y + 26, 15, 1, -1, s);
}

/* Where a w x h raster lands in the BOX square at (bx, by): scaled up by a whole factor
 * when it fits (crisp pixels), down when it is larger, centred on whole pixels. */
static sp_cli_rect fit_raster(int bx, int by, size_t w, size_t h)
{
    double const fit = fmin((double)BOX / (double)w, (double)BOX / (double)h);
    double const s = fit >= 1.0 ? floor(fit) : fit;
    int const rw = (int)fmax(1.0, floor((double)w * s + 0.5)), rh = (int)fmax(1.0, floor((double)h * s + 0.5));
    sp_cli_rect const r = {bx + (BOX - rw) / 2, by + (BOX - rh) / 2, rw, rh};
    return r;
}

/* An image surface of w x h pixels whose pixel (i, j) is px(ctx, i, j) (0xAARRGGBB,
 * premultiplied), or NULL when cairo cannot make one. */
typedef uint32_t (*pixel_fn)(const void *ctx, size_t i, size_t j);

static cairo_surface_t *raster(cairo_format_t format, size_t w, size_t h, pixel_fn px, const void *ctx)
{
    cairo_surface_t *const s = cairo_image_surface_create(format, (int)w, (int)h);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(s);
        return NULL;
    }
    cairo_surface_flush(s);
    unsigned char *const data = cairo_image_surface_get_data(s);
    size_t const stride = (size_t)cairo_image_surface_get_stride(s);
    for (size_t i = 0; i < h; i++) {
        uint32_t *const row = (uint32_t *)(void *)(data + i * stride);
        for (size_t j = 0; j < w; j++) row[j] = px(ctx, i, j);
    }
    cairo_surface_mark_dirty(s);
    return s;
}

/* Paints a w x h surface into r: nearest pixel when enlarged, cairo's smooth filter when
 * reduced. */
static void paint_raster(cairo_t *cr, cairo_surface_t *s, size_t w, size_t h, sp_cli_rect r)
{
    cairo_save(cr);
    cairo_rectangle(cr, r.x, r.y, r.w, r.h);
    cairo_clip(cr);
    cairo_translate(cr, r.x, r.y);
    cairo_scale(cr, (double)r.w / (double)w, (double)r.h / (double)h);
    cairo_set_source_surface(cr, s, 0, 0);
    cairo_pattern_set_filter(cairo_get_source(cr), (size_t)r.w >= w ? CAIRO_FILTER_NEAREST : CAIRO_FILTER_GOOD);
    cairo_paint(cr);
    cairo_restore(cr);
    set_colour(cr, GREY);
    cairo_set_line_width(cr, 1.0);
    cairo_rectangle(cr, r.x - 0.5, r.y - 0.5, r.w + 1, r.h + 1);
    cairo_stroke(cr);
}

static uint32_t pack(const uint8_t c[3])
{
    return 0xff000000u | (uint32_t)c[0] << 16 | (uint32_t)c[1] << 8 | (uint32_t)c[2];
}

/* ---- the title and the frames -------------------------------------------------------- */

static void draw_title(const draw_ctx *d)
{
    set_colour(d->cr, INK);
    put_text(d->cr, 20, 28, 20, 1, -1, d->in->title);
    set_colour(d->cr, GREY);
    put_text(d->cr, 20, 50, 13, 0, -1, d->in->subtitle);
}

typedef struct frame_ctx {
    const uint8_t *img;
    size_t width;
} frame_ctx;

static uint32_t frame_px(const void *ctx, size_t i, size_t j)
{
    const frame_ctx *const f = (const frame_ctx *)ctx;
    uint32_t const g = f->img[i * f->width + j];
    return 0xff000000u | g << 16 | g << 8 | g;
}

/* Frame k (1 or 2) in cell (column k - 1, row 0). */
static int draw_frame(const draw_ctx *d, int k)
{
    const sp_cli_preview_input *const in = d->in;
    int const x = (k - 1) * CELL, y = TITLE_H;
    frame_ctx const f = {k == 1 ? in->image1 : in->image2, in->width};
    cairo_surface_t *const s = raster(CAIRO_FORMAT_RGB24, in->width, in->height, frame_px, &f);
    if (s == NULL) return -1;
    sp_cli_rect const r = fit_raster(x + 40, y + 40, in->width, in->height);
    paint_raster(d->cr, s, in->width, in->height, r);
    cairo_surface_destroy(s);
    *(k == 1 ? &d->lay->image1 : &d->lay->image2) = r;
    heading(d->cr, x, y, k == 1 ? "Image 1 (frame 1)" : "Image 2 (frame 2)");
    char cap[96];
    snprintf(cap, sizeof cap, "%zu x %zu px, 8-bit as written by generate", in->width, in->height);
    set_colour(d->cr, GREY);
    put_text(d->cr, r.x + r.w / 2.0, r.y + r.h + 22, 12, 0, 0, cap);
    return 0;
}

/* ---- histograms ------------------------------------------------------------------------ */

/* log10(1 + count): the histograms' vertical scale (0 for an empty bin). */
static double log_count(double n)
{
    return log10(1.0 + n);
}

/* One histogram as a step outline in plot area p, scaled so log_count(top) is the
 * top edge. */
static void histogram_steps(cairo_t *cr, const double counts[256], sp_cli_rect p, double top, rgb c)
{
    double const bw = (double)p.w / 256.0, base = p.y + p.h;
    cairo_move_to(cr, p.x, base);
    for (int b = 0; b < 256; b++) {
        double const y = base - (double)p.h * log_count(counts[b]) / top;
        cairo_line_to(cr, p.x + b * bw, y);
        cairo_line_to(cr, p.x + (b + 1) * bw, y);
    }
    cairo_line_to(cr, p.x + p.w, base);
    set_colour(cr, c);
    cairo_set_line_width(cr, 1.4);
    cairo_stroke(cr);
}

/* Axes, ticks, labels and the legend around plot area p, whose top edge is 10^decades. */
static void histogram_axes(cairo_t *cr, sp_cli_rect p, int decades)
{
    static const char *const powers[] = {"1", "10", "100", "1k", "10k", "100k", "1M", "10M", "100M", "1G"};
    set_colour(cr, INK);
    cairo_set_line_width(cr, 1.0);
    cairo_move_to(cr, p.x - 0.5, p.y);
    cairo_line_to(cr, p.x - 0.5, p.y + p.h + 0.5);
    cairo_line_to(cr, p.x + p.w, p.y + p.h + 0.5);
    cairo_stroke(cr);
    for (int v = 0; v <= 256; v += 64) {
        double const x = p.x + (double)p.w * v / 256.0;
        char label[8];
        snprintf(label, sizeof label, "%d", v == 256 ? 255 : v);
        cairo_move_to(cr, x, p.y + p.h);
        cairo_line_to(cr, x, p.y + p.h + 5);
        cairo_stroke(cr);
        put_text(cr, x, p.y + p.h + 19, 11, 0, 0, label);
    }
    for (int k = 0; k <= decades && k < 10; k++) {
        double const y = p.y + p.h - (double)p.h * log_count(pow(10.0, k)) / decades;
        cairo_move_to(cr, p.x - 5, y);
        cairo_line_to(cr, p.x, y);
        cairo_stroke(cr);
        put_text(cr, p.x - 8, y + 4, 11, 0, 1, powers[k]);
    }
    put_text(cr, p.x + p.w / 2.0, p.y + p.h + 40, 12, 0, 0, "grey level (8-bit)");
    cairo_save(cr);
    cairo_translate(cr, p.x - 46, p.y + p.h / 2.0);
    cairo_rotate(cr, -M_PI / 2.0);
    put_text(cr, 0, 0, 12, 0, 0, "pixels (log scale)");
    cairo_restore(cr);
    static const char *const names[2] = {"image 1", "image 2"};
    for (int f = 0; f < 2; f++) {
        double const y = p.y + 14 + 18 * f;
        set_colour(cr, f ? ORANGE : BLUE);
        cairo_rectangle(cr, p.x + p.w - 78, y - 9, 14, 10);
        cairo_fill(cr);
        set_colour(cr, INK);
        put_text(cr, p.x + p.w - 58, y, 12, 0, -1, names[f]);
    }
}

static void count_levels(const uint8_t *img, size_t n, double counts[256])
{
    for (int b = 0; b < 256; b++) counts[b] = 0;
    for (size_t i = 0; i < n; i++) counts[img[i]] += 1.0;
}

static void draw_histograms(const draw_ctx *d)
{
    double c1[256], c2[256];
    size_t const n = d->in->height * d->in->width;
    count_levels(d->in->image1, n, c1);
    count_levels(d->in->image2, n, c2);
    double most = 1.0;
    for (int b = 0; b < 256; b++) most = fmax(most, fmax(c1[b], c2[b]));
    int const decades = (int)fmax(1.0, ceil(log_count(most) - 1e-9));
    sp_cli_rect const p = {2 * CELL + 70, TITLE_H + 50, 340, 260};
    d->lay->histogram = p;
    histogram_steps(d->cr, c1, p, decades, BLUE);
    histogram_steps(d->cr, c2, p, decades, ORANGE);
    histogram_axes(d->cr, p, decades);
    heading(d->cr, 2 * CELL, TITLE_H, "Intensity histograms");
}

/* ---- the flow and its colour key ------------------------------------------------------- */

typedef struct flow_ctx {
    const float *flow;
    size_t width;
    double norm; /* largest displacement + 1e-5 (flow_vis's epsilon) */
} flow_ctx;

static uint32_t flow_px(const void *ctx, size_t i, size_t j)
{
    const flow_ctx *const f = (const flow_ctx *)ctx;
    const float *const uv = f->flow + (i * f->width + j) * 2;
    uint8_t c[3];
    sp_cli_flow_colour((double)uv[0] / f->norm, (double)uv[1] / f->norm, c);
    return pack(c);
}

static int draw_flow(const draw_ctx *d)
{
    const sp_cli_preview_input *const in = d->in;
    int const x = 0, y = TITLE_H + CELL;
    flow_ctx const f = {in->flow_px, in->flow_width, d->max_px + 1e-5};
    cairo_surface_t *const s = raster(CAIRO_FORMAT_RGB24, in->flow_width, in->flow_height, flow_px, &f);
    if (s == NULL) return -1;
    sp_cli_rect const r = fit_raster(x + 40, y + 40, in->flow_width, in->flow_height);
    paint_raster(d->cr, s, in->flow_width, in->flow_height, r);
    cairo_surface_destroy(s);
    d->lay->flow = r;
    heading(d->cr, x, y, "Ground-truth flow (Middlebury colours)");
    char cap[128];
    snprintf(cap, sizeof cap, "%zu x %zu flow samples; key on the right", in->flow_width, in->flow_height);
    set_colour(d->cr, GREY);
    put_text(d->cr, r.x + r.w / 2.0, r.y + r.h + 22, 12, 0, 0, cap);
    return 0;
}

/* The wheel: pixel (i, j) of a 2R x 2R square is the colour of the displacement
 * ((j + 0.5 - R) / R, (i + 0.5 - R) / R) times the largest one, so the rim is the largest
 * displacement; transparent outside the disc. */
static uint32_t wheel_px(const void *ctx, size_t i, size_t j)
{
    (void)ctx;
    double const u = ((double)j + 0.5 - WHEEL_R) / WHEEL_R, v = ((double)i + 0.5 - WHEEL_R) / WHEEL_R;
    if (u * u + v * v > 1.0) return 0;
    uint8_t c[3];
    sp_cli_flow_colour(u, v, c);
    return pack(c);
}

/* Circles, direction names and the two radii written on the wheel centred at (cx, cy). */
static void wheel_labels(cairo_t *cr, double cx, double cy, double max_px)
{
    static const double dash[1] = {4.0};
    set_colour(cr, INK);
    cairo_set_line_width(cr, 1.0);
    cairo_new_path(cr); /* show_text leaves a current point: no line from it */
    cairo_arc(cr, cx, cy, WHEEL_R, 0, 2 * M_PI);
    cairo_stroke(cr);
    cairo_set_dash(cr, dash, 1, 0);
    cairo_new_path(cr);
    cairo_arc(cr, cx, cy, WHEEL_R / 2.0, 0, 2 * M_PI);
    cairo_stroke(cr);
    cairo_set_dash(cr, NULL, 0, 0);
    put_text(cr, cx + WHEEL_R + 8, cy + 4, 12, 0, -1, "right");
    put_text(cr, cx - WHEEL_R - 8, cy + 4, 12, 0, 1, "left");
    put_text(cr, cx, cy - WHEEL_R - 8, 12, 0, 0, "up");
    put_text(cr, cx, cy + WHEEL_R + 18, 12, 0, 0, "down");
    char rim[48], half[48];
    snprintf(rim, sizeof rim, "%.2f px", max_px);
    snprintf(half, sizeof half, "%.2f px", max_px / 2.0);
    double const c45 = cos(M_PI / 4.0);
    put_text(cr, cx + WHEEL_R * c45 + 4, cy + WHEEL_R * c45 + 14, 12, 1, -1, rim);
    put_text(cr, cx + WHEEL_R * c45 / 2.0 + 2, cy + WHEEL_R * c45 / 2.0 + 2, 11, 1, -1, half);
}

static int draw_wheel(const draw_ctx *d)
{
    int const x = CELL, y = TITLE_H + CELL;
    double const cx = x + CELL / 2.0, cy = y + 40 + BOX / 2.0 - 10;
    cairo_surface_t *const s = raster(CAIRO_FORMAT_ARGB32, 2 * WHEEL_R, 2 * WHEEL_R, wheel_px, NULL);
    if (s == NULL) return -1;
    sp_cli_rect const r = {(int)cx - WHEEL_R, (int)cy - WHEEL_R, 2 * WHEEL_R, 2 * WHEEL_R};
    cairo_set_source_surface(d->cr, s, r.x, r.y);
    cairo_paint(d->cr);
    cairo_surface_destroy(s);
    d->lay->wheel = r;
    wheel_labels(d->cr, cx, cy, d->max_px);
    heading(d->cr, x, y, "Flow colour key");
    char cap[128];
    snprintf(cap, sizeof cap, "hue: direction; rim: the largest displacement, %.2f px per pair", d->max_px);
    set_colour(d->cr, GREY);
    put_text(d->cr, cx, cy + WHEEL_R + 44, 12, 0, 0, cap);
    return 0;
}

/* ---- the magnitude with arrows --------------------------------------------------------- */

/* The colour of band b of BANDS: viridis at the band's middle. */
static uint32_t band_colour(int b)
{
    uint8_t c[3];
    sp_cli_viridis(((double)b + 0.5) / BANDS, c);
    return pack(c);
}

/* |(u, v)| / norm in BANDS equal bands (filled contours: easier to read off the colour bar
 * than a continuous ramp, and a PNG a fraction of the size). */
static uint32_t magnitude_px(const void *ctx, size_t i, size_t j)
{
    const flow_ctx *const f = (const flow_ctx *)ctx;
    const float *const uv = f->flow + (i * f->width + j) * 2;
    double const t = hypot((double)uv[0], (double)uv[1]) / f->norm;
    return band_colour(t >= 1.0 ? BANDS - 1 : (int)(t * BANDS));
}

/* One arrow centred at (x, y) along (dx, dy): a thin black stroke, which reads on every
 * viridis colour but the darkest, where the displacement (and so the arrow) is short. */
static void arrow(cairo_t *cr, double x, double y, double dx, double dy)
{
    double const len = hypot(dx, dy);
    if (len < 1.0) return;
    double const head = fmin(5.0, 0.4 * len), ang = atan2(dy, dx);
    double const tx = x + dx / 2.0, ty = y + dy / 2.0;
    cairo_move_to(cr, x - dx / 2.0, y - dy / 2.0);
    cairo_line_to(cr, tx, ty);
    cairo_move_to(cr, tx - head * cos(ang - 0.45), ty - head * sin(ang - 0.45));
    cairo_line_to(cr, tx, ty);
    cairo_line_to(cr, tx - head * cos(ang + 0.45), ty - head * sin(ang + 0.45));
}

/* A sparse field of arrows over raster r: one per spacing x spacing cell, each the flow
 * sample under the cell's centre; the longest displacement spans 0.9 of the spacing. */
static void quiver(const draw_ctx *d, sp_cli_rect r)
{
    const sp_cli_preview_input *const in = d->in;
    if (!(d->max_px > 0)) return;
    double const spacing = (double)(r.w > r.h ? r.w : r.h) / ARROWS, gain = 0.9 * spacing / d->max_px;
    int const nx = (int)fmax(1.0, floor(r.w / spacing)), ny = (int)fmax(1.0, floor(r.h / spacing));
    cairo_set_line_cap(d->cr, CAIRO_LINE_CAP_ROUND);
    cairo_set_line_width(d->cr, 1.1);
    cairo_set_source_rgb(d->cr, 0, 0, 0);
    for (int a = 0; a < ny; a++)
        for (int b = 0; b < nx; b++) {
            double const x = r.x + (b + 0.5) * r.w / nx, y = r.y + (a + 0.5) * r.h / ny;
            size_t const i = (size_t)((y - r.y) / r.h * (double)in->flow_height);
            size_t const j = (size_t)((x - r.x) / r.w * (double)in->flow_width);
            const float *const uv = in->flow_px + (i * in->flow_width + j) * 2;
            arrow(d->cr, x, y, (double)uv[0] * gain, (double)uv[1] * gain);
        }
    cairo_stroke(d->cr);
    cairo_set_line_cap(d->cr, CAIRO_LINE_CAP_BUTT);
}

/* The colour bar at b: the BANDS colours bottom (0) to top (the largest displacement),
 * labelled at 0, half and the top. */
static void colour_bar(const draw_ctx *d, sp_cli_rect b)
{
    cairo_t *const cr = d->cr;
    for (int k = 0; k < BANDS; k++) {
        uint32_t const c = band_colour(k);
        double const y0 = b.y + b.h - (double)b.h * (k + 1) / BANDS, y1 = b.y + b.h - (double)b.h * k / BANDS;
        cairo_set_source_rgb(cr, (c >> 16 & 0xff) / 255.0, (c >> 8 & 0xff) / 255.0, (c & 0xff) / 255.0);
        cairo_rectangle(cr, b.x, y0, b.w, y1 - y0);
        cairo_fill(cr);
    }
    d->lay->colour_bar = b;
    set_colour(cr, INK);
    cairo_set_line_width(cr, 1.0);
    for (int k = 0; k <= 2; k++) {
        double const y = b.y + b.h - b.h * k / 2.0;
        char label[48];
        snprintf(label, sizeof label, k == 2 ? "%.2f px" : "%.2f", d->max_px * k / 2.0);
        cairo_move_to(cr, b.x + b.w, y);
        cairo_line_to(cr, b.x + b.w + 4, y);
        cairo_stroke(cr);
        put_text(cr, b.x + b.w + 6, y + 4, 11, 0, -1, label);
    }
}

static int draw_magnitude(const draw_ctx *d)
{
    const sp_cli_preview_input *const in = d->in;
    int const x = 2 * CELL, y = TITLE_H + CELL;
    flow_ctx const f = {in->flow_px, in->flow_width, d->max_px + 1e-5};
    cairo_surface_t *const s = raster(CAIRO_FORMAT_RGB24, in->flow_width, in->flow_height, magnitude_px, &f);
    if (s == NULL) return -1;
    sp_cli_rect const r = fit_raster(x + 30, y + 40, in->flow_width, in->flow_height);
    paint_raster(d->cr, s, in->flow_width, in->flow_height, r);
    cairo_surface_destroy(s);
    d->lay->magnitude = r;
    quiver(d, r);
    sp_cli_rect const bar = {x + 30 + BOX + 12, r.y, 14, r.h};
    heading(d->cr, x, y, "Displacement |(u, v)| and direction");
    set_colour(d->cr, GREY);
    put_text(d->cr, r.x + r.w / 2.0, r.y + r.h + 22, 12, 0, 0,
             "arrows: one flow sample per cell, to scale with each other");
    colour_bar(d, bar);
    return 0;
}

/* ---- the sheet ------------------------------------------------------------------------- */

static double largest_displacement(const sp_cli_preview_input *in)
{
    double m = 0.0;
    size_t const n = in->flow_height * in->flow_width;
    for (size_t k = 0; k < n; k++) m = fmax(m, hypot((double)in->flow_px[2 * k], (double)in->flow_px[2 * k + 1]));
    return m;
}

static cairo_status_t png_out(void *closure, const unsigned char *data, unsigned int length)
{
    sp_sink const sink = sp_sink_membuf((sp_membuf *)closure);
    return sp_sink_write(&sink, data, length, NULL) == SP_OK ? CAIRO_STATUS_SUCCESS : CAIRO_STATUS_WRITE_ERROR;
}

static int draw_all(const draw_ctx *d)
{
    cairo_set_source_rgb(d->cr, 1, 1, 1);
    cairo_paint(d->cr);
    draw_title(d);
    draw_histograms(d);
    if (draw_frame(d, 1) || draw_frame(d, 2) || draw_flow(d) || draw_wheel(d) || draw_magnitude(d)) return -1;
    return cairo_status(d->cr) == CAIRO_STATUS_SUCCESS ? 0 : -1;
}

int sp_cli_preview_draw(const sp_cli_preview_input *in, sp_membuf *png, sp_cli_preview_layout *lay, char *why,
                        size_t why_cap)
{
    size_t const limit = 32767; /* cairo's largest image surface side */
    if (in->width > limit || in->height > limit || in->flow_width > limit || in->flow_height > limit) {
        snprintf(why, why_cap, "images or flows wider or taller than %zu px cannot be drawn", limit);
        return -1;
    }
    memset(lay, 0, sizeof *lay);
    lay->width = SP_PREVIEW_WIDTH;
    lay->height = SP_PREVIEW_HEIGHT;
    cairo_surface_t *const sheet = cairo_image_surface_create(CAIRO_FORMAT_RGB24, SP_PREVIEW_WIDTH, SP_PREVIEW_HEIGHT);
    cairo_t *const cr = cairo_create(sheet);
    draw_ctx const d = {cr, in, lay, largest_displacement(in)};
    lay->max_displacement_px = d.max_px;
    int rc = cairo_status(cr) == CAIRO_STATUS_SUCCESS ? draw_all(&d) : -1;
    cairo_status_t st = cairo_status(cr);
    cairo_destroy(cr);
    if (rc == 0) {
        st = cairo_surface_write_to_png_stream(sheet, png_out, png);
        rc = st == CAIRO_STATUS_SUCCESS ? 0 : -1;
    }
    cairo_surface_destroy(sheet);
    /* cairo keeps its font caches for the life of the process: the command draws one sheet,
     * so give them back now, and leak checkers see only what libfontconfig itself keeps. */
    cairo_debug_reset_static_data();
    if (rc != 0)
        snprintf(why, why_cap, "drawing failed: %s",
                 st != CAIRO_STATUS_SUCCESS ? cairo_status_to_string(st) : "out of memory for an image surface");
    return rc;
}
