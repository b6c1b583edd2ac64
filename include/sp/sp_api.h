/* synthpix: export and version macros shared by every public header.
 *
 * SP_API marks the functions of the stable API. libsynthpix.so is built with
 * -fvisibility=hidden, so only these are exported (all start with sp_). Declarations meant
 * for tests and for experiments sit behind `#if defined(SP_EXPERIMENTAL_API)`: define it
 * before including a header to use them, knowing they may change in any release.
 */
#ifndef SP_API_H
#define SP_API_H

#if defined(__GNUC__) || defined(__clang__)
#define SP_API __attribute__((visibility("default")))
#else
#define SP_API
#endif

#define SP_VERSION_MAJOR 0
#define SP_VERSION_MINOR 1
#define SP_VERSION_PATCH 0
#define SP_VERSION_NUMBER (SP_VERSION_MAJOR * 10000 + SP_VERSION_MINOR * 100 + SP_VERSION_PATCH)
#define SP_VERSION_STRING_(a, b, c) #a "." #b "." #c
#define SP_VERSION_STRING_X_(a, b, c) SP_VERSION_STRING_(a, b, c)
#define SP_VERSION_STRING SP_VERSION_STRING_X_(SP_VERSION_MAJOR, SP_VERSION_MINOR, SP_VERSION_PATCH)

/* The version of the stream: the bytes a configuration produces (images, flows, params,
 * record seeds). Any change of output bytes for some configuration bumps it, whatever the
 * library version does. Recorded in dataset.json ("stream_version") and in checkpoints; a
 * checkpoint of another stream version is refused. 1: up to synthpix 0.1.0's noise (erfinv
 * normals, one block per value); 2: paired noise draws (Box-Muller), docs/determinism.md. */
#define SP_STREAM_VERSION 2

#ifdef __cplusplus
extern "C" {
#endif

/* The version of the library actually linked (SP_VERSION_NUMBER and SP_VERSION_STRING are
 * those of the headers compiled against): major * 10000 + minor * 100 + patch, and
 * "major.minor.patch" (static). */
SP_API unsigned sp_version_number(void);
SP_API const char *sp_version_string(void);
/* SP_STREAM_VERSION of the library actually linked. */
SP_API unsigned sp_stream_version(void);

/* Optional features of the library actually linked, fixed when it was built:
 *   "matio"  .mat flow files (libmatio)
 *   "hdf5"   .h5 flow files, HDF5-based (v7.3) .mat files and HDF5 dataset shards (libhdf5)
 *   "cairo"  `synthpix preview`, the command's PNG overview of one pair (libcairo); the
 *            command built with this library links libcairo, the library itself never does
 * Without a feature the calls that need it return SP_ERR_UNSUPPORTED with a message naming
 * the file and the missing library. sp_have_feature returns 1 when `name` is built in, 0
 * otherwise (unknown names and NULL included). sp_feature_name lists the known names:
 * i = 0, 1, ... until it returns NULL (static strings). Thread-safe. */
SP_API int sp_have_feature(const char *name);
SP_API const char *sp_feature_name(unsigned i);

#ifdef __cplusplus
}
#endif
#endif /* SP_API_H */
