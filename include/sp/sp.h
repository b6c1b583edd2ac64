/* synthpix: umbrella header. Includes every public header of libsynthpix.
 *
 * Thread safety: see each header's paragraph.
 */
#ifndef SP_H
#define SP_H

#include "sp/sp_api.h"

#include "sp/sp_config.h"
#include "sp/sp_ckpt.h"
#include "sp/sp_dataset.h"
#include "sp/sp_dtype.h"
#include "sp/sp_errors.h"
#include "sp/sp_flow.h"
#include "sp/sp_fs.h"
#include "sp/sp_group.h"
#include "sp/sp_io.h"
#include "sp/sp_matio_h5.h"
#include "sp/sp_pipeline.h"
#include "sp/sp_pool.h"
#include "sp/sp_render.h"
#include "sp/sp_rng.h"
#include "sp/sp_sampler.h"
#include "sp/sp_sink.h"

#endif /* SP_H */
