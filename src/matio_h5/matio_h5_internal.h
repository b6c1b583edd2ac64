/* matio_h5_internal.h: pieces shared by the files of the matio_h5 module (never installed).
 *
 * sp__mh_array is a decoded numeric array of rank 1..3 in float32 with its *logical* shape
 * (NumPy order for row-major sources, MATLAB order for column-major ones) and a flag saying
 * how element (a, b, c) is laid out in memory:
 *     row-major     data[(a * d1 + b) * d2 + c]     (h5py / NumPy writers, plain .h5)
 *     column-major  data[a + d0 * (b + d1 * c)]      (MATLAB, matio, scipy.io.savemat)
 * Both readers (libmatio for .mat; libhdf5's metadata and h5_raw.c's data for HDF5) fill
 * one, and one function turns it into a row-major sp_flow, so the orientation rule is
 * written once.
 *
 * Library calls: libhdf5 and libmatio are reached only between sp__mh_lock() and
 * sp__mh_unlock(). The lock serialises them (matio does not document thread safety, and a
 * non-thread-safe HDF5 build would need it) and silences HDF5's automatic error stack
 * printing for the calling thread, restoring the previous handler on unlock, so hostile
 * files produce our one-line errors and nothing on stderr.
 *
 * Features: SP_HAVE_MATIO and SP_HAVE_HDF5 (0 or 1, set by the build) say which library
 * this build has. Without one, the calls that need it return SP_ERR_UNSUPPORTED through
 * sp__mh_unsupported, and the HDF5 declarations below are left out.
 */
#ifndef SP_MATIO_H5_INTERNAL_H
#define SP_MATIO_H5_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#if SP_HAVE_HDF5
#include <hdf5.h>
#endif

#include "sp/sp_errors.h"
#include "sp/sp_flow.h"
#include "sp/sp_fs.h"

#define SP_MH_MAX_RANK 3
/* At most 2^28 elements (1 GiB of float32) per array: far above any PIV flow or image,
 * and low enough that a hostile header cannot make us allocate without bound. */
#define SP_MH_MAX_ELEMENTS ((size_t)1 << 28)

typedef struct sp__mh_array {
    size_t rank;
    size_t dims[SP_MH_MAX_RANK]; /* logical shape; dims beyond rank are 1 */
    int column_major;
    float *data;                 /* owned, dims product floats */
} sp__mh_array;

typedef struct sp__mh_lock_state {
#if SP_HAVE_HDF5
    H5E_auto2_t func; /* the calling thread's HDF5 error handler, restored on unlock */
    void *data;
#else
    int unused;
#endif
} sp__mh_lock_state;

void sp__mh_lock(sp__mh_lock_state *st);
void sp__mh_unlock(const sp__mh_lock_state *st);
/* In a reader child process (mh_isolate.c): the lock is not taken (the child is single-
 * threaded and its copy of the mutex may be held by the forking thread). */
void sp__mh_set_child(void);
int sp__mh_is_child(void);

/* What a reader returns: a flow and, for .mat with images, two (ih, iw) images. */
typedef struct sp__mh_out {
    sp_flow flow;
    float *img1, *img2; /* malloc'd or NULL */
    size_t ih, iw;
} sp__mh_out;

typedef sp_status (*sp__mh_reader)(const void *args, sp__mh_out *out, sp_error *err);

/* Runs fn(args) in a forked child and returns its result (see mh_isolate.c); a child that
 * crashes gives SP_ERR_CORRUPT with a message naming `name`. out is zeroed on failure. */
sp_status sp__mh_isolated(const char *name, sp__mh_reader fn, const void *args, sp__mh_out *out, sp_error *err);

void sp__mh_array_release(sp__mh_array *a);
/* Element (a, b, c) of a rank <= 3 array (missing indices are 0). */
float sp__mh_at(const sp__mh_array *a, size_t i0, size_t i1, size_t i2);

/* Checks the shape (rank, each dim >= 1, product <= SP_MH_MAX_ELEMENTS) and stores the
 * element count in *count. `what` names the variable in messages ("V", "dataset 'u'"). */
sp_status sp__mh_check_shape(const char *path, const char *what, size_t rank, const size_t *dims,
                             size_t *count, sp_error *err);

/* A flow variable of logical shape (H, W, C) with C in {2, 3} (accept3 != 0) or 2, or, when
 * allow_chw != 0, (2, H, W): converted to a row-major (H, W, C) flow. Non-finite values
 * are errors naming the file and the first bad (row, column, channel). */
sp_status sp__mh_array_to_flow(const char *path, const char *what, const sp__mh_array *a, int accept3,
                               int allow_chw, sp_flow *out, sp_error *err);
/* An (H, W) image variable to a fresh row-major float32 buffer (*img, free()). */
sp_status sp__mh_array_to_image(const char *path, const char *what, const sp__mh_array *a, float **img,
                                size_t *h, size_t *w, sp_error *err);

/* A feature this build lacks: SP_ERR_UNSUPPORTED with the one-line message
 * "<path>: synthpix was built without <lib>: <what> (install <lib>-dev and rebuild)",
 * e.g. lib "libmatio", what ".mat files cannot be read". */
sp_status sp__mh_unsupported(const char *path, const char *lib, const char *what, sp_error *err);

/* h5_file.c: the commit of every HDF5 file we write (shards, whole layout files).
 * Creates "<path>.sp-tmp-<tag>-<random>" exclusively through fs (tmp: SP_FS_PATH_MAX bytes)
 * and closes it, for libhdf5 to open; the error names the file and the OS reason. */
sp_status sp__mh_h5_tmp_create(const sp_fs *fs, const char *path, const char *tag, char *tmp, sp_error *err);
/* The temporary, closed by libhdf5: fsync'd through fs, renamed to path, the directory
 * fsync'd; on a failure before the rename the temporary is removed. */
sp_status sp__mh_h5_commit(const sp_fs *fs, const char *tmp, const char *path, sp_error *err);

#if SP_HAVE_HDF5
/* A scalar variable-length UTF-8 string attribute (lock held). */
herr_t sp__mh_h5_string_attr(hid_t obj, const char *name, const char *text);

/* An open HDF5 file. libhdf5 parses its metadata (superblock, groups, object headers, chunk
 * indexes) through `id`; the raw data of a dataset is read by us (h5_raw.c) from the same
 * bytes: the caller's in-memory image, or libhdf5's own descriptor of the file (the sec2
 * driver's, so both read one file even if the path is replaced meanwhile). */
typedef struct sp__mh_h5 {
    hid_t id;                   /* libhdf5's file handle; -1 when closed */
    const unsigned char *image; /* the in-memory file image (borrowed), or NULL */
    int fd;                     /* otherwise libhdf5's descriptor (not ours to close) */
    uint64_t size;              /* bytes of the image, or of the file when it was opened */
    uint64_t base;              /* HDF5 base address (user block size): chunk addresses are
                                 * relative to it, H5Dget_offset's are not */
} sp__mh_h5;

/* HDF5 (lock held): reads dataset `dset` of an open file into a row-major array with its
 * stored shape; float and integer element types are converted to float32 by h5_raw.c. Other
 * classes (compound, string, ...) are errors naming the file and the dataset. */
sp_status sp__mh_h5_read(const sp__mh_h5 *h, const char *path, const char *dset, int float_only, sp__mh_array *out,
                         sp_error *err);
/* Opens `path` read-only with the sec2 driver (lock held); on failure h->id < 0 (nothing
 * left open) and the error names the file. */
sp_status sp__mh_h5_open(const char *path, sp__mh_h5 *h, sp_error *err);
/* Opens an in-memory HDF5 file image (lock held; libhdf5 copies the buffer, h5_raw.c reads
 * the caller's, which must stay valid until sp__mh_h5_close); failure as sp__mh_h5_open. */
sp_status sp__mh_h5_open_image(const void *buf, size_t len, const char *name, sp__mh_h5 *h, sp_error *err);
/* Closes what sp__mh_h5_open* opened (lock held); accepts a failed or closed handle. */
void sp__mh_h5_close(sp__mh_h5 *h);

/* h5_raw.c (lock held): checks dataset `dset`'s storage against the file and reads its raw
 * data into out[0, count), converted to float32. The dataset's shape (rank 1..3, dims,
 * count = their product, already checked by sp__mh_check_shape) and its class come from
 * the caller. `path` and `name` name the file and the dataset in errors. */
sp_status sp__h5_raw_read(const sp__mh_h5 *h, hid_t dset, const char *path, const char *name, size_t rank,
                          const size_t *dims, size_t count, float *out, sp_error *err);
#endif /* SP_HAVE_HDF5 */

/* The .h5 flow readers of flow_h5.c without the child process. Only for the in-process
 * corpus replay (tests/fuzz/fuzz_h5.c built with SP_FUZZ_H5_IN_PROCESS), which runs every
 * checked-in file through them under the sanitizers, so that a read outside a buffer fails
 * the test instead of dying quietly with the child. */
sp_status sp__h5_read_flow_in_process(const char *path, sp_flow *flow, sp_error *err);
sp_status sp__h5_parse_flow_in_process(const void *buf, size_t len, const char *name, sp_flow *flow,
                                       sp_error *err);

/* Checks a whole v5 .mat file buf[0, len) (mat_v5_check.c): every top-level element is in
 * bounds and V (and I0, I1 with images), when numeric, hold all the data their shape needs. */
sp_status sp__mat_v5_check(const char *path, const unsigned char *buf, size_t len, int images, sp_error *err);

#endif /* SP_MATIO_H5_INTERNAL_H */
