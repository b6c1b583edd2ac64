/* test_io.c: .npy, .flo, PNG and TIFF readers/writers and the quantisation helpers.
 *
 * Expectations are independent of the code under test: values are arange-style patterns
 * computed here, files are produced or checked by NumPy (/usr/bin/python3), images are read
 * back with libpng/libtiff directly, and malformed files are assembled byte by byte here.
 */
#include "sp_test.h"

#include <png.h>
#include <setjmp.h>
#include <tiffio.h>
#include <zlib.h>

#include "sp/sp_io.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- helpers ------------------------------------------------------------------------------ */

/* NumPy writes or checks the files of these cases: without it the case is skipped. */
static void require_numpy(void)
{
    if (!sp_test_have_python("numpy")) sp_test_skip("/usr/bin/python3 lacks numpy");
}

static void tmp_path(char *out, size_t cap, const char *file)
{
    snprintf(out, cap, "%s/%s", sp_test_tmpdir(), file);
}

/* Runs python code (no single quotes inside) and asserts it exits 0. */
static void run_python(const char *code)
{
    char out[8192];
    int const rc = sp_test_sh(out, sizeof out, "cd '%s' && /usr/bin/python3 -c '%s' 2>&1",
                              sp_test_tmpdir(), code);
    SP_EXPECT_MSG(rc == 0, "python failed (%d): %s", rc, out);
}

/* Writes an .npy array through a memory sink; returns the bytes (free()). */
static unsigned char *npy_bytes(sp_dtype t, size_t ndim, const size_t *shape, const void *data,
                                size_t *len)
{
    sp_membuf mb = {0};
    sp_sink const sink = sp_sink_membuf(&mb);
    SP_ASSERT_OK(sp_npy_write(&sink, t, ndim, shape, data, NULL));
    *len = mb.size;
    return mb.data;
}

static void write_npy_file(const char *path, sp_dtype t, size_t ndim, const size_t *shape,
                           const void *data)
{
    size_t len = 0;
    unsigned char *const b = npy_bytes(t, ndim, shape, data, &len);
    sp_test_write_file(path, b, len);
    free(b);
}

/* A version-1.0 file with the given dict text (no padding) and nbytes of 0x11 data. */
static unsigned char *make_npy(const char *dict, size_t nbytes, size_t *len)
{
    size_t const hl = strlen(dict);
    *len = 10 + hl + nbytes;
    unsigned char *const b = (unsigned char *)malloc(*len + 1);
    memcpy(b, "\x93NUMPY\x01\x00", 8);
    b[8] = (unsigned char)(hl & 0xff);
    b[9] = (unsigned char)(hl >> 8);
    memcpy(b + 10, dict, hl);
    memset(b + 10 + hl, 0x11, nbytes);
    return b;
}

/* Parses buf and asserts failure with `want` status and a message naming the file. */
static void expect_npy_error(const void *buf, size_t len, int want, const char *needle)
{
    sp_npy_array a;
    sp_error e;
    sp_error_clear(&e);
    int const s = sp_npy_parse(buf, len, "evil.npy", &a, NULL, &e);
    SP_EXPECT_MSG(s != 0, "malformed input accepted (%s)", needle ? needle : "");
    if (want != 0) SP_ASSERT_EQ_INT(s, want);
    SP_ASSERT_STR_CONTAINS(e.message, "evil.npy");
    if (needle) SP_ASSERT_STR_CONTAINS(e.message, needle);
    SP_EXPECT(a.data == NULL && a.ndim == 0);
}

/* Pattern value of element k for dtype t (exactly representable in every dtype). */
static double pattern(sp_dtype t, size_t k)
{
    switch (t) {
    case SP_DTYPE_BOOL: return (double)(k % 2);
    case SP_DTYPE_U8: case SP_DTYPE_U16: case SP_DTYPE_U32: case SP_DTYPE_U64:
        return (double)(k % 100);
    case SP_DTYPE_I8: case SP_DTYPE_I16: case SP_DTYPE_I32: case SP_DTYPE_I64:
        return (double)(k % 100) - 50.0;
    case SP_DTYPE_F32: case SP_DTYPE_F64: return (double)k * 0.25 - 3.0;
    case SP_DTYPE_COUNT_: break;
    }
    return 0.0;
}

/* Fills a native buffer of count elements with pattern(). */
static void *pattern_buffer(sp_dtype t, size_t count)
{
    size_t const es = sp_dtype_size(t);
    unsigned char *const b = (unsigned char *)malloc(count * es + 1);
    for (size_t k = 0; k < count; k++) {
        double const v = pattern(t, k);
        unsigned char *const p = b + k * es;
        switch (t) {
        case SP_DTYPE_BOOL: case SP_DTYPE_U8: { uint8_t x = (uint8_t)v; memcpy(p, &x, 1); } break;
        case SP_DTYPE_I8: { int8_t x = (int8_t)v; memcpy(p, &x, 1); } break;
        case SP_DTYPE_U16: { uint16_t x = (uint16_t)v; memcpy(p, &x, 2); } break;
        case SP_DTYPE_I16: { int16_t x = (int16_t)v; memcpy(p, &x, 2); } break;
        case SP_DTYPE_U32: { uint32_t x = (uint32_t)v; memcpy(p, &x, 4); } break;
        case SP_DTYPE_I32: { int32_t x = (int32_t)v; memcpy(p, &x, 4); } break;
        case SP_DTYPE_U64: { uint64_t x = (uint64_t)v; memcpy(p, &x, 8); } break;
        case SP_DTYPE_I64: { int64_t x = (int64_t)v; memcpy(p, &x, 8); } break;
        case SP_DTYPE_F32: { float x = (float)v; memcpy(p, &x, 4); } break;
        case SP_DTYPE_F64: memcpy(p, &v, 8); break;
        case SP_DTYPE_COUNT_: break;
        }
    }
    return b;
}

/* Asserts that a holds pattern(t, k) at C-order position k. */
static void expect_pattern(const sp_npy_array *a, sp_dtype t)
{
    SP_ASSERT_EQ_INT(a->dtype, t);
    double *const v = (double *)malloc((a->count + 1) * sizeof(double));
    SP_ASSERT_OK(sp_npy_to_f64(a, v, a->count, NULL));
    for (size_t k = 0; k < a->count; k++)
        SP_EXPECT_MSG(v[k] == pattern(t, k), "%s element %zu: got %g want %g", sp_dtype_name(t), k,
                      v[k], pattern(t, k));
    free(v);
}

static const char *const py_descr[SP_DTYPE_COUNT_] = {
    "b1", "u1", "i1", "u2", "i2", "u4", "i4", "u8", "i8", "f4", "f8",
};

/* ---- .npy ------------------------------------------------------------------------------- */

SP_TEST(io_npy_roundtrip_every_dtype_and_rank)
{
    static const size_t dims[4] = {2, 3, 1, 4};
    for (unsigned t = 0; t < SP_DTYPE_COUNT_; t++) {
        for (size_t nd = 0; nd <= 4; nd++) {
            size_t count = 1;
            for (size_t k = 0; k < nd; k++) count *= dims[k];
            void *const data = pattern_buffer((sp_dtype)t, count);
            size_t len = 0;
            unsigned char *const b = npy_bytes((sp_dtype)t, nd, dims, data, &len);
            size_t const hl = (size_t)b[8] | ((size_t)b[9] << 8);
            SP_EXPECT(b[6] == 1 && b[7] == 0 && (10 + hl) % 64 == 0 && b[10 + hl - 1] == '\n');
            SP_ASSERT_EQ_INT(len, 10 + hl + count * sp_dtype_size((sp_dtype)t));
            sp_npy_array a;
            SP_ASSERT_OK(sp_npy_parse(b, len, "rt.npy", &a, NULL, NULL));
            SP_ASSERT_EQ_INT(a.ndim, nd);
            for (size_t k = 0; k < nd; k++) SP_ASSERT_EQ_INT(a.shape[k], dims[k]);
            SP_ASSERT_EQ_INT(a.count, count);
            SP_EXPECT(memcmp(a.data, data, count * sp_dtype_size((sp_dtype)t)) == 0);
            expect_pattern(&a, (sp_dtype)t);
            sp_npy_array_release(&a);
            free(b);
            free(data);
        }
    }
}

SP_TEST(io_npy_roundtrip_empty_array)
{
    size_t const shape[2] = {0, 3};
    size_t len = 0;
    unsigned char *const b = npy_bytes(SP_DTYPE_F32, 2, shape, NULL, &len);
    sp_npy_array a;
    SP_ASSERT_OK(sp_npy_parse(b, len, "empty.npy", &a, NULL, NULL));
    SP_EXPECT(a.ndim == 2 && a.shape[0] == 0 && a.shape[1] == 3 && a.count == 0 && a.data != NULL);
    sp_npy_array_release(&a);
    free(b);
}

SP_TEST(io_npy_header_matches_numpy_layout)
{
    size_t const shape[2] = {3, 4};
    float data[12] = {0};
    size_t len = 0;
    unsigned char *const b = npy_bytes(SP_DTYPE_F32, 2, shape, data, &len);
    const char *const want = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }";
    SP_EXPECT(memcmp(b + 10, want, strlen(want)) == 0);
    SP_ASSERT_EQ_INT(len, 128 + 48);
    free(b);
    size_t const one[1] = {5};
    uint8_t d5[5] = {0};
    unsigned char *const c = npy_bytes(SP_DTYPE_U8, 1, one, d5, &len);
    SP_EXPECT(strstr((const char *)c + 10, "'descr': '|u1'") != NULL);
    SP_EXPECT(strstr((const char *)c + 10, "'shape': (5,), }") != NULL);
    free(c);
}

SP_TEST(io_npy_numpy_reads_our_files)
{
    require_numpy();
    static const size_t shape[3] = {3, 5, 2};
    for (unsigned t = 0; t < SP_DTYPE_COUNT_; t++) {
        void *const data = pattern_buffer((sp_dtype)t, 30);
        char path[600], name[32];
        snprintf(name, sizeof name, "ours_%s.npy", py_descr[t]);
        tmp_path(path, sizeof path, name);
        write_npy_file(path, (sp_dtype)t, 3, shape, data);
        free(data);
    }
    size_t const s0[1] = {0};
    double const scalar = 2.5;
    char path[600];
    tmp_path(path, sizeof path, "ours_scalar.npy");
    write_npy_file(path, SP_DTYPE_F64, 0, s0, &scalar);
    run_python(
        "import numpy as np\n"
        "k = np.arange(30)\n"
        "exp = {\"b1\": (k % 2).astype(bool), \"f4\": k * 0.25 - 3, \"f8\": k * 0.25 - 3}\n"
        "for d in \"b1 u1 i1 u2 i2 u4 i4 u8 i8 f4 f8\".split():\n"
        "    a = np.load(\"ours_%s.npy\" % d)\n"
        "    assert a.shape == (3, 5, 2), a.shape\n"
        "    assert a.dtype == np.dtype(d), (d, a.dtype)\n"
        "    e = exp.get(d, (k % 100) - (50 if d[0] == \"i\" else 0))\n"
        "    assert np.array_equal(a.ravel(), np.asarray(e).astype(d)), d\n"
        "s = np.load(\"ours_scalar.npy\")\n"
        "assert s.shape == () and s.dtype == np.float64 and s == 2.5\n");
}

/* NumPy writes every dtype in versions 1.0/2.0/3.0, C and Fortran order, '<' and '>', ranks
 * 0..4; values are arange patterns recomputed here. */
SP_TEST(io_npy_reads_numpy_files)
{
    require_numpy();
    run_python(
        "import numpy as np\n"
        "from numpy.lib import format as F\n"
        "shapes = {0: (), 1: (7,), 2: (3, 4), 3: (2, 3, 4), 4: (2, 1, 3, 2)}\n"
        "for d in \"b1 u1 i1 u2 i2 u4 i4 u8 i8 f4 f8\".split():\n"
        "  for r, shp in shapes.items():\n"
        "    n = int(np.prod(shp))\n"
        "    k = np.arange(n)\n"
        "    if d == \"b1\": v = k % 2\n"
        "    elif d[0] == \"f\": v = k * 0.25 - 3\n"
        "    else: v = k % 100 - (50 if d[0] == \"i\" else 0)\n"
        "    for bo in \"<>\":\n"
        "      a = v.astype(np.dtype(bo + d)).reshape(shp)\n"
        "      for fo in (0, 1):\n"
        "        b = a if r == 0 else np.asfortranarray(a) if fo else np.ascontiguousarray(a)\n"
        "        assert r < 2 or not fo or (b.flags.f_contiguous and not b.flags.c_contiguous)\n"
        "        for ver in (1, 2, 3):\n"
        "          with open(\"np_%s_%d_%s_%d_%d.npy\" % (d, r, \"be\" if bo == \">\" else \"le\", fo, ver), \"wb\") as f:\n"
        "            F.write_array(f, b, version=(ver, 0))\n");
    int checked = 0;
    for (unsigned t = 0; t < SP_DTYPE_COUNT_; t++)
        for (int r = 0; r <= 4; r++)
            for (int be = 0; be <= 1; be++)
                for (int fo = 0; fo <= 1; fo++)
                    for (int ver = 1; ver <= 3; ver++) {
                        char name[64], path[700];
                        snprintf(name, sizeof name, "np_%s_%d_%s_%d_%d.npy", py_descr[t], r,
                                 be ? "be" : "le", fo, ver);
                        tmp_path(path, sizeof path, name);
                        sp_npy_array a;
                        sp_error e;
                        SP_EXPECT_MSG(sp_npy_read_file(path, &a, NULL, &e) == SP_OK, "%s", e.message);
                        SP_ASSERT_EQ_INT(a.ndim, r);
                        expect_pattern(&a, (sp_dtype)t);
                        sp_npy_array_release(&a);
                        checked++;
                    }
    SP_ASSERT_EQ_INT(checked, 11 * 5 * 2 * 2 * 3);
}

SP_TEST(io_npy_big_endian_u8_swaps_all_bytes)
{
    require_numpy();
    run_python("import numpy as np\n"
               "a = np.array([[0x0102030405060708, 0xF0E0D0C0B0A09080], [1, 2]], dtype=\">u8\")\n"
               "np.save(\"be64.npy\", np.asfortranarray(a))\n");
    char path[600];
    tmp_path(path, sizeof path, "be64.npy");
    sp_npy_array a;
    SP_ASSERT_OK(sp_npy_read_file(path, &a, NULL, NULL));
    SP_EXPECT(a.dtype == SP_DTYPE_U64 && a.ndim == 2 && a.shape[0] == 2 && a.shape[1] == 2);
    uint64_t v[4];
    memcpy(v, a.data, sizeof v);
    SP_ASSERT_EQ_U64(v[0], 0x0102030405060708ull);
    SP_ASSERT_EQ_U64(v[1], 0xF0E0D0C0B0A09080ull);
    SP_ASSERT_EQ_U64(v[2], 1);
    SP_ASSERT_EQ_U64(v[3], 2);
    sp_npy_array_release(&a);
}

SP_TEST(io_npy_to_f32_converts_each_dtype)
{
    int8_t const i8[3] = {-128, 0, 127};
    sp_npy_array a = {SP_DTYPE_I8, 1, {3}, 3, 3, (void *)(uintptr_t)i8};
    float f[3];
    SP_ASSERT_OK(sp_npy_to_f32(&a, f, 3, NULL));
    SP_EXPECT(f[0] == -128.0f && f[1] == 0.0f && f[2] == 127.0f);
    uint8_t const b1[3] = {0, 1, 7};
    sp_npy_array b = {SP_DTYPE_BOOL, 1, {3}, 3, 3, (void *)(uintptr_t)b1};
    SP_ASSERT_OK(sp_npy_to_f32(&b, f, 3, NULL));
    SP_EXPECT(f[0] == 0.0f && f[1] == 1.0f && f[2] == 1.0f);
    uint64_t const u64[2] = {UINT64_C(1) << 60, 3};
    sp_npy_array c = {SP_DTYPE_U64, 1, {2}, 2, 16, (void *)(uintptr_t)u64};
    double d[2];
    SP_ASSERT_OK(sp_npy_to_f64(&c, d, 2, NULL));
    SP_EXPECT(d[0] == 1152921504606846976.0 && d[1] == 3.0);
    sp_error e;
    SP_ASSERT_STATUS(sp_npy_to_f64(&c, d, 1, &e), SP_ERR_INVALID);
}

SP_TEST(io_npy_read_flow_accepts_hw2_hw3)
{
    require_numpy();
    run_python("import numpy as np\n"
               "k = np.arange(4 * 5 * 2)\n"
               "np.save(\"f2.npy\", (k * 0.5 - 7).reshape(4, 5, 2).astype(\"<f8\"))\n"
               "k = np.arange(3 * 2 * 3)\n"
               "np.save(\"f3.npy\", np.asfortranarray((k * 0.5 - 7).reshape(3, 2, 3).astype(\">f4\")))\n"
               "np.save(\"bad_shape.npy\", np.zeros((4, 5), \"<f4\"))\n"
               "np.save(\"bad_dtype.npy\", np.zeros((4, 5, 2), \"<i4\"))\n"
               "np.save(\"bad_chan.npy\", np.zeros((4, 5, 4), \"<f4\"))\n");
    char path[600];
    sp_flow f;
    tmp_path(path, sizeof path, "f2.npy");
    SP_ASSERT_OK(sp_npy_read_flow(path, &f, NULL));
    SP_EXPECT(f.height == 4 && f.width == 5 && f.channels == 2);
    for (size_t k = 0; k < 40; k++) SP_EXPECT(f.data[k] == (float)k * 0.5f - 7.0f);
    sp_flow_release(&f);
    tmp_path(path, sizeof path, "f3.npy");
    SP_ASSERT_OK(sp_npy_read_flow(path, &f, NULL));
    SP_EXPECT(f.height == 3 && f.width == 2 && f.channels == 3);
    for (size_t k = 0; k < 18; k++) SP_EXPECT(f.data[k] == (float)k * 0.5f - 7.0f);
    sp_flow_release(&f);
    static const char *const bad[3][2] = {
        {"bad_shape.npy", "(4, 5)"}, {"bad_dtype.npy", "<i4"}, {"bad_chan.npy", "(4, 5, 4)"}};
    for (int i = 0; i < 3; i++) {
        sp_error e;
        tmp_path(path, sizeof path, bad[i][0]);
        SP_ASSERT_STATUS(sp_npy_read_flow(path, &f, &e), SP_ERR_MISMATCH);
        SP_ASSERT_STR_CONTAINS(e.message, bad[i][0]);
        SP_ASSERT_STR_CONTAINS(e.message, bad[i][1]);
        SP_ASSERT_STR_CONTAINS(e.message, "expected");
        SP_EXPECT(f.data == NULL);
    }
}

SP_TEST(io_npy_truncated_at_every_offset)
{
    size_t const shape[2] = {3, 7};
    void *const data = pattern_buffer(SP_DTYPE_I16, 21);
    size_t len = 0;
    unsigned char *const b = npy_bytes(SP_DTYPE_I16, 2, shape, data, &len);
    for (size_t cut = 0; cut < len; cut++) {
        unsigned char *const p = (unsigned char *)malloc(cut ? cut : 1); /* exact size for ASan */
        memcpy(p, b, cut);
        expect_npy_error(p, cut, 0, NULL);
        free(p);
    }
    expect_npy_error(b, len - 1, SP_ERR_CORRUPT, "truncated");
    free(b);
    free(data);
}

/* The same for NumPy-written files from the corpus: big-endian Fortran order (1.0), 2.0, 3.0. */
SP_TEST(io_npy_numpy_files_truncated_at_every_offset)
{
    static const char *const files[] = {"be_f8_fortran.npy", "be_i4_v2.npy", "u8_be_v3.npy"};
    for (size_t f = 0; f < ARRAY_LEN(files); f++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/tests/corpus/npy/%s", sp_test_source_dir(), files[f]);
        size_t len = 0;
        unsigned char *const b = sp_test_read_file(path, &len);
        SP_EXPECT_MSG(b != NULL && len > 64, "cannot read %s", path);
        sp_npy_array a;
        SP_ASSERT_OK(sp_npy_parse(b, len, files[f], &a, NULL, NULL));
        sp_npy_array_release(&a);
        for (size_t cut = 0; cut < len; cut++) {
            unsigned char *const p = (unsigned char *)malloc(cut ? cut : 1);
            memcpy(p, b, cut);
            expect_npy_error(p, cut, 0, NULL);
            free(p);
        }
        free(b);
    }
}

SP_TEST(io_npy_rejects_wrong_magic_and_version)
{
    size_t len = 0;
    unsigned char *const b = make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", 4, &len);
    b[1] = 'M';
    expect_npy_error(b, len, SP_ERR_CORRUPT, "magic");
    b[1] = 'N';
    b[6] = 4;
    expect_npy_error(b, len, SP_ERR_UNSUPPORTED, "version 4.0");
    b[6] = 1;
    b[7] = 1;
    expect_npy_error(b, len, SP_ERR_UNSUPPORTED, "version 1.1");
    b[7] = 0;
    expect_npy_error("PK\x03\x04", 4, SP_ERR_CORRUPT, "magic");
    free(b);
}

SP_TEST(io_npy_rejects_header_past_end)
{
    size_t len = 0;
    unsigned char *const b = make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", 4, &len);
    b[8] = 0xff;
    b[9] = 0x7f;
    expect_npy_error(b, len, SP_ERR_CORRUPT, "past the end");
    free(b);
    /* Version 2.0 with a 4 GiB header length. */
    unsigned char v2[16] = {0x93, 'N', 'U', 'M', 'P', 'Y', 2, 0, 0xff, 0xff, 0xff, 0xff, '{', '}', ' ', '\n'};
    expect_npy_error(v2, sizeof v2, 0, "header length");
}

SP_TEST(io_npy_rejects_absurd_dimensions)
{
    size_t len = 0;
    unsigned char *b = make_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }", 8, &len);
    expect_npy_error(b, len, SP_ERR_RANGE, "absurd");
    free(b);
    b = make_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999999,), }", 8, &len);
    expect_npy_error(b, len, SP_ERR_RANGE, "absurd");
    free(b);
    b = make_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000,), }", 8, &len);
    expect_npy_error(b, len, SP_ERR_RANGE, "limit"); /* 8 GB > 4 GiB default */
    free(b);
    /* A tight caller limit. */
    b = make_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (16,), }", 128, &len);
    sp_npy_limits lim;
    sp_npy_limits_init(&lim);
    lim.max_data_bytes = 64;
    sp_npy_array a;
    sp_error e;
    SP_ASSERT_STATUS(sp_npy_parse(b, len, "evil.npy", &a, &lim, &e), SP_ERR_RANGE);
    SP_ASSERT_STR_CONTAINS(e.message, "evil.npy");
    lim.max_data_bytes = 128;
    SP_ASSERT_OK(sp_npy_parse(b, len, "evil.npy", &a, &lim, &e));
    sp_npy_array_release(&a);
    free(b);
}

SP_TEST(io_npy_rejects_unsupported_dtypes)
{
    static const char *const bad[] = {"<c8", "|O", "<f2", "|f4", "<U3", "|S4", "<f16", "=f4", "<M8[s]"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        char dict[200];
        snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (1,), }", bad[i]);
        size_t len = 0;
        unsigned char *const b = make_npy(dict, 8, &len);
        expect_npy_error(b, len, SP_ERR_UNSUPPORTED, "unsupported dtype");
        free(b);
    }
    size_t len = 0;
    unsigned char *const b = make_npy("{'descr': [('x', '<f4')], 'fortran_order': False, 'shape': (1,), }", 4, &len);
    expect_npy_error(b, len, SP_ERR_UNSUPPORTED, "structured");
    free(b);
}

SP_TEST(io_npy_rejects_bad_header_dicts)
{
    static const char *const bad[][2] = {
        {"{'descr': '<f4', 'fortran_order': False, }", "missing key 'shape'"},
        {"{'fortran_order': False, 'shape': (1,), }", "missing key 'descr'"},
        {"{'descr': '<f4', 'shape': (1,), }", "missing key 'fortran_order'"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1), }", "shape tuple"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", "shape tuple"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': [1], }", "shape tuple"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1, , 2), }", "shape tuple"},
        {"{'descr': '<f4', 'fortran_order': 0, 'shape': (1,), }", "fortran_order"},
        {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", "duplicate"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", "unexpected key"},
        {"{'descr': '<f4, 'fortran_order': False, 'shape': (1,), }", NULL},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,) ", NULL},
        {"'descr': '<f4', 'fortran_order': False, 'shape': (1,) }", "expected '{'"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,), } x", "after '}'"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,2,3,4,5,6,7,8,9), }", "dimensions"},
        {"", "expected '{'"},
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        size_t len = 0;
        unsigned char *const b = make_npy(bad[i][0], 4, &len);
        expect_npy_error(b, len, 0, bad[i][1]);
        free(b);
    }
    /* Accepted variants: double quotes, any key order, no trailing comma, no spaces. */
    size_t len = 0;
    unsigned char *const b = make_npy("{\"shape\":(1,),\"fortran_order\":True,\"descr\":\"<f4\"}\n", 4, &len);
    sp_npy_array a;
    SP_ASSERT_OK(sp_npy_parse(b, len, "ok.npy", &a, NULL, NULL));
    sp_npy_array_release(&a);
    free(b);
}

SP_TEST(io_npy_rejects_shape_data_mismatch)
{
    size_t len = 0;
    unsigned char *b = make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 20, &len);
    expect_npy_error(b, len, SP_ERR_CORRUPT, "truncated");
    free(b);
    b = make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 28, &len);
    expect_npy_error(b, len, SP_ERR_CORRUPT, "trailing");
    free(b);
    b = make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 24, &len);
    sp_npy_array a;
    SP_ASSERT_OK(sp_npy_parse(b, len, "ok.npy", &a, NULL, NULL));
    sp_npy_array_release(&a);
    free(b);
}

SP_TEST(io_npy_read_file_errors_name_the_file)
{
    char path[600];
    tmp_path(path, sizeof path, "does-not-exist.npy");
    sp_npy_array a;
    sp_error e;
    SP_ASSERT_STATUS(sp_npy_read_file(path, &a, NULL, &e), SP_ERR_NOTFOUND);
    SP_ASSERT_STR_CONTAINS(e.message, "does-not-exist.npy");
    tmp_path(path, sizeof path, "junk.npy");
    sp_test_write_file(path, "hello world", 11);
    SP_ASSERT_STATUS(sp_npy_read_file(path, &a, NULL, &e), SP_ERR_CORRUPT);
    SP_ASSERT_STR_CONTAINS(e.message, "junk.npy");
    SP_ASSERT_STATUS(sp_npy_read_file(sp_test_tmpdir(), &a, NULL, &e), SP_ERR_IO);
}

/* ---- .flo ------------------------------------------------------------------------------- */

/* Hand-assembled little-endian .flo bytes. */
static unsigned char *make_flo(int32_t w, int32_t h, size_t nfloats, size_t *len)
{
    *len = 12 + nfloats * 4;
    unsigned char *const b = (unsigned char *)malloc(*len);
    memcpy(b, "PIEH", 4);
    uint32_t const uw = (uint32_t)w, uh = (uint32_t)h;
    for (int i = 0; i < 4; i++) {
        b[4 + i] = (unsigned char)(uw >> (8 * i));
        b[8 + i] = (unsigned char)(uh >> (8 * i));
    }
    for (size_t k = 0; k < nfloats; k++) {
        float const v = (float)k - 0.5f;
        uint32_t u;
        memcpy(&u, &v, 4);
        for (int i = 0; i < 4; i++) b[12 + 4 * k + (size_t)i] = (unsigned char)(u >> (8 * i));
    }
    return b;
}

static void expect_flo_error(const void *buf, size_t len, int want, const char *needle)
{
    sp_flow f;
    sp_error e;
    sp_error_clear(&e);
    int const s = sp_flo_parse(buf, len, "evil.flo", &f, &e);
    SP_EXPECT_MSG(s != 0, "malformed .flo accepted");
    if (want) SP_ASSERT_EQ_INT(s, want);
    SP_ASSERT_STR_CONTAINS(e.message, "evil.flo");
    if (needle) SP_ASSERT_STR_CONTAINS(e.message, needle);
    SP_EXPECT(f.data == NULL);
}

SP_TEST(io_flo_parses_hand_built_file)
{
    size_t len = 0;
    unsigned char *const b = make_flo(3, 2, 12, &len);
    sp_flow f;
    SP_ASSERT_OK(sp_flo_parse(b, len, "hand.flo", &f, NULL));
    SP_EXPECT(f.width == 3 && f.height == 2 && f.channels == 2);
    for (size_t k = 0; k < 12; k++) SP_EXPECT(f.data[k] == (float)k - 0.5f);
    SP_EXPECT(f.data[sp_flow_index(&f, 1, 2, 1)] == 11.0f - 0.5f);
    sp_flow_release(&f);
    free(b);
}

/* Writes the .flo file of a 4x5 flow (u = j + 0.25, v = -i; a third channel is dropped) into mb. */
static void write_small_flo(sp_membuf *mb)
{
    sp_flow f;
    SP_ASSERT_OK(sp_flow_alloc(&f, 4, 5, 3, NULL));
    for (size_t i = 0; i < 4; i++)
        for (size_t j = 0; j < 5; j++) {
            f.data[sp_flow_index(&f, i, j, 0)] = (float)j + 0.25f;
            f.data[sp_flow_index(&f, i, j, 1)] = -(float)i;
            f.data[sp_flow_index(&f, i, j, 2)] = 99.0f;
        }
    sp_sink const sink = sp_sink_membuf(mb);
    SP_ASSERT_OK(sp_flo_write(&sink, &f, NULL));
    sp_flow_release(&f);
}

SP_TEST(io_flo_roundtrip)
{
    sp_membuf mb = {0};
    write_small_flo(&mb);
    SP_ASSERT_EQ_INT(mb.size, 12 + 4 * 5 * 8);
    SP_EXPECT(memcmp(mb.data, "PIEH\x05\x00\x00\x00\x04\x00\x00\x00", 12) == 0);
    sp_flow g;
    SP_ASSERT_OK(sp_flo_parse(mb.data, mb.size, "rt.flo", &g, NULL));
    SP_EXPECT(g.height == 4 && g.width == 5 && g.channels == 2);
    for (size_t i = 0; i < 4; i++)
        for (size_t j = 0; j < 5; j++) {
            SP_EXPECT(g.data[sp_flow_index(&g, i, j, 0)] == (float)j + 0.25f);
            SP_EXPECT(g.data[sp_flow_index(&g, i, j, 1)] == -(float)i);
        }
    char path[600];
    tmp_path(path, sizeof path, "ours.flo");
    sp_test_write_file(path, mb.data, mb.size);
    sp_flow h2;
    SP_ASSERT_OK(sp_flo_read_file(path, &h2, NULL));
    SP_EXPECT(memcmp(h2.data, g.data, 40 * sizeof(float)) == 0);
    sp_flow_release(&h2);
    sp_flow_release(&g);
    sp_membuf_free(&mb);
}

SP_TEST(io_flo_numpy_reads_our_file)
{
    require_numpy();
    sp_membuf mb = {0};
    write_small_flo(&mb);
    char path[600];
    tmp_path(path, sizeof path, "ours.flo");
    sp_test_write_file(path, mb.data, mb.size);
    sp_membuf_free(&mb);
    run_python("import numpy as np\n"
               "b = open(\"ours.flo\", \"rb\").read()\n"
               "assert np.frombuffer(b[:4], \"<f4\")[0] == 202021.25\n"
               "w, h = np.frombuffer(b[4:12], \"<i4\")\n"
               "assert (w, h) == (5, 4)\n"
               "d = np.frombuffer(b[12:], \"<f4\").reshape(h, w, 2)\n"
               "assert (d[..., 0] == np.arange(5) + 0.25).all()\n"
               "assert (d[..., 1] == -np.arange(4)[:, None]).all()\n");
}

SP_TEST(io_flo_rejects_malformed)
{
    size_t len = 0;
    unsigned char *b = make_flo(3, 2, 12, &len);
    for (size_t cut = 0; cut < len; cut++) {
        unsigned char *const p = (unsigned char *)malloc(cut ? cut : 1);
        memcpy(p, b, cut);
        expect_flo_error(p, cut, 0, NULL);
        free(p);
    }
    expect_flo_error(b, len - 1, SP_ERR_CORRUPT, "truncated");
    b[0] = 'X';
    expect_flo_error(b, len, SP_ERR_CORRUPT, "magic");
    free(b);
    b = make_flo(3, 2, 13, &len);
    expect_flo_error(b, len, SP_ERR_CORRUPT, "trailing");
    free(b);
    static const int32_t dims[][2] = {{0, 2}, {3, 0}, {-1, 2}, {100001, 1}, {1, INT32_MAX}, {INT32_MIN, 1}};
    for (size_t i = 0; i < ARRAY_LEN(dims); i++) {
        b = make_flo(dims[i][0], dims[i][1], 4, &len);
        expect_flo_error(b, len, SP_ERR_RANGE, "dimensions");
        free(b);
    }
    b = make_flo(100000, 100000, 4, &len); /* legal dims, data missing: no huge allocation */
    expect_flo_error(b, len, SP_ERR_CORRUPT, "truncated");
    free(b);
    sp_flow f;
    sp_error e;
    char path[600];
    tmp_path(path, sizeof path, "missing.flo");
    SP_ASSERT_STATUS(sp_flo_read_file(path, &f, &e), SP_ERR_NOTFOUND);
    SP_ASSERT_STR_CONTAINS(e.message, "missing.flo");
}

/* ---- PNG -------------------------------------------------------------------------------- */

typedef struct png_src {
    const unsigned char *p;
    size_t n, pos;
} png_src;

/* ---- reading flow files straight into a reused flow ------------------------------------ */

typedef sp_status (*flow_reader)(const char *path, size_t max_len, sp_flow *out, size_t *capacity,
                                 sp_membuf *file, int *nonfinite, sp_error *err);
typedef sp_status (*flow_decoder)(const void *buf, size_t len, const char *name, sp_flow *out, size_t *capacity,
                                  int *nonfinite, sp_error *err);

/* Writes bytes as a file and reads it with `read` (into a flow and buffer reused across
 * calls) and, as the oracle, with the whole-buffer decoder: the same status, message,
 * shape, non-finite flag and value bits. */
static void expect_read_equals_decode(const unsigned char *bytes, size_t len, flow_reader read, flow_decoder decode,
                                      sp_flow *reused, size_t *reused_cap, sp_membuf *file)
{
    char path[600];
    tmp_path(path, sizeof path, "read_into.bin");
    sp_test_write_file(path, bytes, len);
    sp_error e1, e2;
    sp_error_clear(&e1);
    sp_error_clear(&e2);
    int nf1 = -1, nf2 = -1;
    sp_status const s1 = read(path, (size_t)1 << 30, reused, reused_cap, file, &nf1, &e1);
    sp_flow ref;
    memset(&ref, 0, sizeof ref);
    size_t ref_cap = 0;
    sp_status const s2 = decode(bytes, len, path, &ref, &ref_cap, &nf2, &e2);
    SP_EXPECT_MSG(s1 == s2, "status %d, the decoder's %d (%s | %s)", (int)s1, (int)s2, e1.message, e2.message);
    if (s1 != SP_OK || s2 != SP_OK) {
        SP_EXPECT_MSG(strcmp(e1.message, e2.message) == 0, "message \"%s\", the decoder's \"%s\"", e1.message,
                      e2.message);
    } else {
        SP_EXPECT(reused->height == ref.height && reused->width == ref.width && reused->channels == ref.channels);
        SP_EXPECT(nf1 == nf2);
        size_t const n = ref.height * ref.width * ref.channels;
        SP_EXPECT_MSG(memcmp(reused->data, ref.data, n * sizeof(float)) == 0, "values differ (%zu floats)", n);
    }
    sp_flow_release(&ref);
}

/* A (h, w, c) float32 .npy of distinct values, optionally one NaN; big-endian or Fortran
 * order through a hand-built header. */
static unsigned char *flow_npy(size_t h, size_t w, size_t c, const char *descr, int fortran, int nan, size_t *len)
{
    size_t const n = h * w * c, es = strcmp(descr, "<f8") == 0 ? 8 : 4;
    char dict[256];
    int const dl = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': %s, 'shape': (%zu, %zu, %zu), }", descr,
                            fortran ? "True" : "False", h, w, c);
    size_t const hl = ((10 + (size_t)dl + 1 + 63) / 64) * 64 - 10; /* padded to 64, ends with a newline */
    *len = 10 + hl + n * es;
    unsigned char *const b = (unsigned char *)malloc(*len);
    memcpy(b, "\x93NUMPY\x01\x00", 8);
    b[8] = (unsigned char)(hl & 0xff);
    b[9] = (unsigned char)(hl >> 8);
    memset(b + 10, ' ', hl);
    memcpy(b + 10, dict, (size_t)dl);
    b[10 + hl - 1] = '\n';
    for (size_t k = 0; k < n; k++) {
        double const v = nan && k == n / 2 ? (double)NAN : (double)k * 0.25 - 3.0;
        unsigned char *const d = b + 10 + hl + k * es;
        if (es == 8) {
            memcpy(d, &v, 8);
        } else {
            float const f = (float)v;
            uint32_t u;
            memcpy(&u, &f, 4);
            for (int i = 0; i < 4; i++) d[descr[0] == '>' ? 3 - i : i] = (unsigned char)(u >> (8 * i));
        }
    }
    return b;
}

SP_TEST(io_flow_files_read_into_equal_the_whole_buffer_decoders)
{
    sp_flow f;
    memset(&f, 0, sizeof f);
    size_t cap = 0;
    sp_membuf file = {0};
    struct {
        size_t h, w, c;
        const char *descr;
        int fortran, nan;
    } const npys[] = {
        {40, 50, 2, "<f4", 0, 0}, /* straight into the flow */
        {60, 70, 3, "<f4", 0, 0}, /* bigger: the reused storage grows */
        {40, 50, 2, "<f4", 0, 1}, /* a NaN: flagged */
        {5, 6, 2, "<f4", 0, 0},   /* under the head's 4 KiB: the whole-buffer path */
        {40, 50, 2, ">f4", 0, 0}, /* big-endian: decoded */
        {40, 50, 2, "<f8", 0, 0}, /* float64: decoded */
        {40, 50, 2, "<f4", 1, 0}, /* Fortran order: decoded */
        {40, 50, 4, "<f4", 0, 0}, /* 4 channels: refused as the decoder refuses it */
    };
    for (size_t i = 0; i < sizeof npys / sizeof npys[0]; i++) {
        size_t len = 0;
        unsigned char *const b = flow_npy(npys[i].h, npys[i].w, npys[i].c, npys[i].descr, npys[i].fortran, npys[i].nan,
                                          &len);
        expect_read_equals_decode(b, len, sp_npy_read_flow_into, sp_npy_decode_flow, &f, &cap, &file);
        expect_read_equals_decode(b, len - 3, sp_npy_read_flow_into, sp_npy_decode_flow, &f, &cap, &file); /* truncated */
        unsigned char *const longer = (unsigned char *)malloc(len + 5);
        memcpy(longer, b, len);
        memset(longer + len, 0, 5);
        expect_read_equals_decode(longer, len + 5, sp_npy_read_flow_into, sp_npy_decode_flow, &f, &cap, &file);
        free(longer);
        free(b);
    }
    size_t const flos[][2] = {{30, 40}, {64, 64}, {2, 3}};
    for (size_t i = 0; i < 3; i++) {
        size_t len = 0;
        unsigned char *const b = make_flo((int32_t)flos[i][1], (int32_t)flos[i][0], flos[i][0] * flos[i][1] * 2, &len);
        expect_read_equals_decode(b, len, sp_flo_read_flow_into, sp_flo_decode, &f, &cap, &file);
        float const bad = INFINITY;
        memcpy(b + 12 + 4 * 7, &bad, 4); /* little-endian host: the bytes of +inf */
        expect_read_equals_decode(b, len, sp_flo_read_flow_into, sp_flo_decode, &f, &cap, &file);
        expect_read_equals_decode(b, len - 1, sp_flo_read_flow_into, sp_flo_decode, &f, &cap, &file);
        b[0] = 'X';
        expect_read_equals_decode(b, len, sp_flo_read_flow_into, sp_flo_decode, &f, &cap, &file);
        free(b);
    }
    /* OS errors and the size limit name the file. */
    char path[600];
    tmp_path(path, sizeof path, "no_such_flow.npy");
    sp_error e;
    int nf = 0;
    SP_EXPECT(sp_npy_read_flow_into(path, 1u << 20, &f, &cap, &file, &nf, &e) == SP_ERR_NOTFOUND);
    SP_ASSERT_STR_CONTAINS(e.message, "no_such_flow.npy");
    size_t len = 0;
    unsigned char *const b = flow_npy(40, 50, 2, "<f4", 0, 0, &len);
    tmp_path(path, sizeof path, "limit.npy");
    sp_test_write_file(path, b, len);
    free(b);
    SP_EXPECT(sp_npy_read_flow_into(path, 1000, &f, &cap, &file, &nf, &e) == SP_ERR_RANGE);
    SP_ASSERT_STR_CONTAINS(e.message, "limit.npy");
    sp_flow_release(&f);
    sp_membuf_free(&file);
}

static void png_mem_read(png_structp png, png_bytep out, size_t n)
{
    png_src *const s = (png_src *)png_get_io_ptr(png);
    if (n > s->n - s->pos) png_error(png, "read past end");
    memcpy(out, s->p + s->pos, n);
    s->pos += n;
}

/* Decodes a gray PNG with libpng; returns raw rows (16-bit: big-endian bytes), or NULL. */
static unsigned char *png_decode(const unsigned char *data, size_t n, png_uint_32 *w, png_uint_32 *h,
                                 int *depth, int *color)
{
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    png_src src = {data, n, 0};
    unsigned char *volatile out = NULL;
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(out);
        return NULL;
    }
    png_set_read_fn(png, &src, png_mem_read);
    png_read_info(png, info);
    *w = png_get_image_width(png, info);
    *h = png_get_image_height(png, info);
    *depth = png_get_bit_depth(png, info);
    *color = png_get_color_type(png, info);
    size_t const rb = png_get_rowbytes(png, info);
    out = (unsigned char *)malloc(rb * *h);
    for (png_uint_32 y = 0; y < *h; y++) png_read_row(png, out + y * rb, NULL);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    return out;
}

SP_TEST(io_png_8bit_pixel_exact)
{
    size_t const w = 37, h = 23, stride = 40;
    uint8_t img[23 * 40];
    for (size_t i = 0; i < sizeof img; i++) img[i] = (uint8_t)(i * 31 + 7);
    static const int levels[] = {-1, 0, 1, 6, 9};
    for (size_t l = 0; l < ARRAY_LEN(levels); l++) {
        sp_membuf mb = {0};
        sp_sink const sink = sp_sink_membuf(&mb);
        SP_ASSERT_OK(sp_png_write_gray(&sink, w, h, 8, img, stride, levels[l], NULL));
        SP_EXPECT(mb.size > 8 && memcmp(mb.data, "\x89PNG\r\n\x1a\n", 8) == 0);
        png_uint_32 rw = 0, rh = 0;
        int depth = 0, color = -1;
        unsigned char *const px = png_decode(mb.data, mb.size, &rw, &rh, &depth, &color);
        SP_EXPECT(px != NULL && rw == w && rh == h && depth == 8 && color == PNG_COLOR_TYPE_GRAY);
        for (size_t y = 0; y < h; y++) SP_EXPECT(memcmp(px + y * w, img + y * stride, w) == 0);
        free(px);
        sp_membuf_free(&mb);
    }
}

SP_TEST(io_png_16bit_pixel_exact_big_endian)
{
    size_t const w = 19, h = 11;
    uint16_t img[11 * 19];
    for (size_t i = 0; i < ARRAY_LEN(img); i++) img[i] = (uint16_t)(i * 2654435761u >> 7);
    img[0] = 0x1234;
    sp_membuf mb = {0};
    sp_sink const sink = sp_sink_membuf(&mb);
    SP_ASSERT_OK(sp_png_write_gray(&sink, w, h, 16, img, w * 2, -1, NULL));
    png_uint_32 rw = 0, rh = 0;
    int depth = 0, color = -1;
    unsigned char *const px = png_decode(mb.data, mb.size, &rw, &rh, &depth, &color);
    SP_EXPECT(px != NULL && rw == w && rh == h && depth == 16 && color == PNG_COLOR_TYPE_GRAY);
    SP_EXPECT(px[0] == 0x12 && px[1] == 0x34);
    for (size_t i = 0; i < w * h; i++)
        SP_ASSERT_EQ_INT((px[2 * i] << 8) | px[2 * i + 1], img[i]);
    free(px);
    sp_membuf_free(&mb);
}

static uint32_t be32_at(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Walks the chunks as the PNG specification lays them out (length, type, data, CRC-32 of
 * type and data, checked with zlib's crc32), concatenates the IDAT data and inflates it with
 * zlib: the filtered rows must be a 0 byte and the row's big-endian samples. */
static void check_png_structure(const unsigned char *d, size_t n, size_t w, size_t h, int depth,
                                const unsigned char *rows_be)
{
    SP_EXPECT(n >= 8 + 25 + 12 && memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0);
    size_t pos = 8, idat_n = 0;
    unsigned char *idat = (unsigned char *)malloc(n);
    int seen_end = 0, nchunk = 0;
    while (pos + 12 <= n && !seen_end) {
        uint32_t const len = be32_at(d + pos);
        SP_EXPECT(pos + 12 + len <= n);
        uint32_t const crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), d + pos + 4, 4 + len);
        SP_EXPECT_MSG(crc == be32_at(d + pos + 8 + len), "chunk %d: CRC mismatch", nchunk);
        if (nchunk == 0) {
            SP_EXPECT(memcmp(d + pos + 4, "IHDR", 4) == 0 && len == 13);
            SP_EXPECT(be32_at(d + pos + 8) == w && be32_at(d + pos + 12) == h);
            SP_EXPECT(d[pos + 16] == depth && d[pos + 17] == 0 && d[pos + 18] == 0 && d[pos + 19] == 0 &&
                      d[pos + 20] == 0);
        } else if (memcmp(d + pos + 4, "IDAT", 4) == 0) {
            memcpy(idat + idat_n, d + pos + 8, len);
            idat_n += len;
        } else {
            SP_EXPECT(memcmp(d + pos + 4, "IEND", 4) == 0 && len == 0);
            seen_end = 1;
        }
        pos += 12 + len;
        nchunk++;
    }
    SP_EXPECT(seen_end && pos == n);
    size_t const rb = w * (size_t)(depth / 8) + 1;
    uLongf out_n = (uLongf)(rb * h);
    unsigned char *const raw = (unsigned char *)malloc(out_n);
    SP_ASSERT_EQ_INT(uncompress(raw, &out_n, idat, (uLong)idat_n), Z_OK);
    SP_ASSERT_EQ_INT(out_n, rb * h);
    for (size_t y = 0; y < h; y++) {
        SP_EXPECT(raw[y * rb] == 0);
        SP_EXPECT(memcmp(raw + y * rb + 1, rows_be + y * (rb - 1), rb - 1) == 0);
    }
    free(raw);
    free(idat);
}

SP_TEST(io_png_chunks_crcs_and_zlib_stream_follow_the_format)
{
    /* One encoder reused across sizes and depths writes what a fresh one-shot call writes,
     * and every file has valid chunks, CRCs and a zlib stream of filter-None rows. */
    sp_png_encoder *enc = NULL;
    SP_ASSERT_OK(sp_png_encoder_create(&enc, -1, NULL));
    static const size_t dims[][2] = {{1, 1}, {300, 7}, {64, 64}, {3, 200}, {513, 129}};
    for (int depth = 8; depth <= 16; depth += 8)
        for (size_t d = 0; d < ARRAY_LEN(dims); d++) {
            size_t const w = dims[d][0], h = dims[d][1], bps = (size_t)depth / 8;
            unsigned char *const px = (unsigned char *)malloc(w * h * bps);
            unsigned char *const be = (unsigned char *)malloc(w * h * bps);
            uint32_t st = (uint32_t)(d * 77 + (size_t)depth);
            for (size_t i = 0; i < w * h; i++) {
                st = st * 1664525u + 1013904223u;
                uint16_t const v = (uint16_t)((st >> 20) % 7 == 0 ? st >> 16 : 0); /* sparse, like particles */
                if (bps == 1) {
                    px[i] = be[i] = (unsigned char)v;
                } else {
                    memcpy(px + 2 * i, &v, 2);
                    be[2 * i] = (unsigned char)(v >> 8), be[2 * i + 1] = (unsigned char)v;
                }
            }
            sp_membuf a = {0}, b = {0};
            sp_sink const sa = sp_sink_membuf(&a), sb = sp_sink_membuf(&b);
            SP_ASSERT_OK(sp_png_encode_gray(enc, &sa, w, h, depth, px, w * bps, NULL));
            SP_ASSERT_OK(sp_png_write_gray(&sb, w, h, depth, px, w * bps, -1, NULL));
            SP_EXPECT_MSG(a.size == b.size && memcmp(a.data, b.data, a.size) == 0, "%zux%zu/%d: reuse changed bytes",
                          w, h, depth);
            check_png_structure(a.data, a.size, w, h, depth, be);
            sp_membuf_free(&a);
            sp_membuf_free(&b);
            free(px);
            free(be);
        }
    sp_png_encoder_free(enc);
    sp_error e;
    SP_ASSERT_STATUS(sp_png_encoder_create(&enc, 13, &e), SP_ERR_INVALID);
    SP_ASSERT_STR_CONTAINS(e.message, "13");
}

SP_TEST(io_png_pillow_reads_the_pixels)
{
    /* A third reader: Pillow decodes 8- and 16-bit files to the values that were written
     * (Python computes them itself from the same formula). */
    if (!sp_test_have_python("numpy PIL")) sp_test_skip("/usr/bin/python3 lacks numpy or PIL (python3-pil)");
    size_t const w = 131, h = 47;
    static uint8_t p8[47 * 131];
    static uint16_t p16[47 * 131];
    for (size_t i = 0; i < w * h; i++) {
        p8[i] = (uint8_t)((i * 37) % 251);
        p16[i] = (uint16_t)((i * 2617) % 65521);
    }
    char path[2][512];
    for (int k = 0; k < 2; k++) {
        snprintf(path[k], sizeof path[k], "%s/pil%d.png", sp_test_tmpdir(), k ? 16 : 8);
        sp_membuf mb = {0};
        sp_sink const sink = sp_sink_membuf(&mb);
        SP_ASSERT_OK(sp_png_write_gray(&sink, w, h, k ? 16 : 8, k ? (const void *)p16 : (const void *)p8,
                                       w * (k ? 2u : 1u), -1, NULL));
        FILE *const f = fopen(path[k], "wb");
        SP_EXPECT(f != NULL && fwrite(mb.data, 1, mb.size, f) == mb.size && fclose(f) == 0);
        sp_membuf_free(&mb);
    }
    char out[4096];
    int const rc = sp_test_sh(out, sizeof out,
        "/usr/bin/python3 - '%s' '%s' <<'EOF' 2>&1\n"
        "import sys, numpy as np\n"
        "from PIL import Image\n"
        "i = np.arange(131 * 47, dtype=np.int64)\n"
        "a = np.asarray(Image.open(sys.argv[1]))\n"
        "assert a.shape == (47, 131) and np.array_equal(a.ravel().astype(np.int64), (i * 37) %% 251), a\n"
        "b = np.asarray(Image.open(sys.argv[2])).astype(np.int64)\n"
        "assert b.shape == (47, 131) and np.array_equal(b.ravel(), (i * 2617) %% 65521), b\n"
        "print('pil-ok')\n"
        "EOF",
        path[0], path[1]);
    SP_EXPECT_MSG(rc == 0 && strstr(out, "pil-ok"), "Pillow: rc %d: %s", rc, out);
}

static sp_status failing_write(void *ctx, const void *data, size_t n, sp_error *err)
{
    int *const budget = (int *)ctx;
    (void)data;
    (void)n;
    if ((*budget)-- > 0) return SP_OK;
    return sp_error_set(err, SP_ERR_NOSPC, "disk.png: no space");
}

SP_TEST(io_png_and_tiff_report_sink_and_argument_errors)
{
    uint8_t img[64] = {0};
    for (int budget = 0; budget < 3; budget++) {
        int b = budget;
        sp_sink const sink = {failing_write, &b};
        sp_error e;
        SP_ASSERT_STATUS(sp_png_write_gray(&sink, 8, 8, 8, img, 8, 1, &e), SP_ERR_NOSPC);
        SP_ASSERT_STR_CONTAINS(e.message, "disk.png");
        b = 0;
        SP_ASSERT_STATUS(sp_tiff_write_gray(&sink, 8, 8, 8, img, 8, &e), SP_ERR_NOSPC);
    }
    sp_membuf mb = {0};
    sp_sink const ok = sp_sink_membuf(&mb);
    SP_ASSERT_STATUS(sp_png_write_gray(&ok, 8, 8, 12, img, 8, 1, NULL), SP_ERR_INVALID);
    SP_ASSERT_STATUS(sp_png_write_gray(&ok, 8, 8, 8, img, 7, 1, NULL), SP_ERR_INVALID);
    SP_ASSERT_STATUS(sp_png_write_gray(&ok, 0, 8, 8, img, 8, 1, NULL), SP_ERR_INVALID);
    SP_ASSERT_STATUS(sp_png_write_gray(&ok, 8, 8, 8, img, 8, 13, NULL), SP_ERR_INVALID);
    SP_ASSERT_STATUS(sp_tiff_write_gray(&ok, 8, 8, 16, img, 8, NULL), SP_ERR_INVALID);
    SP_ASSERT_EQ_INT(mb.size, 0);
    sp_membuf_free(&mb);
}

/* ---- TIFF ------------------------------------------------------------------------------- */

static void tiff_check(int depth, int deflate)
{
    size_t const w = 300, h = 257, bps = (size_t)depth / 8, stride = w * bps + 6;
    unsigned char *const img = (unsigned char *)malloc(stride * h);
    for (size_t y = 0; y < h; y++)
        for (size_t x = 0; x < w; x++) {
            uint16_t const v = (uint16_t)((x * 7 + y * 131) * (depth == 16 ? 97u : 1u));
            if (depth == 8) img[y * stride + x] = (uint8_t)v;
            else memcpy(img + y * stride + 2 * x, &v, 2);
        }
    sp_membuf mb = {0};
    sp_sink const sink = sp_sink_membuf(&mb);
    SP_ASSERT_OK(sp_tiff_write_gray_ex(&sink, w, h, depth, img, stride, deflate, NULL));
    SP_EXPECT(mb.size > 8 && memcmp(mb.data, "II*\0", 4) == 0);
    char path[600];
    tmp_path(path, sizeof path, "t.tif");
    sp_test_write_file(path, mb.data, mb.size);
    TIFF *const t = TIFFOpen(path, "r");
    SP_EXPECT(t != NULL);
    uint32_t tw = 0, th = 0;
    uint16_t tb = 0, spp = 0, comp = 0, photo = 0;
    TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &tw);
    TIFFGetField(t, TIFFTAG_IMAGELENGTH, &th);
    TIFFGetField(t, TIFFTAG_BITSPERSAMPLE, &tb);
    TIFFGetField(t, TIFFTAG_SAMPLESPERPIXEL, &spp);
    TIFFGetField(t, TIFFTAG_COMPRESSION, &comp);
    TIFFGetField(t, TIFFTAG_PHOTOMETRIC, &photo);
    SP_EXPECT(tw == w && th == h && tb == depth && spp == 1 && photo == PHOTOMETRIC_MINISBLACK);
    SP_ASSERT_EQ_INT(comp, deflate ? COMPRESSION_ADOBE_DEFLATE : COMPRESSION_NONE);
    SP_EXPECT(TIFFNumberOfStrips(t) > 1);
    unsigned char *const row = (unsigned char *)malloc((size_t)TIFFScanlineSize(t));
    for (uint32_t y = 0; y < h; y++) {
        SP_EXPECT(TIFFReadScanline(t, row, y, 0) == 1);
        SP_EXPECT_MSG(memcmp(row, img + y * stride, w * bps) == 0, "row %u differs", y);
    }
    free(row);
    TIFFClose(t);
    free(img);
    sp_membuf_free(&mb);
}

SP_TEST(io_tiff_8bit_pixel_exact)
{
    tiff_check(8, 0);
    tiff_check(8, 6);
}

SP_TEST(io_tiff_16bit_pixel_exact)
{
    tiff_check(16, 0);
    tiff_check(16, 1);
}

/* ---- quantisation ----------------------------------------------------------------------- */

SP_TEST(io_quantize_known_values)
{
    float const src[] = {-1.0f, NAN, 0.0f, 0.49f, 0.5f, 1.5f, 2.5f, 127.4f, 254.5f, 255.0f, 300.0f,
                         INFINITY, -INFINITY, 1.0f};
    uint8_t const want8[] = {0, 0, 0, 0, 1, 2, 3, 127, 255, 255, 255, 255, 0, 1};
    uint16_t const want16[] = {0, 0, 0, 126, 129, 386, 643, 32742, 65407, 65535, 65535, 65535, 0, 257};
    size_t const n = ARRAY_LEN(src);
    uint8_t q8[ARRAY_LEN(src)];
    uint16_t q16[ARRAY_LEN(src)];
    sp_quantize_u8(src, n, q8);
    sp_quantize_u16(src, n, q16);
    for (size_t i = 0; i < n; i++) {
        SP_EXPECT_MSG(q8[i] == want8[i], "u8[%zu]: got %u want %u", i, q8[i], want8[i]);
        SP_EXPECT_MSG(q16[i] == want16[i], "u16[%zu]: got %u want %u", i, q16[i], want16[i]);
    }
}

SP_TEST(io_quantize_error_at_most_half_step)
{
    size_t const n = 100003; /* odd length: exercises the vector loop tails */
    float *const src = (float *)malloc(n * sizeof(float));
    uint8_t *const q8 = (uint8_t *)malloc(n);
    uint16_t *const q16 = (uint16_t *)malloc(n * 2);
    for (size_t i = 0; i < n; i++) src[i] = (float)i * (255.0f / (float)(n - 1));
    sp_quantize_u8(src, n, q8);
    sp_quantize_u16(src, n, q16);
    for (size_t i = 0; i < n; i++) {
        double const x = (double)src[i];
        SP_EXPECT_MSG(fabs((double)q8[i] - x) <= 0.5 + 1e-6, "u8 %g -> %u", x, q8[i]);
        SP_EXPECT_MSG(fabs((double)q16[i] - x * 257.0) <= 0.5 + 0.005, "u16 %g -> %u", x, q16[i]);
        if (i) SP_EXPECT(q8[i] >= q8[i - 1] && q16[i] >= q16[i - 1]);
    }
    SP_EXPECT(q8[0] == 0 && q8[n - 1] == 255 && q16[n - 1] == 65535);
    free(src);
    free(q8);
    free(q16);
}
