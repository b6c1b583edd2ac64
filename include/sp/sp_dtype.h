/* synthpix: element types, the library's one dtype table (.npy files, checkpoint arrays,
 * zarr metadata and the Python package all use it).
 *
 * Thread safety: every function is pure and returns static strings.
 */
#ifndef SP_DTYPE_H
#define SP_DTYPE_H

#include <stddef.h> /* size_t */

#include "sp/sp_api.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Element types. In memory, data is always in native byte order. */
typedef enum sp_dtype {
    SP_DTYPE_BOOL = 0, /* |b1, one byte, 0 = false, 1 = true (checkpoints refuse others) */
    SP_DTYPE_U8,       /* |u1 */
    SP_DTYPE_I8,       /* |i1 */
    SP_DTYPE_U16,      /* <u2 */
    SP_DTYPE_I16,      /* <i2 */
    SP_DTYPE_U32,      /* <u4 */
    SP_DTYPE_I32,      /* <i4 */
    SP_DTYPE_U64,      /* <u8 */
    SP_DTYPE_I64,      /* <i8 */
    SP_DTYPE_F32,      /* <f4 */
    SP_DTYPE_F64,      /* <f8 */
    SP_DTYPE_COUNT_
} sp_dtype;

/* Bytes per element (1, 2, 4 or 8); 0 for an invalid dtype. */
SP_API size_t sp_dtype_size(sp_dtype t);
/* Little-endian NumPy/zarr descr ("<f4", "|u1"); static; NULL for an invalid dtype. */
SP_API const char *sp_dtype_name(sp_dtype t);
/* NumPy name ("float32", "bool"); static; "?" for an invalid dtype. */
SP_API const char *sp_dtype_numpy_name(sp_dtype t);
/* Parses a NumPy descr of one of the types above in either byte order ("<f4", ">i2", "|u1";
 * '|' only for one-byte types). *swap (NULL allowed) is 1 when the data's byte order is
 * not the host's. Returns 1 on success, 0 when unsupported. */
SP_API int sp_dtype_from_descr(const char *descr, sp_dtype *out, int *swap);
/* Parses a NumPy name ("float32"); 1 on success. */
SP_API int sp_dtype_from_numpy_name(const char *name, sp_dtype *out);

#ifdef __cplusplus
}
#endif
#endif /* SP_DTYPE_H */
