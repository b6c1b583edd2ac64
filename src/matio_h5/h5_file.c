/* h5_file.c: whole HDF5 files of fixed-size arrays (sp_h5_file, sp_matio_h5.h), and the
 * crash-safe commit every HDF5 file we write goes through (shards included).
 *
 *   /NAME or /GROUP/NAME   rank 1..4, uint8 or float32 stored little-endian, contiguous,
 *                          no filters, no fill, no object times (groups included): the
 *                          same rows written in the same order give the same file bytes
 *   attribute "format"         the caller's tag (e.g. "synthpix-pykitpiv 1")
 *   attribute "configuration"  the resolved configuration YAML (optional)
 * Shapes are fixed at creation (the dataset writer knows its row counts by then); an array
 * may have 0 rows. Rows are written one at a time with a hyperslab of the first dimension.
 *
 * Crash safety (sp__mh_h5_tmp_create, sp__mh_h5_commit): the file is created exclusively
 * through the caller's sp_fs as "<path>.sp-tmp-<tag>-<random>" (O_EXCL | O_NOFOLLOW: never
 * through a planted link), then written by libhdf5, closed, reopened through sp_fs and
 * fsync'd, renamed to <path>, and the directory fsync'd. Any failure or an abort removes
 * the temporary, so a file under its final name is always complete. libhdf5's own writes
 * bypass sp_fs (docs/durability.md, Limits).
 *
 * Without libhdf5 (SP_HAVE_HDF5 0) sp_h5_file_create returns SP_ERR_UNSUPPORTED naming the
 * file, so no file object ever exists.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sp_fsutil.h"
#include "sp_internal.h"
#include "matio_h5_internal.h"
#include "sp/sp_matio_h5.h"

#define SP_H5_FILE_MAX_ARRAYS 16

sp_status sp__mh_h5_tmp_create(const sp_fs *fs, const char *path, const char *tag, char *tmp, sp_error *err)
{
    int fd = -EEXIST;
    for (int attempt = 0; attempt < 8 && fd == -EEXIST; attempt++) {
        if (!sp__fs_tmp_name(tmp, SP_FS_PATH_MAX, path, tag))
            return sp_error_set(err, SP_ERR_INVALID, "%s: path too long", path);
        fd = fs->open(fs->ctx, tmp, 'w');
    }
    if (fd < 0) return sp__fs_fail(err, fd, "create", tmp);
    int const c = fs->close(fs->ctx, fd);
    if (c < 0) {
        fs->unlink(fs->ctx, tmp);
        return sp__fs_fail(err, c, "close", tmp);
    }
    return SP_OK;
}

/* fsync of the closed file through the fs: its data reach the disk before the rename. */
static sp_status fsync_closed(const sp_fs *fs, const char *tmp, sp_error *err)
{
    int const fd = fs->open(fs->ctx, tmp, 'a');
    if (fd < 0) return sp__fs_fail(err, fd, "open for sync", tmp);
    int const e = fs->fsync(fs->ctx, fd);
    int const c = fs->close(fs->ctx, fd);
    if (e < 0) return sp__fs_fail(err, e, "fsync", tmp);
    return c < 0 ? sp__fs_fail(err, c, "close", tmp) : SP_OK;
}

sp_status sp__mh_h5_commit(const sp_fs *fs, const char *tmp, const char *path, sp_error *err)
{
    sp_status st = fsync_closed(fs, tmp, err);
    if (st == SP_OK) {
        int const e = fs->rename(fs->ctx, tmp, path);
        if (e < 0) st = sp__fs_fail(err, e, "rename to", path);
    }
    if (st != SP_OK) {
        fs->unlink(fs->ctx, tmp); /* ours: created by sp__mh_h5_tmp_create */
        return st;
    }
    char dir[SP_FS_PATH_MAX];
    return sp__fs_parent(path, dir, sizeof dir) ? sp__fs_fsync_dir(fs, dir, dir, err)
                                                : sp_error_set(err, SP_ERR_INVALID, "%s: path too long", path);
}

#if SP_HAVE_HDF5

herr_t sp__mh_h5_string_attr(hid_t obj, const char *name, const char *text)
{
    hid_t const str = H5Tcopy(H5T_C_S1);
    hid_t const space = H5Screate(H5S_SCALAR);
    herr_t r = str < 0 || space < 0 ? -1 : 0;
    if (r >= 0) r = H5Tset_size(str, H5T_VARIABLE);
    if (r >= 0) r = H5Tset_cset(str, H5T_CSET_UTF8);
    hid_t const a = r >= 0 ? H5Acreate2(obj, name, str, space, H5P_DEFAULT, H5P_DEFAULT) : -1;
    if (a >= 0) r = H5Awrite(a, str, &text), H5Aclose(a);
    else r = -1;
    if (str >= 0) H5Tclose(str);
    if (space >= 0) H5Sclose(space);
    return r;
}

struct sp_h5_file {
    const sp_fs *fs;
    char *path, *tmp;
    hid_t file;
    size_t n;
    hid_t ds[SP_H5_FILE_MAX_ARRAYS];
    sp_h5_array arrays[SP_H5_FILE_MAX_ARRAYS]; /* name points into names[] */
    char names[SP_H5_FILE_MAX_ARRAYS][128];
};

static int name_ok(const char *name)
{
    size_t const len = strlen(name);
    size_t slashes = 0;
    for (size_t i = 0; i < len; i++) {
        char const c = name[i];
        if (c == '/') slashes++;
        else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return 0;
    }
    return len > 0 && len < 128 && slashes <= 1 && name[0] != '/' && name[len - 1] != '/';
}

static sp_status check_arrays(const char *path, const sp_h5_array *a, size_t n, sp_error *err)
{
    SP_RETURN_IF(n == 0 || n > SP_H5_FILE_MAX_ARRAYS, err, SP_ERR_INVALID, "%s: %zu arrays; expected 1 to %d", path, n,
                 SP_H5_FILE_MAX_ARRAYS);
    for (size_t i = 0; i < n; i++) {
        SP_RETURN_IF(a[i].name == NULL || !name_ok(a[i].name), err, SP_ERR_INVALID, "%s: array %zu: invalid name", path,
                     i);
        SP_RETURN_IF(a[i].dtype != SP_DTYPE_U8 && a[i].dtype != SP_DTYPE_F32, err, SP_ERR_INVALID,
                     "%s: array '%s': dtype %s; expected u1 or f4", path, a[i].name, sp_dtype_name(a[i].dtype));
        SP_RETURN_IF(a[i].rank < 1 || a[i].rank > 4, err, SP_ERR_INVALID, "%s: array '%s': rank %d; expected 1 to 4",
                     path, a[i].name, a[i].rank);
        size_t row = 1;
        for (int k = 1; k < a[i].rank; k++)
            SP_RETURN_IF(a[i].dims[k] == 0 || !sp__mul_size(row, a[i].dims[k], &row) || row > SP_MH_MAX_ELEMENTS, err,
                         SP_ERR_RANGE, "%s: array '%s': row shape out of range", path, a[i].name);
    }
    return SP_OK;
}

/* Lock held: the group part of `name` (before '/'), created without object times when
 * missing. */
static herr_t ensure_group(hid_t file, const char *name)
{
    const char *const slash = strchr(name, '/');
    if (slash == NULL) return 0;
    char group[128];
    snprintf(group, sizeof group, "%.*s", (int)(slash - name), name);
    htri_t const exists = H5Lexists(file, group, H5P_DEFAULT);
    if (exists != 0) return exists > 0 ? 0 : -1;
    hid_t const gcpl = H5Pcreate(H5P_GROUP_CREATE);
    hid_t const g = gcpl >= 0 && H5Pset_obj_track_times(gcpl, 0) >= 0
                        ? H5Gcreate2(file, group, H5P_DEFAULT, gcpl, H5P_DEFAULT)
                        : -1;
    if (gcpl >= 0) H5Pclose(gcpl);
    if (g < 0) return -1;
    return H5Gclose(g);
}

/* Lock held: one contiguous array, every element written before the close. */
static hid_t make_array(hid_t file, const sp_h5_array *a)
{
    hsize_t dims[4];
    for (int k = 0; k < a->rank; k++) dims[k] = (hsize_t)a->dims[k];
    hid_t const space = H5Screate_simple(a->rank, dims, NULL);
    hid_t const dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hid_t const type = a->dtype == SP_DTYPE_U8 ? H5T_STD_U8LE : H5T_IEEE_F32LE;
    hid_t d = -1;
    if (space >= 0 && dcpl >= 0 && H5Pset_obj_track_times(dcpl, 0) >= 0 &&
        H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) >= 0 && ensure_group(file, a->name) >= 0)
        d = H5Dcreate2(file, a->name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (space >= 0) H5Sclose(space);
    if (dcpl >= 0) H5Pclose(dcpl);
    return d;
}

static void close_arrays(sp_h5_file *f)
{
    for (size_t i = 0; i < f->n; i++)
        if (f->ds[i] >= 0) H5Dclose(f->ds[i]), f->ds[i] = -1;
}

/* Lock held: creates the file, its arrays and attributes. */
static sp_status create_locked(sp_h5_file *f, const sp_h5_array *arrays, const char *format_tag, const char *config,
                               sp_error *err)
{
    f->file = H5Fcreate(f->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    SP_RETURN_IF(f->file < 0, err, SP_ERR_IO, "%s: cannot create the HDF5 file", f->tmp);
    for (size_t i = 0; i < f->n; i++) {
        f->ds[i] = make_array(f->file, &arrays[i]);
        SP_RETURN_IF(f->ds[i] < 0, err, SP_ERR_IO, "%s: cannot create the array '%s'", f->tmp, arrays[i].name);
    }
    SP_RETURN_IF(sp__mh_h5_string_attr(f->file, "format", format_tag ? format_tag : "") < 0 ||
                     (config && sp__mh_h5_string_attr(f->file, "configuration", config) < 0),
                 err, SP_ERR_IO, "%s: cannot write the root attributes", f->tmp);
    return SP_OK;
}

static void free_file(sp_h5_file *f)
{
    free(f->path);
    free(f->tmp);
    free(f);
}

sp_status sp_h5_file_create(sp_h5_file **out, const sp_fs *fs, const char *path, const char *tmp_tag,
                            const sp_h5_array *arrays, size_t n, const char *format_tag, const char *config_yaml,
                            sp_error *err)
{
    *out = NULL;
    SP_TRY(check_arrays(path, arrays, n, err));
    sp_h5_file *const f = (sp_h5_file *)calloc(1, sizeof *f);
    SP_RETURN_IF(f == NULL, err, SP_ERR_NOMEM, "%s: out of memory", path);
    f->fs = fs ? fs : sp_fs_posix();
    f->file = -1;
    f->n = n;
    for (size_t i = 0; i < SP_H5_FILE_MAX_ARRAYS; i++) f->ds[i] = -1;
    for (size_t i = 0; i < n; i++) { /* the caller's names are borrowed for the call only */
        f->arrays[i] = arrays[i];
        snprintf(f->names[i], sizeof f->names[i], "%s", arrays[i].name);
        f->arrays[i].name = f->names[i];
    }
    f->path = strdup(path);
    f->tmp = (char *)malloc(SP_FS_PATH_MAX);
    if (f->path == NULL || f->tmp == NULL) {
        free_file(f);
        return sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory", path);
    }
    sp_status st = sp__mh_h5_tmp_create(f->fs, path, tmp_tag ? tmp_tag : "0", f->tmp, err);
    if (st != SP_OK) {
        free_file(f);
        return st;
    }
    sp__mh_lock_state ls;
    sp__mh_lock(&ls);
    st = create_locked(f, arrays, format_tag, config_yaml, err);
    sp__mh_unlock(&ls);
    if (st != SP_OK) {
        sp_h5_file_abort(f);
        return st;
    }
    *out = f;
    return SP_OK;
}

sp_status sp_h5_file_write_row(sp_h5_file *f, size_t array, uint64_t row, const void *data, sp_error *err)
{
    SP_RETURN_IF(array >= f->n, err, SP_ERR_INVALID, "%s: no array %zu", f->tmp, array);
    const sp_h5_array *const a = &f->arrays[array];
    SP_RETURN_IF(row >= a->dims[0], err, SP_ERR_RANGE, "%s: row %llu of an array of %zu rows", f->tmp,
                 (unsigned long long)row, a->dims[0]);
    hsize_t start[4] = {(hsize_t)row}, count[4] = {1};
    for (int k = 1; k < a->rank; k++) start[k] = 0, count[k] = (hsize_t)a->dims[k];
    hid_t const mem = a->dtype == SP_DTYPE_U8 ? H5T_NATIVE_UINT8 : H5T_NATIVE_FLOAT;
    sp__mh_lock_state ls;
    sp__mh_lock(&ls);
    hid_t const fspace = H5Dget_space(f->ds[array]);
    hid_t const mspace = H5Screate_simple(a->rank, count, NULL);
    herr_t r = fspace < 0 || mspace < 0 ? -1 : H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL);
    if (r >= 0) r = H5Dwrite(f->ds[array], mem, mspace, fspace, H5P_DEFAULT, data);
    if (fspace >= 0) H5Sclose(fspace);
    if (mspace >= 0) H5Sclose(mspace);
    sp__mh_unlock(&ls);
    SP_RETURN_IF(r < 0, err, SP_ERR_IO, "%s: cannot write row %llu of '%s' (disk full or I/O error)", f->tmp,
                 (unsigned long long)row, a->name);
    return SP_OK;
}

sp_status sp_h5_file_close(sp_h5_file *f, sp_error *err)
{
    sp__mh_lock_state ls;
    sp__mh_lock(&ls);
    close_arrays(f);
    herr_t const r = H5Fclose(f->file);
    f->file = -1;
    sp__mh_unlock(&ls);
    sp_status const st = r < 0 ? sp_error_set(err, SP_ERR_IO, "%s: closing the HDF5 file failed", f->tmp)
                               : sp__mh_h5_commit(f->fs, f->tmp, f->path, err);
    if (r < 0) f->fs->unlink(f->fs->ctx, f->tmp);
    free_file(f);
    return st;
}

void sp_h5_file_abort(sp_h5_file *f)
{
    if (f == NULL) return;
    sp__mh_lock_state ls;
    sp__mh_lock(&ls);
    close_arrays(f);
    if (f->file >= 0) H5Fclose(f->file);
    sp__mh_unlock(&ls);
    f->fs->unlink(f->fs->ctx, f->tmp); /* ours: created by sp__mh_h5_tmp_create */
    free_file(f);
}

#else /* !SP_HAVE_HDF5 */

sp_status sp_h5_file_create(sp_h5_file **out, const sp_fs *fs, const char *path, const char *tmp_tag,
                            const sp_h5_array *arrays, size_t n, const char *format_tag, const char *config_yaml,
                            sp_error *err)
{
    (void)fs, (void)tmp_tag, (void)arrays, (void)n, (void)format_tag, (void)config_yaml;
    *out = NULL;
    return sp__mh_unsupported(path, "libhdf5", "HDF5 dataset files cannot be written", err);
}

sp_status sp_h5_file_write_row(sp_h5_file *f, size_t array, uint64_t row, const void *data, sp_error *err)
{
    (void)f, (void)array, (void)row, (void)data;
    return sp_error_set(err, SP_ERR_UNSUPPORTED, "synthpix was built without libhdf5");
}

sp_status sp_h5_file_close(sp_h5_file *f, sp_error *err)
{
    (void)f;
    return sp_error_set(err, SP_ERR_UNSUPPORTED, "synthpix was built without libhdf5");
}

void sp_h5_file_abort(sp_h5_file *f)
{
    (void)f;
}

#endif /* SP_HAVE_HDF5 */
