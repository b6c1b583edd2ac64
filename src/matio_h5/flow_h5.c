/* flow_h5.c: .h5 flow files (docs/synthpix-compat.md, Flow sources): the whole first dataset is
 * one record.
 *
 * Format subset: the first link of the root group in name order (h5py's first key) must be
 * a dataset of shape (H, W, 2) or (H, W, 3), row-major, IEEE float32 or float64 of either
 * byte order, stored contiguous, compact or chunked with no filter, shuffle and/or deflate
 * (h5_raw.c has the exact rules). A 3-component flow keeps w as channel 2 for out-of-plane
 * modelling. Everything else is an error naming the file: an empty root group, a group or
 * other object first, another rank, shape or type, another layout or filter.
 *
 * Hostile input: libhdf5 only parses the metadata (in the child process of mh_isolate.c);
 * the data is read by h5_raw.c after its storage is checked against the file, because
 * libhdf5's own data path reads outside its buffers on damaged layouts (the fuzz corpus's
 * crash_m00176, m00387, m00841, m00895: see h5_raw.c). The shape is checked before
 * anything is allocated (mh_common.c); HDF5's error printing is silenced; the in-memory
 * variant (for fuzzing) opens a copy of the bytes through the core driver.
 *
 * Without libhdf5 (SP_HAVE_HDF5 0) both readers return SP_ERR_UNSUPPORTED naming the file.
 */
#include <stdlib.h>
#include <string.h>

#include "sp_internal.h"
#include "matio_h5_internal.h"
#include "sp/sp_matio_h5.h"

#if SP_HAVE_HDF5
#define SP_H5_NAME_MAX 1024

/* Name of the first root-group link in name order, or an error. */
static sp_status first_link(hid_t file, const char *path, char *name, size_t cap, sp_error *err)
{
    H5G_info_t info;
    SP_RETURN_IF(H5Gget_info(file, &info) < 0, err, SP_ERR_CORRUPT, "%s: the root group cannot be read", path);
    SP_RETURN_IF(info.nlinks == 0, err, SP_ERR_MISMATCH, "%s: the file holds no dataset", path);
    ssize_t const n = H5Lget_name_by_idx(file, ".", H5_INDEX_NAME, H5_ITER_INC, 0, name, cap, H5P_DEFAULT);
    SP_RETURN_IF(n < 0, err, SP_ERR_CORRUPT, "%s: the root group's first entry cannot be read", path);
    SP_RETURN_IF((size_t)n >= cap, err, SP_ERR_RANGE, "%s: the first entry's name is longer than %zu bytes", path,
                 cap - 1);
    H5O_info_t oi;
    SP_RETURN_IF(H5Oget_info_by_name2(file, name, &oi, H5O_INFO_BASIC, H5P_DEFAULT) < 0, err, SP_ERR_CORRUPT,
                 "%s: the first entry '%s' cannot be read", path, name);
    SP_RETURN_IF(oi.type != H5O_TYPE_DATASET, err, SP_ERR_MISMATCH,
                 "%s: the first entry '%s' is not a dataset (a .h5 flow file's first key must be a dataset)", path,
                 name);
    return SP_OK;
}

/* Lock held: reads the first dataset of an open file as a flow. */
static sp_status read_open(const sp__mh_h5 *h, const char *path, sp_flow *flow, sp_error *err)
{
    char name[SP_H5_NAME_MAX];
    SP_TRY(first_link(h->id, path, name, sizeof name, err));
    sp__mh_array a;
    SP_TRY(sp__mh_h5_read(h, path, name, 1, &a, err));
    char what[SP_H5_NAME_MAX + 16];
    snprintf(what, sizeof what, "dataset '%s'", name);
    sp_status const st = sp__mh_array_to_flow(path, what, &a, 1, 0, flow, err);
    sp__mh_array_release(&a);
    return st;
}

static sp_status read_path(const void *args, sp__mh_out *out, sp_error *err)
{
    const char *const path = (const char *)args;
    sp_flow *const flow = &out->flow;
    sp__mh_lock_state ls;
    sp__mh_lock(&ls);
    sp__mh_h5 h;
    sp_status st = sp__mh_h5_open(path, &h, err);
    if (st == SP_OK) st = read_open(&h, path, flow, err);
    sp__mh_h5_close(&h);
    sp__mh_unlock(&ls);
    return st;
}

typedef struct mem_args {
    const void *buf;
    size_t len;
    const char *name;
} mem_args;

static sp_status read_mem(const void *args, sp__mh_out *out, sp_error *err)
{
    const mem_args *const a = (const mem_args *)args;
    const void *const buf = a->buf;
    size_t const len = a->len;
    const char *const nm = a->name;
    sp_flow *const flow = &out->flow;
    sp__mh_lock_state ls;
    sp__mh_lock(&ls);
    sp__mh_h5 h;
    sp_status st = sp__mh_h5_open_image(buf, len, nm, &h, err);
    if (st == SP_OK) st = read_open(&h, nm, flow, err);
    sp__mh_h5_close(&h);
    sp__mh_unlock(&ls);
    return st;
}

/* Both public readers run in a child process (mh_isolate.c): libhdf5's metadata parsing
 * is not known to be safe on hostile files. The _in_process variants below skip the child,
 * for the in-process corpus replay only (matio_h5_internal.h). */
sp_status sp_h5_read_flow(const char *path, sp_flow *flow, sp_error *err)
{
    sp__mh_out out;
    sp_status const st = sp__mh_isolated(path, read_path, path, &out, err);
    *flow = out.flow;
    return st;
}

sp_status sp_h5_parse_flow(const void *buf, size_t len, const char *name, sp_flow *flow, sp_error *err)
{
    mem_args const a = {buf, len, name ? name : "(memory)"};
    sp__mh_out out;
    sp_status const st = sp__mh_isolated(a.name, read_mem, &a, &out, err);
    *flow = out.flow;
    return st;
}

sp_status sp__h5_read_flow_in_process(const char *path, sp_flow *flow, sp_error *err)
{
    sp__mh_out out;
    memset(&out, 0, sizeof out);
    sp_status const st = read_path(path, &out, err);
    *flow = out.flow;
    return st;
}

sp_status sp__h5_parse_flow_in_process(const void *buf, size_t len, const char *name, sp_flow *flow, sp_error *err)
{
    mem_args const a = {buf, len, name ? name : "(memory)"};
    sp__mh_out out;
    memset(&out, 0, sizeof out);
    sp_status const st = read_mem(&a, &out, err);
    *flow = out.flow;
    return st;
}
#else /* !SP_HAVE_HDF5 */
sp_status sp_h5_read_flow(const char *path, sp_flow *flow, sp_error *err)
{
    memset(flow, 0, sizeof *flow);
    return sp__mh_unsupported(path, "libhdf5", ".h5 files cannot be read", err);
}

sp_status sp_h5_parse_flow(const void *buf, size_t len, const char *name, sp_flow *flow, sp_error *err)
{
    (void)buf;
    (void)len;
    memset(flow, 0, sizeof *flow);
    return sp__mh_unsupported(name ? name : "(memory)", "libhdf5", ".h5 files cannot be read", err);
}

sp_status sp__h5_read_flow_in_process(const char *path, sp_flow *flow, sp_error *err)
{
    return sp_h5_read_flow(path, flow, err);
}

sp_status sp__h5_parse_flow_in_process(const void *buf, size_t len, const char *name, sp_flow *flow, sp_error *err)
{
    return sp_h5_parse_flow(buf, len, name, flow, err);
}
#endif /* SP_HAVE_HDF5 */
