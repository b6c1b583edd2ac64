/* synthpix: umbrella header. Includes every public header of libsynthpix.
 *
 * Thread safety: see each header's paragraph.
 */
#ifndef SP_H
#define SP_H

#define SP_VERSION_MAJOR 0
#define SP_VERSION_MINOR 1
#define SP_VERSION_PATCH 0
#define SP_VERSION_NUMBER (SP_VERSION_MAJOR * 10000 + SP_VERSION_MINOR * 100 + SP_VERSION_PATCH)
#ifndef SP_VERSION_STRING
#define SP_VERSION_STRING "0.1.0"
#endif

#include "sp/sp_config.h"
#include "sp/sp_ckpt.h"
#include "sp/sp_errors.h"
#include "sp/sp_flow.h"
#include "sp/sp_io.h"
#include "sp/sp_matio_h5.h"
#include "sp/sp_pipeline.h"
#include "sp/sp_pool.h"
#include "sp/sp_render.h"
#include "sp/sp_rng.h"
#include "sp/sp_sampler.h"
#include "sp/sp_sink.h"

#endif /* SP_H */
