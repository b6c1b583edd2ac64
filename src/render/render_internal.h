/* render_internal.h: limits and helpers shared inside the render module. */
#ifndef SP_RENDER_INTERNAL_H
#define SP_RENDER_INTERNAL_H

#include <stddef.h>

#include "sp/sp_render.h"

size_t sp__render_band_rows(const sp_render_geometry *g);

#endif
