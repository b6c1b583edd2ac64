/* flow_mat.c: MATLAB .mat flow files (docs/synthpix-compat.md, Flow sources and D6; docs/formats.md).
 *
 * Format subset:
 *   v5 files, compressed or not, through libmatio: variable V, a real float32 or
 *     float64 array of MATLAB shape (H, W, 2), (H, W, 3) (w kept as channel 2, for the
 *     light sheet: docs/realism.md) or (2, H, W); with images, I0 and I1, real
 *     numeric arrays of shape (H, W). v5 data is column-major with MATLAB's shape.
 *   HDF5-based files (v7.3: a 512-byte MATLAB header then HDF5; or plain HDF5 written by
 *     h5py): the orientation follows the MATLAB_class attribute of V:
 *       present (MATLAB, matio, hdf5storage): column-major, MATLAB shape = the HDF5 shape
 *         reversed. Read through libmatio when the file has a MATLAB v7.3 header, else
 *         through libhdf5 with the same interpretation.
 *       absent (h5py / NumPy): row-major, the NumPy shape is the HDF5 shape; read through
 *         libhdf5. SynthPix's own download scripts write such files as (H, W, 2).
 *     This is what makes a MATLAB-written (H, W, 2) flow come out untransposed, where
 *     SynthPix transposes it (docs/synthpix-compat.md, D6).
 *     "Through libhdf5" means that libhdf5 parses the metadata and h5_raw.c reads the data,
 *     so these variables take h5_raw.c's storage subset (contiguous, compact, or chunked
 *     with shuffle/deflate; standard float and integer types). Files read through libmatio
 *     still reach libhdf5's own data path (in the child process).
 *   Flows keep their own grid (no 256x256 resample: docs/synthpix-compat.md, D6).
 *
 * Hostile input: every read runs in a child process (mh_isolate.c), because libhdf5 and
 * libmatio crash on some damaged files. A v5 file is walked element by element first
 * (mat_v5_check.c): libmatio would return a truncated variable as if complete. MATLAB v4
 * files are refused (v4 has no 3-D arrays, so it cannot hold V). The header is checked
 * here before libmatio or libhdf5 sees the file; a
 * variable's rank, class and shape are checked from its header (Mat_VarReadInfo,
 * H5Dget_space) before its data is read, so a hostile header cannot make us allocate more
 * than 2^28 elements; the data buffer libmatio returns is checked against the shape before
 * it is touched. Errors name the file and the variable.
 *
 * Features: v5 files and MATLAB-written v7.3 files need libmatio (SP_HAVE_MATIO), every
 * HDF5-based file needs libhdf5 (SP_HAVE_HDF5). A file whose library this build lacks is
 * SP_ERR_UNSUPPORTED naming the file and the library; without both, every .mat is.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if SP_HAVE_MATIO
#include <matio.h>
#endif

#include "sp_fsutil.h"
#include "sp_internal.h"
#include "matio_h5_internal.h"
#include "sp/sp_matio_h5.h"

#if SP_HAVE_MATIO || SP_HAVE_HDF5
static const unsigned char sp_hdf5_signature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};

typedef enum mat_kind { MAT_KIND_V5, MAT_KIND_V73, MAT_KIND_PLAIN_H5 } mat_kind;

/* Classifies the file from its first bytes: HDF5 signature at 0 (plain HDF5), a MATLAB
 * header with version 0x0200 and the HDF5 signature at 512 (v7.3), anything else goes to
 * libmatio's v4/v5 reader, which checks it again. */
static sp_status classify(const char *path, mat_kind *kind, sp_error *err)
{
    FILE *const f = fopen(path, "rb");
    SP_RETURN_IF(f == NULL, err, SP_ERR_IO, "%s: cannot open", path);
    unsigned char hdr[520];
    size_t const n = fread(hdr, 1, sizeof hdr, f);
    fclose(f);
    if (n >= 8 && memcmp(hdr, sp_hdf5_signature, 8) == 0) {
        *kind = MAT_KIND_PLAIN_H5;
        return SP_OK;
    }
    SP_RETURN_IF(n < 128, err, SP_ERR_CORRUPT, "%s: file is %zu bytes, too short for a .mat header (128 bytes)", path,
                 n);
    unsigned const ver = hdr[126] == 'I' ? sp__load_le16(hdr + 124) : sp__load_be16(hdr + 124);
    if (ver == 0x0200) {
        SP_RETURN_IF(n < 520 || memcmp(hdr + 512, sp_hdf5_signature, 8) != 0, err, SP_ERR_CORRUPT,
                     "%s: MATLAB v7.3 header without the HDF5 data that must follow it (truncated or damaged)", path);
        *kind = MAT_KIND_V73;
        return SP_OK;
    }
    *kind = MAT_KIND_V5;
    return SP_OK;
}

/* libmatio would accept a truncated v5 variable (mat_v5_check.c): walk the file first. */
static sp_status check_v5(const char *path, int images, sp_error *err)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    SP_TRY(sp__fs_read_whole(path, (size_t)1 << 34, &buf, &len, err));
    sp_status const st = sp__mat_v5_check(path, buf, len, images, err);
    free(buf);
    return st;
}

/* ---- libmatio ----------------------------------------------------------------------- */
#if SP_HAVE_MATIO

static int elem_to_float(const matvar_t *v, size_t k, float *out)
{
    const unsigned char *const p = (const unsigned char *)v->data + k * (size_t)v->data_size;
    switch (v->data_type) {
#define SP_MAT_CASE(tag, type)                                                                \
    case tag: {                                                                               \
        type x;                                                                               \
        memcpy(&x, p, sizeof x);                                                              \
        *out = (float)x;                                                                      \
        return 1;                                                                             \
    }
        SP_MAT_CASE(MAT_T_DOUBLE, double)
        SP_MAT_CASE(MAT_T_SINGLE, float)
        SP_MAT_CASE(MAT_T_INT8, int8_t)
        SP_MAT_CASE(MAT_T_UINT8, uint8_t)
        SP_MAT_CASE(MAT_T_INT16, int16_t)
        SP_MAT_CASE(MAT_T_UINT16, uint16_t)
        SP_MAT_CASE(MAT_T_INT32, int32_t)
        SP_MAT_CASE(MAT_T_UINT32, uint32_t)
        SP_MAT_CASE(MAT_T_INT64, int64_t)
        SP_MAT_CASE(MAT_T_UINT64, uint64_t)
#undef SP_MAT_CASE
    case MAT_T_UNKNOWN: case MAT_T_MATRIX: case MAT_T_COMPRESSED: case MAT_T_UTF8: case MAT_T_UTF16:
    case MAT_T_UTF32: case MAT_T_STRING: case MAT_T_CELL: case MAT_T_STRUCT: case MAT_T_ARRAY:
    case MAT_T_FUNCTION: break;
    }
    return 0;
}

static size_t type_size(enum matio_types t)
{
    switch (t) {
    case MAT_T_DOUBLE: case MAT_T_INT64: case MAT_T_UINT64: return 8;
    case MAT_T_SINGLE: case MAT_T_INT32: case MAT_T_UINT32: return 4;
    case MAT_T_INT16: case MAT_T_UINT16: return 2;
    case MAT_T_INT8: case MAT_T_UINT8: return 1;
    case MAT_T_UNKNOWN: case MAT_T_MATRIX: case MAT_T_COMPRESSED: case MAT_T_UTF8: case MAT_T_UTF16:
    case MAT_T_UTF32: case MAT_T_STRING: case MAT_T_CELL: case MAT_T_STRUCT: case MAT_T_ARRAY:
    case MAT_T_FUNCTION: break;
    }
    return 0;
}

static int class_ok(enum matio_classes c, int float_only)
{
    if (c == MAT_C_DOUBLE || c == MAT_C_SINGLE) return 1;
    return !float_only && c >= MAT_C_INT8 && c <= MAT_C_UINT64;
}

/* Checks a variable header from Mat_VarReadInfo / Mat_VarRead: class, realness, shape. */
static sp_status check_var(const char *path, const char *name, const matvar_t *v, int float_only, size_t *dims,
                           size_t *rank, size_t *count, sp_error *err)
{
    SP_RETURN_IF(!class_ok(v->class_type, float_only) || v->isComplex || v->isLogical, err, SP_ERR_UNSUPPORTED,
                 "%s: variable %s is not a real %s array", path, name,
                 float_only ? "single or double" : "numeric");
    SP_RETURN_IF(v->rank < 1 || v->rank > SP_MH_MAX_RANK || v->dims == NULL, err, SP_ERR_MISMATCH,
                 "%s: variable %s has rank %d; expected %s", path, name, v->rank, float_only ? "3" : "2");
    *rank = (size_t)v->rank;
    dims[0] = dims[1] = dims[2] = 1;
    for (size_t k = 0; k < *rank; k++) dims[k] = v->dims[k];
    /* MATLAB has no rank-1 arrays; a trailing singleton is dropped, as NumPy would see it. */
    while (*rank > 2 && dims[*rank - 1] == 1) (*rank)--;
    char what[64];
    snprintf(what, sizeof what, "variable %s", name);
    return sp__mh_check_shape(path, what, *rank, dims, count, err);
}

/* Lock held: reads variable `name` through libmatio into a column-major array. */
static sp_status matio_read(mat_t *mat, const char *path, const char *name, int float_only, sp__mh_array *out,
                            sp_error *err)
{
    memset(out, 0, sizeof *out);
    size_t count = 0;
    matvar_t *const info = Mat_VarReadInfo(mat, name);
    SP_RETURN_IF(info == NULL, err, SP_ERR_NOTFOUND, "%s: no variable %s%s", path, name,
                 strcmp(name, "V") == 0 ? " (the flow must be stored in V)" : "");
    sp_status st = check_var(path, name, info, float_only, out->dims, &out->rank, &count, err);
    Mat_VarFree(info);
    SP_TRY(st);
    matvar_t *const v = Mat_VarRead(mat, name);
    SP_RETURN_IF(v == NULL, err, SP_ERR_CORRUPT, "%s: variable %s cannot be read (truncated or damaged data)", path,
                 name);
    size_t count2 = 0, dims2[SP_MH_MAX_RANK], rank2 = 0, need = 0;
    st = check_var(path, name, v, float_only, dims2, &rank2, &count2, err);
    size_t const es = type_size(v->data_type);
    if (st == SP_OK && (count2 != count || es == 0 || (size_t)v->data_size != es || v->data == NULL ||
                        !sp__mul_size(count, es, &need) || v->nbytes < need))
        st = sp_error_set(err, SP_ERR_CORRUPT, "%s: variable %s has inconsistent data (%zu bytes for %zu elements)",
                          path, name, v->nbytes, count);
    if (st == SP_OK) {
        out->data = (float *)malloc(count * sizeof(float));
        if (out->data == NULL) st = sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory for variable %s", path, name);
    }
    for (size_t k = 0; st == SP_OK && k < count; k++) (void)elem_to_float(v, k, &out->data[k]);
    Mat_VarFree(v);
    out->column_major = 1;
    if (st != SP_OK) sp__mh_array_release(out);
    return st;
}

#endif /* SP_HAVE_MATIO */

/* ---- libhdf5 (HDF5-based .mat) -------------------------------------------------------- */
#if SP_HAVE_HDF5

/* 1 when dataset `name` carries MATLAB's MATLAB_class attribute (column-major writer). */
static int has_matlab_class(hid_t file, const char *name)
{
    if (H5Lexists(file, name, H5P_DEFAULT) <= 0) return 0;
    return H5Aexists_by_name(file, name, "MATLAB_class", H5P_DEFAULT) > 0;
}

/* Lock held: reads `name` from an HDF5-based .mat with the orientation rule above. */
static sp_status h5_read_var(const sp__mh_h5 *h, const char *path, const char *name, int float_only,
                             sp__mh_array *out, sp_error *err)
{
    hid_t const file = h->id;
    SP_RETURN_IF(H5Lexists(file, name, H5P_DEFAULT) <= 0, err, SP_ERR_NOTFOUND, "%s: no variable %s%s", path, name,
                 strcmp(name, "V") == 0 ? " (the flow must be stored in V)" : "");
    int const matlab = has_matlab_class(file, name);
    SP_TRY(sp__mh_h5_read(h, path, name, float_only, out, err));
    if (matlab) { /* HDF5 shape is MATLAB's reversed; the bytes are already column-major */
        size_t const d0 = out->dims[0];
        if (out->rank == 3) out->dims[0] = out->dims[2], out->dims[2] = d0;
        else if (out->rank == 2) out->dims[0] = out->dims[1], out->dims[1] = d0;
        out->column_major = 1;
    }
    return SP_OK;
}

#endif /* SP_HAVE_HDF5 */

/* ---- assembling the record ------------------------------------------------------------ */

typedef struct mat_vars {
    sp__mh_array v, i0, i1;
} mat_vars;

static void vars_release(mat_vars *m)
{
    sp__mh_array_release(&m->v);
    sp__mh_array_release(&m->i0);
    sp__mh_array_release(&m->i1);
}

typedef sp_status (*var_reader)(void *h, const char *path, const char *name, int float_only, sp__mh_array *out,
                                sp_error *err);

#if SP_HAVE_MATIO
static sp_status matio_reader(void *h, const char *path, const char *name, int float_only, sp__mh_array *out,
                              sp_error *err)
{
    return matio_read((mat_t *)h, path, name, float_only, out, err);
}
#endif

#if SP_HAVE_HDF5
static sp_status h5_reader(void *h, const char *path, const char *name, int float_only, sp__mh_array *out,
                           sp_error *err)
{
    return h5_read_var((const sp__mh_h5 *)h, path, name, float_only, out, err);
}
#endif

static sp_status read_vars(var_reader rd, void *h, const char *path, int images, mat_vars *m, sp_error *err)
{
    SP_TRY(rd(h, path, "V", 1, &m->v, err));
    if (!images) return SP_OK;
    SP_TRY(rd(h, path, "I0", 0, &m->i0, err));
    return rd(h, path, "I1", 0, &m->i1, err);
}

/* Lock held: opens the file with the right library and reads V (and I0, I1). */
static sp_status read_locked(const char *path, mat_kind kind, int images, mat_vars *m, sp_error *err)
{
    if (kind != MAT_KIND_V5) {
#if SP_HAVE_HDF5
        sp__mh_h5 h5;
        SP_TRY(sp__mh_h5_open(path, &h5, err));
        int const use_matio = kind == MAT_KIND_V73 && has_matlab_class(h5.id, "V");
        sp_status st = SP_OK;
        if (!use_matio) st = read_vars(h5_reader, &h5, path, images, m, err);
        sp__mh_h5_close(&h5);
        if (!use_matio) return st;
#else
        return sp__mh_unsupported(path, "libhdf5", "HDF5-based (v7.3) .mat files cannot be read", err);
#endif
    }
#if SP_HAVE_MATIO
    mat_t *const mat = Mat_Open(path, MAT_ACC_RDONLY);
    SP_RETURN_IF(mat == NULL, err, SP_ERR_CORRUPT, "%s: not a readable MATLAB file (truncated, damaged or not a .mat)",
                 path);
    sp_status const st = read_vars(matio_reader, mat, path, images, m, err);
    Mat_Close(mat);
    return st;
#else
    return sp__mh_unsupported(path, "libmatio",
                              kind == MAT_KIND_V5 ? "MATLAB v5 .mat files cannot be read"
                                                  : "MATLAB-written v7.3 .mat files cannot be read",
                              err);
#endif
}

static sp_status make_images(const char *path, const mat_vars *m, float **img1, float **img2, size_t *ih, size_t *iw,
                             sp_error *err)
{
    size_t h1, w1, h2, w2;
    SP_TRY(sp__mh_array_to_image(path, "I0", &m->i0, img1, &h1, &w1, err));
    sp_status st = sp__mh_array_to_image(path, "I1", &m->i1, img2, &h2, &w2, err);
    if (st == SP_OK && (h1 != h2 || w1 != w2))
        st = sp_error_set(err, SP_ERR_MISMATCH, "%s: I0 is %zux%zu but I1 is %zux%zu; the two images must match", path,
                          h1, w1, h2, w2);
    if (st != SP_OK) {
        free(*img1);
        free(*img2);
        *img1 = *img2 = NULL;
        return st;
    }
    *ih = h1;
    *iw = w1;
    return SP_OK;
}

typedef struct mat_args {
    const char *path;
    int include_images;
} mat_args;

/* The reader proper; runs in the child process of sp__mh_isolated. */
static sp_status read_mat(const void *args, sp__mh_out *out, sp_error *err)
{
    const mat_args *const a = (const mat_args *)args;
    const char *const path = a->path;
    int const include_images = a->include_images;
    sp_flow *const flow = &out->flow;
    float **const img1 = &out->img1, **const img2 = &out->img2;
    size_t *const ih = &out->ih, *const iw = &out->iw;
    mat_kind kind = MAT_KIND_V5;
    SP_TRY(classify(path, &kind, err));
    if (kind == MAT_KIND_V5) SP_TRY(check_v5(path, include_images, err));
    mat_vars m;
    memset(&m, 0, sizeof m);
    sp__mh_lock_state ls;
    sp__mh_lock(&ls);
    sp_status st = read_locked(path, kind, include_images, &m, err);
    sp__mh_unlock(&ls);
    if (st == SP_OK) st = sp__mh_array_to_flow(path, "V", &m.v, 1, 1, flow, err); /* (H, W, 3): w as channel 2 */
    if (st == SP_OK && include_images) {
        st = make_images(path, &m, img1, img2, ih, iw, err);
        if (st != SP_OK) sp_flow_release(flow);
    }
    vars_release(&m);
    return st;
}

#endif /* SP_HAVE_MATIO || SP_HAVE_HDF5 */

sp_status sp_mat_read_flow(const char *path, int include_images, sp_flow *flow, float **img1, float **img2,
                           size_t *ih, size_t *iw, sp_error *err)
{
#if !SP_HAVE_MATIO && !SP_HAVE_HDF5
    memset(flow, 0, sizeof *flow);
    if (include_images) *img1 = *img2 = NULL, *ih = *iw = 0;
    return sp__mh_unsupported(path, "libmatio", ".mat files cannot be read", err);
#else
    mat_args const a = {path, include_images};
    sp__mh_out out;
    /* libmatio and libhdf5 are not safe on hostile files: read in a child (mh_isolate.c). */
    sp_status const st = sp__mh_isolated(path, read_mat, &a, &out, err);
    *flow = out.flow;
    if (include_images) {
        *img1 = out.img1, *img2 = out.img2, *ih = out.ih, *iw = out.iw;
    } else {
        free(out.img1);
        free(out.img2);
    }
    return st;
#endif
}
