/* sampler_internal.h: pieces of the sampler module shared between its files.
 *
 * Module map (src/sampler/ is image synthesis; records come from src/loader):
 *   geometry.c       the frame-1 seeding region (canvas), the image crop, the output grid
 *   pair.c, pair.h   per-pair particles: parameters, positions, advection, bins
 *   sampler.c        creation, the refresh (output flows from the loader's record flows),
 *                    batch orchestration and rendering
 *   real.c           real image pairs (include_images): the loader's records as batches
 *   sampler_state.c  the sampler's state for the pipeline, gathering the loader's part
 * The struct the files share is in sampler_struct.h. Records (order, sources, prefetch,
 * episodes) are reached only through src/internal/sp_records.h.
 */
#ifndef SP_SAMPLER_INTERNAL_H
#define SP_SAMPLER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "sp/sp_config.h"
#include "sp/sp_flow.h"
#include "sp/sp_render.h"
#include "sp/sp_rng.h"
#include "sp/sp_sampler.h"
#include "sp_records.h"
#include "sp_sampler_state.h"

/* ---- flow sampling -------------------------------------------------------------- */

/* Bilinear sample of channels 0 and 1 at grid coordinates (gy, gx), edge-clamped
 * (SynthPix's sampler: docs/synthpix-compat.md, Flow adapter). */
void sp__flow_bilinear(const sp_flow *f, float gy, float gx, float *u, float *v);
/* The same sample of channel 2 (w) of a three-channel flow. */
float sp__flow_bilinear_w(const sp_flow *f, float gy, float gx);

#endif
