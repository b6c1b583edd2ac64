/* preview_colour.c: the colour maps of `synthpix preview` (cli/preview.h).
 *
 * sp_cli_flow_colour is the Middlebury flow colour coding of Baker et al., as their
 * `colorcode` program and the flow_vis package compute it: a wheel of 55 colours in six
 * ramps (red-yellow 15, yellow-green 6, green-cyan 4, cyan-blue 11, blue-magenta 13,
 * magenta-red 6), each ramp moving one channel by floor(255 i / n); the direction
 * a = atan2(-v, -u) / pi in [-1, 1] picks a fractional position (a + 1) / 2 * 54 on it,
 * blended linearly between two neighbours; the radius r blends towards white,
 * 1 - r (1 - c), inside the unit disc and darkens by 0.75 outside; each channel ends as
 * floor(255 c). Everything is computed per call: no table, no state.
 *
 * sp_cli_viridis is matplotlib's viridis, from 17 of its 256 entries (0, 16, ..., 240, 255,
 * rounded to 8 bits) taken as evenly spaced and blended linearly.
 */
#include "preview.h"

#include <math.h>

enum { RY = 15, YG = 6, GC = 4, CB = 11, BM = 13, MR = 6, NCOLS = RY + YG + GC + CB + BM + MR };

/* floor(255 i / n): one step of a ramp. */
static double ramp(int i, int n)
{
    return floor(255.0 * (double)i / (double)n);
}

/* Entry k (0 .. NCOLS - 1) of the wheel, channels in [0, 255]. */
static void wheel_entry(int k, double c[3])
{
    if (k < RY) {
        c[0] = 255, c[1] = ramp(k, RY), c[2] = 0;
    } else if ((k -= RY) < YG) {
        c[0] = 255 - ramp(k, YG), c[1] = 255, c[2] = 0;
    } else if ((k -= YG) < GC) {
        c[0] = 0, c[1] = 255, c[2] = ramp(k, GC);
    } else if ((k -= GC) < CB) {
        c[0] = 0, c[1] = 255 - ramp(k, CB), c[2] = 255;
    } else if ((k -= CB) < BM) {
        c[0] = ramp(k, BM), c[1] = 0, c[2] = 255;
    } else {
        k -= BM;
        c[0] = 255, c[1] = 0, c[2] = 255 - ramp(k, MR);
    }
}

void sp_cli_flow_colour(double u, double v, uint8_t rgb[3])
{
    double const rad = sqrt(u * u + v * v);
    if (!isfinite(rad)) { /* NaN or infinite: never from a checked flow; black, not UB */
        rgb[0] = rgb[1] = rgb[2] = 0;
        return;
    }
    /* v + 0.0 turns -0.0 into +0.0, so a flow pointing exactly right always lands at a = -1
     * (the wheel's first entry, pure red) and never at a = +1 (its last, 54, a hint of blue). */
    double const a = atan2(-(v + 0.0), -u) / M_PI;
    double const fk = (a + 1.0) / 2.0 * (NCOLS - 1);
    int const k0 = (int)floor(fk);
    int const k1 = k0 + 1 >= NCOLS ? 0 : k0 + 1;
    double const f = fk - (double)k0;
    double c0[3], c1[3];
    wheel_entry(k0 < NCOLS ? k0 : NCOLS - 1, c0);
    wheel_entry(k1, c1);
    for (int i = 0; i < 3; i++) {
        double col = ((1.0 - f) * c0[i] + f * c1[i]) / 255.0;
        col = rad <= 1.0 ? 1.0 - rad * (1.0 - col) : col * 0.75;
        double const byte = floor(255.0 * col);
        rgb[i] = (uint8_t)(byte < 0 ? 0 : byte > 255 ? 255 : byte);
    }
}

void sp_cli_viridis(double t, uint8_t rgb[3])
{
    static const uint8_t samples[17][3] = {
        {68, 1, 84},     {72, 24, 106},   {71, 45, 123},   {66, 64, 134},  {59, 82, 139},   {51, 99, 141},
        {44, 114, 142},  {38, 130, 142},  {33, 145, 140},  {31, 160, 136}, {40, 174, 128},  {63, 188, 115},
        {94, 201, 98},   {132, 212, 75},  {173, 220, 48},  {216, 226, 25}, {253, 231, 37},
    };
    double const x = (isnan(t) ? 0.0 : t < 0 ? 0.0 : t > 1 ? 1.0 : t) * 16.0;
    int const i = x >= 16.0 ? 15 : (int)x;
    double const f = x - (double)i;
    for (int c = 0; c < 3; c++)
        rgb[c] = (uint8_t)floor((1.0 - f) * samples[i][c] + f * samples[i + 1][c] + 0.5);
}
