/* config_default.c: the embedded default configuration (sp_config_default_yaml).
 *
 * It is what `synthpix generate` uses with no configuration file, so it needs no data files:
 * the flows are the built-in analytic ones (docs/flows.md). It is plain YAML in the subset the
 * loader accepts, and a unit test checks that it loads with no error and no warning.
 *
 * Variety: every record draws its flow's parameters from the ranges below (sp_analytic_draw:
 * a pure function of the seed and the record index), analytic_num_examples is a million,
 * and every pair of a batch has its own record (F = B, one batch per refresh), so a run of
 * a million pairs holds a million different flows. examples/classic-eight-flows.yaml keeps
 * the earlier eight fixed flows.
 *
 * Speed budget: the domain is 1.6 x 1.6 units, dt = 0.01 s, 200 px per unit, so 1 unit/s is
 * 2 px of displacement. Every flow any draw can give stays under 2.4 units/s on the whole
 * domain (under 4.8 px), inside the declared speed bounds of +-2.5 units/s:
 *   uniform       speed                                            <= 2.30
 *   lamb_oseen    0.638 |G| / (2 pi rc), |G| <= 3, rc >= 0.13        <= 2.34 (peak at r = 1.12 rc)
 *   rankine       |G| / (2 pi rc), |G| <= 2.5, rc >= 0.17            <= 2.34 (peak at r = rc)
 *   taylor_green  |amplitude|                                      <= 2.20
 *   shear         |rate| * max |y - cy|, |rate| <= 2.2, cy in [0.6, 1] <= 2.20
 *   poiseuille    |amplitude| (centre line)                        <= 2.20
 *   stagnation    |rate| * max |(x - cx, y - cy)|, |rate| <= 1.6, c in [0.6, 1]^2
 *                                                                  <= 2.27
 *   kinematic     max_displacement_range upper bound               <= 2.00
 * (tests/unit/test_config.c checks these bounds on 10,000 drawn records.)
 */
#include "sp/sp_config.h"

static const char default_yaml[] =
    "# synthpix embedded default configuration.\n"
    "# Print it with `synthpix config default`, edit it, and check it with\n"
    "# `synthpix config check FILE`.\n"
    "\n"
    "# ---- Flow source ----\n"
    "# Built-in analytic flows: no data files needed. Record i uses analytic_flow[i mod 8]\n"
    "# with its parameters drawn for that record from the ranges given as [lo, hi], so\n"
    "# every record is a different flow (a million records per epoch). Each flow stays\n"
    "# below 2.4 units/s everywhere in the 1.6 x 1.6 domain. The eight fixed flows of\n"
    "# earlier versions are examples/classic-eight-flows.yaml.\n"
    "scheduler_class: analytic\n"
    "analytic_flow:\n"
    "  - {kind: uniform, speed: [0.2, 2.3], angle: [0, 360]}\n"
    "  - {kind: lamb_oseen, center: [[0.5, 1.1], [0.5, 1.1]], circulation: [-3.0, 3.0], core_radius: [0.13, 0.3]}\n"
    "  - {kind: rankine, center: [[0.5, 1.1], [0.5, 1.1]], circulation: [-2.5, 2.5], core_radius: [0.17, 0.35]}\n"
    "  - {kind: taylor_green, amplitude: [-2.2, 2.2], wavelength: [0.4, 1.6]}\n"
    "  - {kind: shear, center: [[0.6, 1.0], null], rate: [-2.2, 2.2]}\n"
    "  - {kind: poiseuille, center: [[0.6, 1.0], null], amplitude: [-2.2, 2.2], half_width: [0.3, 0.8]}\n"
    "  - {kind: stagnation, center: [[0.6, 1.0], [0.6, 1.0]], rate: [-1.6, 1.6]}\n"
    "  - {kind: kinematic, max_displacement_range: [0.5, 2.0], filter_sigma_range: [2, 8], grid: [80, 80]}\n"
    "analytic_num_examples: 1000000\n"
    "\n"
    "# ---- Geometry ----\n"
    "# 256 x 256 images of a 1.28 x 1.28 window (256 px / 200 px per unit) placed at\n"
    "# (0.16, 0.16) inside the 1.6 x 1.6 flow domain: room for particles to enter from\n"
    "# upstream at the largest declared speed (2.5 units/s * dt).\n"
    "image_shape: [256, 256]\n"
    "flow_field_size: [1.6, 1.6]\n"
    "resolution: 200            # camera pixels per measure unit\n"
    "img_offset: [0.16, 0.16]   # (y, x) of the window's top-left corner, measure units\n"
    "dt: 0.01                   # seconds between frame 1 and frame 2\n"
    "velocities_per_pixel: 1    # output flow grid = image grid\n"
    "output_units: pixels       # ground-truth flow as pixel displacement per pair\n"
    "# Bounds on the flow speed (units/s), used to size the seeding region.\n"
    "min_speed_x: -2.5\n"
    "max_speed_x: 2.5\n"
    "min_speed_y: -2.5\n"
    "max_speed_y: 2.5\n"
    "\n"
    "# ---- Batching ----\n"
    "# 8 pairs per batch, each with its own flow record; every batch loads new flows.\n"
    "batch_size: 8\n"
    "flow_fields_per_batch: 8\n"
    "batches_per_flow_batch: 1\n"
    "seed: 0\n"
    "randomize: false\n"
    "loop: true\n"
    "\n"
    "# ---- Particles ----\n"
    "# Realistic PIV seeding: 0.02-0.04 particles per pixel, 2-4 px diameters measured at\n"
    "# the e^-2 intensity (Raffel's convention), rendered as pixel-integrated Gaussians.\n"
    "seeding_density_range: [0.02, 0.04]\n"
    "diameter_convention: e2\n"
    "psf: integrated\n"
    "diameter_ranges: [[2.0, 4.0]]\n"
    "diameter_var: 0.03         # variance of the frame-1 -> frame-2 diameter change\n"
    "intensity_ranges: [[150, 240]]\n"
    "intensity_var: 0.01\n"
    "rho_ranges: [[-0.1, 0.1]]  # slight ellipticity of the particle images\n"
    "rho_var: 0.01\n"
    "# Out-of-plane loss: each particle is hidden in a frame with this probability.\n"
    "p_hide_img1: 0.001\n"
    "p_hide_img2: 0.001\n"
    "\n"
    "# ---- Camera noise ----\n"
    "# A dark offset of 2 grey levels plus Gaussian read noise of std 2.\n"
    "noise_uniform: 0\n"
    "noise_gaussian_mean: 2\n"
    "noise_gaussian_std: 2\n"
    "\n"
    "# ---- Output ----\n"
    "bit_depth: 8               # 8- or 16-bit image files\n"
    "threads: 0                 # 0 = all cores; the output does not depend on it\n";

const char *sp_config_default_yaml(void)
{
    return default_yaml;
}
