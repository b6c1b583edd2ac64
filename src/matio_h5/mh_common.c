/* mh_common.c: what the .mat and .h5 readers share: the library lock, shape checks, the
 * one orientation rule (logical array -> row-major flow or image), and opening an HDF5 file
 * and reading one of its datasets into float32.
 *
 * Hostile input: shapes come from the file, so every dimension and their product are
 * checked (>= 1, product <= SP_MH_MAX_ELEMENTS, flow dims <= 100000) before anything is
 * allocated. libhdf5 opens the file and the dataset (metadata only); the data itself is
 * read by h5_raw.c, which checks the storage against the file's bytes first and converts
 * into a buffer of exactly the checked size, so nothing is read or written outside a
 * buffer. Errors are one line: "<file>: <what>".
 *
 * The lock is the module's process-wide state: a static mutex, because libmatio is not
 * documented as thread-safe and may call HDF5 itself (plus the reader-child flag of
 * mh_isolate.c).
 *
 * Without libhdf5 (SP_HAVE_HDF5 0) the HDF5 part is left out and the lock only serialises.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sp_internal.h"
#include "matio_h5_internal.h"

static pthread_mutex_t sp_mh_mutex = PTHREAD_MUTEX_INITIALIZER;
static int sp_mh_in_child; /* set only in a reader child process, which is single-threaded */

void sp__mh_set_child(void)
{
    sp_mh_in_child = 1;
}

int sp__mh_is_child(void)
{
    return sp_mh_in_child;
}

void sp__mh_lock(sp__mh_lock_state *st)
{
    if (!sp_mh_in_child) pthread_mutex_lock(&sp_mh_mutex);
#if SP_HAVE_HDF5
    /* The automatic error handler is per thread in thread-safe HDF5 builds, so it is
     * switched off (and later restored) on the calling thread only. */
    H5Eget_auto2(H5E_DEFAULT, &st->func, &st->data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
#else
    st->unused = 0;
#endif
}

void sp__mh_unlock(const sp__mh_lock_state *st)
{
#if SP_HAVE_HDF5
    H5Eset_auto2(H5E_DEFAULT, st->func, st->data);
#else
    (void)st;
#endif
    if (!sp_mh_in_child) pthread_mutex_unlock(&sp_mh_mutex);
}

sp_status sp__mh_unsupported(const char *path, const char *lib, const char *what, sp_error *err)
{
    return sp_error_set(err, SP_ERR_UNSUPPORTED, "%s: synthpix was built without %s: %s (install %s-dev and rebuild)",
                        path, lib, what, lib);
}

void sp__mh_array_release(sp__mh_array *a)
{
    if (a == NULL) return;
    free(a->data);
    memset(a, 0, sizeof *a);
}

float sp__mh_at(const sp__mh_array *a, size_t i0, size_t i1, size_t i2)
{
    size_t const d0 = a->dims[0], d1 = a->dims[1], d2 = a->dims[2];
    size_t const idx = a->column_major ? i0 + d0 * (i1 + d1 * i2) : (i0 * d1 + i1) * d2 + i2;
    return a->data[idx];
}

sp_status sp__mh_check_shape(const char *path, const char *what, size_t rank, const size_t *dims,
                             size_t *count, sp_error *err)
{
    SP_RETURN_IF(rank < 1 || rank > SP_MH_MAX_RANK, err, SP_ERR_MISMATCH, "%s: %s has rank %zu; expected at most %d",
                 path, what, rank, SP_MH_MAX_RANK);
    size_t n = 1;
    for (size_t k = 0; k < rank; k++) {
        SP_RETURN_IF(dims[k] == 0, err, SP_ERR_MISMATCH, "%s: %s is empty (dimension %zu is 0)", path, what, k);
        SP_RETURN_IF(!sp__mul_size(n, dims[k], &n) || n > SP_MH_MAX_ELEMENTS, err, SP_ERR_RANGE,
                     "%s: %s is too large (over %zu elements)", path, what, SP_MH_MAX_ELEMENTS);
    }
    *count = n;
    return SP_OK;
}

static void shape_text(const sp__mh_array *a, char *buf, size_t cap)
{
    if (a->rank == 1) snprintf(buf, cap, "(%zu,)", a->dims[0]);
    else if (a->rank == 2) snprintf(buf, cap, "(%zu, %zu)", a->dims[0], a->dims[1]);
    else snprintf(buf, cap, "(%zu, %zu, %zu)", a->dims[0], a->dims[1], a->dims[2]);
}

sp_status sp__mh_array_to_flow(const char *path, const char *what, const sp__mh_array *a, int accept3,
                               int allow_chw, sp_flow *out, sp_error *err)
{
    memset(out, 0, sizeof *out);
    char shape[96];
    shape_text(a, shape, sizeof shape);
    int const hwc = a->rank == 3 && (a->dims[2] == 2 || (accept3 && a->dims[2] == 3));
    int const chw = !hwc && allow_chw && a->rank == 3 && a->dims[0] == 2;
    SP_RETURN_IF(!hwc && !chw, err, SP_ERR_MISMATCH, "%s: %s has shape %s; expected (H, W, 2)%s%s", path, what, shape,
                 accept3 ? " or (H, W, 3)" : "", allow_chw ? " or (2, H, W)" : "");
    size_t const H = hwc ? a->dims[0] : a->dims[1], W = hwc ? a->dims[1] : a->dims[2];
    size_t const C = hwc ? a->dims[2] : 2;
    SP_RETURN_IF(H > 100000 || W > 100000, err, SP_ERR_RANGE, "%s: %s has shape %s; flows are limited to 100000 "
                 "grid points per side", path, what, shape);
    SP_TRY(sp_flow_alloc(out, H, W, C, err));
    for (size_t i = 0; i < H; i++)
        for (size_t j = 0; j < W; j++)
            for (size_t c = 0; c < C; c++) {
                float const v = hwc ? sp__mh_at(a, i, j, c) : sp__mh_at(a, c, i, j);
                out->data[sp_flow_index(out, i, j, c)] = v;
            }
    size_t bi, bj, bc;
    if (sp_flow_find_nonfinite(out, &bi, &bj, &bc)) {
        sp_flow_release(out);
        return sp_error_set(err, SP_ERR_CORRUPT, "%s: %s has a non-finite value at (row %zu, column %zu, channel %zu)",
                            path, what, bi, bj, bc);
    }
    return SP_OK;
}

sp_status sp__mh_array_to_image(const char *path, const char *what, const sp__mh_array *a, float **img,
                                size_t *h, size_t *w, sp_error *err)
{
    *img = NULL;
    char shape[96];
    shape_text(a, shape, sizeof shape);
    SP_RETURN_IF(a->rank != 2, err, SP_ERR_MISMATCH, "%s: %s has shape %s; expected a grayscale image (H, W)", path,
                 what, shape);
    size_t const H = a->dims[0], W = a->dims[1];
    float *const p = (float *)malloc(H * W * sizeof *p); /* H * W <= SP_MH_MAX_ELEMENTS */
    SP_RETURN_IF(p == NULL, err, SP_ERR_NOMEM, "%s: out of memory for %s %s", path, what, shape);
    for (size_t i = 0; i < H; i++)
        for (size_t j = 0; j < W; j++) p[i * W + j] = sp__mh_at(a, i, j, 0);
    *img = p;
    *h = H;
    *w = W;
    return SP_OK;
}

/* ---- HDF5 ------------------------------------------------------------------------------- */
#if SP_HAVE_HDF5

/* The base address (user block size) and, for a file on disk, libhdf5's descriptor and the
 * file's size: what h5_raw.c needs to read raw data itself. */
static sp_status locate_bytes(sp__mh_h5 *h, const char *path, sp_error *err)
{
    hid_t const fcpl = H5Fget_create_plist(h->id);
    hsize_t ub = 0;
    herr_t const r = fcpl >= 0 ? H5Pget_userblock(fcpl, &ub) : -1;
    if (fcpl >= 0) H5Pclose(fcpl);
    SP_RETURN_IF(r < 0, err, SP_ERR_CORRUPT, "%s: not a readable HDF5 file (unreadable superblock)", path);
    h->base = ub;
    if (h->image) return SP_OK;
    hid_t const fapl = H5Fget_access_plist(h->id);
    void *handle = NULL;
    herr_t const got = fapl >= 0 ? H5Fget_vfd_handle(h->id, fapl, &handle) : -1;
    if (fapl >= 0) H5Pclose(fapl);
    SP_RETURN_IF(got < 0 || handle == NULL, err, SP_ERR_INTERNAL, "%s: cannot reach the file libhdf5 opened", path);
    memcpy(&h->fd, handle, sizeof h->fd); /* the sec2 driver's handle is its int descriptor */
    struct stat st;
    SP_RETURN_IF(fstat(h->fd, &st) != 0, err, SP_ERR_IO, "%s: cannot stat the file: %s", path, strerror(errno));
    h->size = st.st_size > 0 ? (uint64_t)st.st_size : 0;
    return SP_OK;
}

sp_status sp__mh_h5_open(const char *path, sp__mh_h5 *h, sp_error *err)
{
    memset(h, 0, sizeof *h);
    h->fd = -1;
    /* sec2 named explicitly: locate_bytes relies on its handle being a descriptor. */
    hid_t const fapl = H5Pcreate(H5P_FILE_ACCESS);
    SP_RETURN_IF(fapl < 0, err, SP_ERR_INTERNAL, "%s: cannot create an HDF5 property list", path);
    h->id = H5Pset_fapl_sec2(fapl) >= 0 ? H5Fopen(path, H5F_ACC_RDONLY, fapl) : -1;
    H5Pclose(fapl);
    SP_RETURN_IF(h->id < 0, err, SP_ERR_CORRUPT, "%s: not a readable HDF5 file (missing, truncated or damaged)", path);
    sp_status const st = locate_bytes(h, path, err);
    if (st != SP_OK) sp__mh_h5_close(h);
    return st;
}

sp_status sp__mh_h5_open_image(const void *buf, size_t len, const char *name, sp__mh_h5 *h, sp_error *err)
{
    memset(h, 0, sizeof *h);
    h->id = -1, h->fd = -1;
    SP_RETURN_IF(len == 0, err, SP_ERR_CORRUPT, "%s: empty file", name);
    hid_t const fapl = H5Pcreate(H5P_FILE_ACCESS);
    SP_RETURN_IF(fapl < 0, err, SP_ERR_INTERNAL, "%s: cannot create an HDF5 property list", name);
    herr_t r = H5Pset_fapl_core(fapl, 1 << 16, 0);
    /* H5Pset_file_image copies the buffer, so the caller's bytes are never written. */
    if (r >= 0) r = H5Pset_file_image(fapl, (void *)(uintptr_t)buf, len);
    /* The core driver refuses to open an image under the name of a file that exists (and
     * leaks a descriptor on it), so libhdf5 gets a name that can never exist: a path
     * through a character device. `name` is only for our messages. */
    if (r >= 0) h->id = H5Fopen("/dev/null/synthpix-image.h5", H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    SP_RETURN_IF(h->id < 0, err, SP_ERR_CORRUPT, "%s: not a readable HDF5 file (truncated or damaged)", name);
    h->image = (const unsigned char *)buf;
    h->size = len;
    sp_status const st = locate_bytes(h, name, err);
    if (st != SP_OK) sp__mh_h5_close(h);
    return st;
}

void sp__mh_h5_close(sp__mh_h5 *h)
{
    if (h->id >= 0) H5Fclose(h->id);
    h->id = -1;
    h->fd = -1;
}

static sp_status dataset_shape(hid_t dset, const char *path, const char *name, size_t *rank, size_t *dims,
                               sp_error *err)
{
    hid_t const space = H5Dget_space(dset);
    SP_RETURN_IF(space < 0, err, SP_ERR_CORRUPT, "%s: dataset '%s' has an unreadable dataspace", path, name);
    int const nd = H5Sget_simple_extent_ndims(space);
    hsize_t hd[H5S_MAX_RANK];
    int const got = nd >= 1 && nd <= SP_MH_MAX_RANK ? H5Sget_simple_extent_dims(space, hd, NULL) : -1;
    H5Sclose(space);
    SP_RETURN_IF(nd < 0, err, SP_ERR_CORRUPT, "%s: dataset '%s' has an unreadable dataspace", path, name);
    SP_RETURN_IF(nd < 1 || nd > SP_MH_MAX_RANK, err, SP_ERR_MISMATCH, "%s: dataset '%s' has rank %d; expected 2 or 3",
                 path, name, nd);
    SP_RETURN_IF(got != nd, err, SP_ERR_CORRUPT, "%s: dataset '%s' has an unreadable shape", path, name);
    *rank = (size_t)nd;
    for (int k = 0; k < nd; k++) {
        SP_RETURN_IF(hd[k] > SIZE_MAX, err, SP_ERR_RANGE, "%s: dataset '%s' is too large", path, name);
        dims[k] = (size_t)hd[k];
    }
    return SP_OK;
}

static sp_status dataset_class(hid_t dset, const char *path, const char *name, int float_only, sp_error *err)
{
    hid_t const type = H5Dget_type(dset);
    SP_RETURN_IF(type < 0, err, SP_ERR_CORRUPT, "%s: dataset '%s' has an unreadable element type", path, name);
    H5T_class_t const cls = H5Tget_class(type);
    size_t const size = H5Tget_size(type);
    H5Tclose(type);
    int const ok = cls == H5T_FLOAT ? (size == 4 || size == 8) : (!float_only && cls == H5T_INTEGER && size <= 8);
    SP_RETURN_IF(!ok, err, SP_ERR_UNSUPPORTED, "%s: dataset '%s' has element type %s of %zu bytes; expected %s", path,
                 name, cls == H5T_FLOAT ? "float" : cls == H5T_INTEGER ? "integer" : "non-numeric", size,
                 float_only ? "float32 or float64" : "a real number type");
    return SP_OK;
}

sp_status sp__mh_h5_read(const sp__mh_h5 *h, const char *path, const char *name, int float_only, sp__mh_array *out,
                         sp_error *err)
{
    memset(out, 0, sizeof *out);
    out->dims[0] = out->dims[1] = out->dims[2] = 1;
    hid_t const dset = H5Dopen2(h->id, name, H5P_DEFAULT);
    SP_RETURN_IF(dset < 0, err, SP_ERR_NOTFOUND, "%s: no dataset '%s'", path, name);
    size_t count = 0;
    sp_status st = dataset_shape(dset, path, name, &out->rank, out->dims, err);
    if (st == SP_OK) st = dataset_class(dset, path, name, float_only, err);
    if (st == SP_OK) {
        char what[160];
        snprintf(what, sizeof what, "dataset '%s'", name);
        st = sp__mh_check_shape(path, what, out->rank, out->dims, &count, err);
    }
    if (st == SP_OK) {
        out->data = (float *)malloc(count * sizeof(float));
        if (out->data == NULL) st = sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory for dataset '%s'", path, name);
    }
    /* Never H5Dread on contiguous or chunked data: see h5_raw.c for what libhdf5 does with
     * a hostile layout. */
    if (st == SP_OK) st = sp__h5_raw_read(h, dset, path, name, out->rank, out->dims, count, out->data, err);
    H5Dclose(dset);
    if (st != SP_OK) sp__mh_array_release(out);
    return st;
}
#endif /* SP_HAVE_HDF5 */
