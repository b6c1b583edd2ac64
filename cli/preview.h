/* preview.h: the drawing of `synthpix preview` (cli/preview_draw.c, with libcairo) and its
 * colour maps (cli/preview_colour.c). Built only when the build has libcairo
 * (SP_HAVE_CAIRO); cli/cmd_preview.c renders the pair and calls sp_cli_preview_draw.
 *
 * The layout is fixed, whatever the image size (docs/formats.md, "Preview images"): a
 * SP_PREVIEW_WIDTH x SP_PREVIEW_HEIGHT canvas, a title band, then two rows of three cells:
 *
 *     title: configuration, pair, image size, particles
 *     [ image 1        ] [ image 2          ] [ intensity histograms ]
 *     [ flow (colours) ] [ colour-wheel key ] [ |displacement| + arrows, colour bar ]
 *
 * Each raster (images, flow, magnitude) is scaled to fit a 320 x 320 box: up by a whole
 * factor (nearest pixel), or down smoothly when it is larger; sp_cli_preview_layout gives
 * the rectangle each one really covers.
 */
#ifndef SP_CLI_PREVIEW_H
#define SP_CLI_PREVIEW_H

#include <stddef.h>
#include <stdint.h>

#include "sp/sp_sink.h"

#define SP_PREVIEW_WIDTH 1240
#define SP_PREVIEW_HEIGHT 860

/* Pixels of the PNG: x to the right, y down; the rectangle covers [x, x + w) x [y, y + h). */
typedef struct sp_cli_rect {
    int x, y, w, h;
} sp_cli_rect;

typedef struct sp_cli_preview_layout {
    int width, height;              /* of the PNG */
    sp_cli_rect image1, image2;     /* the two frames */
    sp_cli_rect flow;               /* the flow in Middlebury colours */
    sp_cli_rect wheel;              /* the colour wheel's bounding square */
    sp_cli_rect magnitude;          /* |displacement| in viridis, with the arrows */
    sp_cli_rect colour_bar;         /* the magnitude's scale */
    sp_cli_rect histogram;          /* the plot area of the histograms (inside the axes) */
    double max_displacement_px;     /* largest |(u, v)| of the flow, pixels per pair */
} sp_cli_preview_layout;

typedef struct sp_cli_preview_input {
    const uint8_t *image1, *image2; /* height x width, 8-bit as `synthpix generate` writes them; borrowed */
    size_t height, width;
    const float *flow_px;           /* flow_height x flow_width x 2: (u, v) in pixels per pair, u to the
                                       right, v down; borrowed */
    size_t flow_height, flow_width;
    const char *title;              /* first line (UTF-8); borrowed */
    const char *subtitle;           /* second line; borrowed */
} sp_cli_preview_input;

/* Draws the preview and appends its PNG encoding to png (caller frees it with
 * sp_membuf_free); fills layout. Returns 0, or -1 with a one-line reason in why. */
int sp_cli_preview_draw(const sp_cli_preview_input *in, sp_membuf *png, sp_cli_preview_layout *layout, char *why,
                        size_t why_cap);

/* The Middlebury flow colour (Baker et al., "A Database and Evaluation Methodology for Optical
 * Flow"; the 55-colour wheel RY 15, YG 6, GC 4, CB 11, BM 13, MR 6) of (u, v) already divided
 * by the normalising radius: the hue from the direction (right red, down yellow, left cyan, up
 * blue-violet), the saturation from the radius r = |(u, v)| (white at 0, the wheel's colour
 * at 1, darkened by 0.75 beyond 1). */
void sp_cli_flow_colour(double u, double v, uint8_t rgb[3]);
/* Viridis at t in [0, 1] (clamped), linear between 17 samples of the 256-entry map. */
void sp_cli_viridis(double t, uint8_t rgb[3]);

#endif /* SP_CLI_PREVIEW_H */
