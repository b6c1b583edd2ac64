/* test_matio_h5.c: .mat and .h5 flow readers against files the test writes itself:
 * scipy.io.savemat v5 (compressed and not), h5py row-major HDF5 .mat (plain and with a
 * MATLAB v7.3 header), HDF5 .mat with MATLAB_class (column-major), true MATLAB-layout v7.3
 * written by libmatio, and .h5 flows with 2 and 3 components in float32 and float64.
 *
 * Every flow is non-square and its values encode their own position,
 *     V(i, j, c) = 100 i + j + c / 4   (exact in float32),
 * so any transposition or channel swap is caught: the expected values are computed here
 * from (i, j, c), never taken from the code under test. Damaged files (truncated, wrong
 * variable name, wrong rank, NaN or infinity) must give one-line errors naming the file.
 *
 * A build may leave out libmatio or libhdf5: the cases that need one skip (never pass), and
 * one case checks that the files needing a missing library are refused by name, by the
 * library and by the synthpix command.
 */
#include "sp_test.h"

#include <unistd.h>
#if SP_HAVE_MATIO
#include <matio.h>
#endif

#include "sp/sp_api.h"
#include "sp/sp_flow.h"
#include "sp/sp_matio_h5.h"

#define FH 5 /* rows */
#define FW 7 /* columns */

static float pattern(size_t i, size_t j, size_t c)
{
    return (float)(100.0 * (double)i + (double)j + (double)c / 4.0);
}

static float image_pattern(size_t i, size_t j, int which)
{
    return (float)(10 * i + j + (size_t)which);
}

static void expect_flow(const sp_flow *f, size_t channels, const char *what)
{
    SP_EXPECT_MSG(f->height == FH && f->width == FW && f->channels == channels,
                  "%s: shape (%zu, %zu, %zu), want (%d, %d, %zu)", what, f->height, f->width, f->channels, FH, FW,
                  channels);
    for (size_t i = 0; i < FH; i++)
        for (size_t j = 0; j < FW; j++)
            for (size_t c = 0; c < channels; c++) {
                float const got = f->data[sp_flow_index(f, i, j, c)];
                SP_EXPECT_MSG(got == pattern(i, j, c), "%s: (%zu, %zu, %zu) = %g, want %g", what, i, j, c,
                              (double)got, (double)pattern(i, j, c));
            }
}

static void expect_image(const float *img, size_t h, size_t w, int which, const char *what)
{
    SP_EXPECT_MSG(h == FH && w == FW, "%s: image %zux%zu, want %dx%d", what, h, w, FH, FW);
    for (size_t i = 0; i < FH; i++)
        for (size_t j = 0; j < FW; j++)
            SP_EXPECT_MSG(img[i * FW + j] == image_pattern(i, j, which), "%s: I%d(%zu, %zu) = %g", what, which, i, j,
                          (double)img[i * FW + j]);
}

/* Writes every Python-made fixture into dir. */
static const char *const k_writer =
    "import sys, numpy as np, scipy.io, h5py\n"
    "d = sys.argv[1]; H, W = 5, 7\n"
    "i, j = np.meshgrid(np.arange(H), np.arange(W), indexing='ij')\n"
    "hwc = np.stack([100.0*i + j + c/4.0 for c in range(3)], axis=-1)\n"
    "V = hwc[..., :2]\n"
    "I0 = (10*i + j).astype(np.uint8); I1 = (10*i + j + 1).astype(np.uint16)\n"
    "scipy.io.savemat(d + '/v5_hwc_f32.mat', {'V': V.astype(np.float32), 'I0': I0, 'I1': I1})\n"
    "scipy.io.savemat(d + '/v5_hwc_f64_z.mat', {'V': V, 'I0': I0, 'I1': I1}, do_compression=True)\n"
    "scipy.io.savemat(d + '/v5_chw_f64.mat', {'V': np.moveaxis(V, -1, 0)})\n"
    "scipy.io.savemat(d + '/v5_chw_f32_z.mat', {'V': np.moveaxis(V, -1, 0).astype(np.float32)}, do_compression=True)\n"
    "scipy.io.savemat(d + '/v5_hwc3_f64.mat', {'V': hwc})\n"
    "scipy.io.savemat(d + '/v5_hwc3_f32_z.mat', {'V': hwc.astype(np.float32)}, do_compression=True)\n"
    "scipy.io.savemat(d + '/v5_noV.mat', {'U': V})\n"
    "scipy.io.savemat(d + '/v5_rank2.mat', {'V': V[..., 0]})\n"
    "scipy.io.savemat(d + '/v5_cplx.mat', {'V': V + 1j})\n"
    "bad = V.copy(); bad[2, 3, 1] = np.nan\n"
    "scipy.io.savemat(d + '/v5_nan.mat', {'V': bad})\n"
    "bad = V.astype(np.float32); bad[4, 6, 0] = np.inf\n"
    "scipy.io.savemat(d + '/v5_inf.mat', {'V': bad})\n"
    "with h5py.File(d + '/h5py_hwc_f32.mat', 'w') as f:\n"
    "    f['V'] = V.astype(np.float32); f['I0'] = I0; f['I1'] = I1\n"
    "with h5py.File(d + '/h5py_hwc3_f32.mat', 'w') as f:\n"
    "    f['V'] = hwc.astype(np.float32)\n"
    "with h5py.File(d + '/h5py_chw_f64.mat', 'w') as f:\n"
    "    f['V'] = np.moveaxis(V, -1, 0)\n"
    "with h5py.File(d + '/h5py_hdr_hwc_f64.mat', 'w', userblock_size=512) as f:\n"
    "    f['V'] = V\n"
    "hdr = b'MATLAB 7.3 MAT-file, written by h5py'.ljust(116) + bytes(8) + b'\\x00\\x02IM'\n"
    "with open(d + '/h5py_hdr_hwc_f64.mat', 'r+b') as f:\n"
    "    f.write(hdr)\n"
    "with h5py.File(d + '/h5py_hdr_chunked_z.mat', 'w', userblock_size=512) as f:\n"
    "    f.create_dataset('V', data=V.astype('>f4'), chunks=(2, 3, 2), shuffle=True, compression='gzip')\n"
    "    f.create_dataset('I0', data=I0, chunks=(2, 3), compression='gzip'); f['I1'] = I1.astype('>u2')\n"
    "with open(d + '/h5py_hdr_chunked_z.mat', 'r+b') as f:\n"
    "    f.write(hdr)\n"
    "with h5py.File(d + '/h5_matlab_class.mat', 'w') as f:\n"
    "    ds = f.create_dataset('V', data=np.ascontiguousarray(V.T)); ds.attrs['MATLAB_class'] = np.bytes_('double')\n"
    "with h5py.File(d + '/h5py_rank2.mat', 'w') as f:\n"
    "    f['V'] = V[..., 0]\n"
    "for name, arr in [('f2_f32', V.astype(np.float32)), ('f2_f64', V), ('f3_f32', hwc.astype(np.float32)),\n"
    "                  ('f3_f64', hwc)]:\n"
    "    with h5py.File(d + '/' + name + '.h5', 'w') as f:\n"
    "        f['a_flow'] = arr; f['b_other'] = np.zeros(3)\n"
    "with h5py.File(d + '/rank2.h5', 'w') as f:\n"
    "    f['flow'] = V[..., 0]\n"
    "with h5py.File(d + '/group_first.h5', 'w') as f:\n"
    "    f.create_group('a'); f['b'] = V\n"
    "with h5py.File(d + '/empty.h5', 'w') as f:\n"
    "    pass\n"
    "with h5py.File(d + '/ints.h5', 'w') as f:\n"
    "    f['flow'] = V.astype(np.int32)\n"
    "bad = V.copy(); bad[1, 5, 0] = -np.inf\n"
    "with h5py.File(d + '/inf.h5', 'w') as f:\n"
    "    f['flow'] = bad\n";

static const char *fixture_dir(void)
{
    static char dir[4096];
    if (dir[0]) return dir;
    snprintf(dir, sizeof dir, "%s/fx", sp_test_tmpdir());
    char script[4200];
    snprintf(script, sizeof script, "%s/write.py", sp_test_tmpdir());
    sp_test_write_file(script, k_writer, strlen(k_writer));
    char out[4096];
    int const rc = sp_test_sh(out, sizeof out, "mkdir -p %s && /usr/bin/python3 %s %s 2>&1", dir, script, dir);
    SP_EXPECT_MSG(rc == 0, "fixture writer failed (%d): %s", rc, out);
    return dir;
}

static int have_python(void)
{
    if (!sp_test_have_python("numpy scipy h5py")) sp_test_skip("python3 numpy/scipy/h5py not installed");
    return 1;
}

static void path_of(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", fixture_dir(), name);
}

static void read_mat_channels_ok(const char *name, int images, size_t channels)
{
    char path[4200];
    path_of(path, sizeof path, name);
    sp_flow f;
    float *i0 = NULL, *i1 = NULL;
    size_t ih = 0, iw = 0;
    sp_error e;
    sp_error_clear(&e);
    sp_status const st = sp_mat_read_flow(path, images, &f, &i0, &i1, &ih, &iw, &e);
    SP_EXPECT_MSG(st == SP_OK, "%s: %s", name, e.message);
    expect_flow(&f, channels, name);
    if (images) {
        expect_image(i0, ih, iw, 0, name);
        expect_image(i1, ih, iw, 1, name);
    }
    free(i0);
    free(i1);
    sp_flow_release(&f);
}

static void read_mat_ok(const char *name, int images)
{
    read_mat_channels_ok(name, images, 2);
}

SP_TEST(matio_h5_mat_flows_with_3_components_keep_w_as_channel_2)
{
    sp_test_need_feature("matio");
    sp_test_need_feature("hdf5");
    if (!have_python()) return;
    read_mat_channels_ok("v5_hwc3_f64.mat", 0, 3);
    read_mat_channels_ok("v5_hwc3_f32_z.mat", 0, 3);
    read_mat_channels_ok("h5py_hwc3_f32.mat", 0, 3);
}

SP_TEST(matio_h5_v5_scipy_round_trips_both_layouts_and_dtypes)
{
    sp_test_need_feature("matio");
    if (!have_python()) return;
    read_mat_ok("v5_hwc_f32.mat", 1);
    read_mat_ok("v5_hwc_f64_z.mat", 1);
    read_mat_ok("v5_chw_f64.mat", 0);
    read_mat_ok("v5_chw_f32_z.mat", 0);
}

SP_TEST(matio_h5_h5py_written_mat_is_row_major)
{
    sp_test_need_feature("hdf5"); /* HDF5-based .mat files without a MATLAB writer: libhdf5 only */
    if (!have_python()) return;
    read_mat_ok("h5py_hwc_f32.mat", 1);  /* plain HDF5, no MATLAB header */
    read_mat_ok("h5py_chw_f64.mat", 0);
    read_mat_ok("h5py_hdr_hwc_f64.mat", 0); /* v7.3 header, no MATLAB_class: still h5py's layout */
    read_mat_ok("h5py_hdr_chunked_z.mat", 1); /* the same, chunked + shuffle + deflate, big-endian */
    read_mat_ok("h5_matlab_class.mat", 0);  /* MATLAB_class: column-major, read through libhdf5 */
}

/* A true MATLAB-layout v7.3 file: libmatio writes column-major data with MATLAB_class. */
#if SP_HAVE_MATIO && SP_HAVE_HDF5
static void write_matio73(const char *path, int chw, enum matio_classes cls)
{
    mat_t *const m = Mat_CreateVer(path, NULL, MAT_FT_MAT73);
    SP_EXPECT_MSG(m != NULL, "Mat_CreateVer(%s) failed", path);
    size_t dims[3] = {FH, FW, 2};
    if (chw) dims[0] = 2, dims[1] = FH, dims[2] = FW;
    double dv[FH * FW * 2];
    float fv[FH * FW * 2];
    for (size_t i = 0; i < FH; i++)
        for (size_t j = 0; j < FW; j++)
            for (size_t c = 0; c < 2; c++) {
                /* Column-major: the first MATLAB index varies fastest. */
                size_t const idx = chw ? c + 2 * (i + FH * j) : i + FH * (j + FW * c);
                dv[idx] = (double)pattern(i, j, c);
                fv[idx] = pattern(i, j, c);
            }
    int const dbl = cls == MAT_C_DOUBLE;
    matvar_t *const v = Mat_VarCreate("V", cls, dbl ? MAT_T_DOUBLE : MAT_T_SINGLE, 3, dims,
                                      dbl ? (void *)dv : (void *)fv, 0);
    SP_EXPECT(v != NULL);
    SP_ASSERT_OK(Mat_VarWrite(m, v, MAT_COMPRESSION_NONE));
    Mat_VarFree(v);
    Mat_Close(m);
}

#endif

SP_TEST(matio_h5_matlab_v73_column_major_is_transposed_correctly)
{
    sp_test_need_feature("matio");
    sp_test_need_feature("hdf5");
#if SP_HAVE_MATIO && SP_HAVE_HDF5
    char path[4200];
    const struct {
        const char *name;
        int chw;
        enum matio_classes cls;
    } cases[] = {{"m73_hwc_f64.mat", 0, MAT_C_DOUBLE}, {"m73_hwc_f32.mat", 0, MAT_C_SINGLE},
                 {"m73_chw_f64.mat", 1, MAT_C_DOUBLE}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        snprintf(path, sizeof path, "%s/%s", sp_test_tmpdir(), cases[k].name);
        write_matio73(path, cases[k].chw, cases[k].cls);
        sp_flow f;
        sp_error e;
        sp_error_clear(&e);
        sp_status const st = sp_mat_read_flow(path, 0, &f, NULL, NULL, NULL, NULL, &e);
        SP_EXPECT_MSG(st == SP_OK, "%s: %s", cases[k].name, e.message);
        expect_flow(&f, 2, cases[k].name);
        sp_flow_release(&f);
    }
#endif
}

static void read_h5_ok(const char *name, size_t channels)
{
    char path[4200];
    path_of(path, sizeof path, name);
    sp_flow f;
    sp_error e;
    sp_error_clear(&e);
    SP_EXPECT_MSG(sp_h5_read_flow(path, &f, &e) == SP_OK, "%s: %s", name, e.message);
    expect_flow(&f, channels, name);
    sp_flow_release(&f);
    /* The in-memory (core driver) path must give the same flow. */
    size_t n = 0;
    unsigned char *const bytes = sp_test_read_file(path, &n);
    SP_EXPECT(bytes != NULL);
    SP_EXPECT_MSG(sp_h5_parse_flow(bytes, n, name, &f, &e) == SP_OK, "%s (memory): %s", name, e.message);
    expect_flow(&f, channels, name);
    sp_flow_release(&f);
    free(bytes);
}

SP_TEST(matio_h5_h5_flows_2_and_3_components_both_dtypes)
{
    sp_test_need_feature("hdf5");
    if (!have_python()) return;
    read_h5_ok("f2_f32.h5", 2);
    read_h5_ok("f2_f64.h5", 2);
    read_h5_ok("f3_f32.h5", 3);
    read_h5_ok("f3_f64.h5", 3);
}

/* The error must be one line naming the file and containing `needle`. */
static void expect_error(sp_status st, const sp_error *e, const char *path, const char *needle)
{
    SP_EXPECT_MSG(st != SP_OK, "%s: expected an error", path);
    SP_ASSERT_STR_CONTAINS(e->message, path);
    SP_ASSERT_STR_CONTAINS(e->message, needle);
    SP_EXPECT_MSG(strchr(e->message, '\n') == NULL, "multi-line error: %s", e->message);
}

static void mat_error(const char *name, int images, const char *needle)
{
    char path[4200];
    path_of(path, sizeof path, name);
    sp_flow f;
    float *i0 = NULL, *i1 = NULL;
    size_t ih, iw;
    sp_error e;
    sp_error_clear(&e);
    sp_status const st = sp_mat_read_flow(path, images, &f, &i0, &i1, &ih, &iw, &e);
    expect_error(st, &e, path, needle);
    SP_EXPECT(f.data == NULL && i0 == NULL && i1 == NULL);
}

static void h5_error(const char *name, const char *needle)
{
    char path[4200];
    path_of(path, sizeof path, name);
    sp_flow f;
    sp_error e;
    sp_error_clear(&e);
    expect_error(sp_h5_read_flow(path, &f, &e), &e, path, needle);
    SP_EXPECT(f.data == NULL);
}

/* Copies the first `keep` bytes of src to dst. */
static void truncate_copy(const char *src, const char *dst, size_t keep)
{
    char a[4200], b[4200];
    path_of(a, sizeof a, src);
    path_of(b, sizeof b, dst);
    size_t n = 0;
    unsigned char *const bytes = sp_test_read_file(a, &n);
    SP_EXPECT(bytes != NULL && keep < n);
    sp_test_write_file(b, bytes, keep);
    free(bytes);
}

SP_TEST(matio_h5_damaged_files_give_one_line_errors_naming_the_file)
{
    sp_test_need_feature("matio");
    sp_test_need_feature("hdf5");
    if (!have_python()) return;
    mat_error("v5_noV.mat", 0, "no variable V");
    mat_error("v5_rank2.mat", 0, "expected (H, W, 2)");
    mat_error("h5py_rank2.mat", 0, "expected (H, W, 2)");
    mat_error("v5_cplx.mat", 0, "not a real");
    mat_error("v5_chw_f64.mat", 1, "no variable I0");
    mat_error("v5_nan.mat", 0, "(row 2, column 3, channel 1)");
    mat_error("v5_inf.mat", 0, "(row 4, column 6, channel 0)");
    truncate_copy("v5_hwc_f32.mat", "trunc_v5.mat", 200);
    mat_error("trunc_v5.mat", 0, "truncated");
    truncate_copy("v5_hwc_f64_z.mat", "trunc_v5z.mat", 180);
    mat_error("trunc_v5z.mat", 0, "truncated");
    truncate_copy("h5py_hwc_f32.mat", "trunc_h5.mat", 700);
    mat_error("trunc_h5.mat", 0, "HDF5");
    truncate_copy("v5_hwc_f32.mat", "short.mat", 40);
    mat_error("short.mat", 0, "too short");
    mat_error("missing.mat", 0, "cannot open");
    h5_error("rank2.h5", "expected (H, W, 2) or (H, W, 3)");
    h5_error("group_first.h5", "is not a dataset");
    h5_error("empty.h5", "holds no dataset");
    h5_error("ints.h5", "float32 or float64");
    h5_error("inf.h5", "(row 1, column 5, channel 0)");
    truncate_copy("f2_f32.h5", "trunc.h5", 1000);
    h5_error("trunc.h5", "HDF5");
    h5_error("missing.h5", "HDF5");
}

/* ---- .h5 storage: what the reader decodes itself (src/matio_h5/h5_raw.c) ----------------- */

/* Writes every storage variant of the (5, 7, C) pattern flow, C in {2, 3}, as
 * <layout>_<C>_<le|be><4|8>.h5, then hostile and unsupported files built from them. The
 * hostile ones patch one field of a valid file, located by its exact bytes (asserted unique):
 * the contiguous layout message's address or size, and the v1 B-tree key (stored size) or
 * child pointer (address) of the first chunk. */
static const char *const k_storage_writer =
    "import sys, struct, numpy as np, h5py\n"
    "d = sys.argv[1]; H, W = 5, 7\n"
    "i, j = np.meshgrid(np.arange(H), np.arange(W), indexing='ij')\n"
    "hwc = np.stack([100.0*i + j + c/4.0 for c in range(3)], axis=-1)\n"
    "def compact():\n"
    "    p = h5py.h5p.create(h5py.h5p.DATASET_CREATE); p.set_layout(h5py.h5d.COMPACT); return p\n"
    "def early():  # chunks allocated at creation, no filter, libver latest: the implicit index\n"
    "    p = h5py.h5p.create(h5py.h5p.DATASET_CREATE); p.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY); return p\n"
    "layouts = {\n"
    "    'contig': ({}, {}),\n"
    "    'compact': ({}, {'dcpl': compact}),\n"
    "    'chunked': ({}, {'chunks': (2, 3, 1)}),\n"
    "    'deflate': ({}, {'chunks': (2, 3, 2), 'compression': 'gzip'}),\n"
    "    'shuf_deflate': ({}, {'chunks': (3, 4, 2), 'shuffle': True, 'compression': 'gzip', 'compression_opts': 9}),\n"
    "    'shuffle': ({}, {'chunks': (2, 7, 1), 'shuffle': True}),\n"
    "    'userblock': ({'userblock_size': 512}, {'chunks': (2, 3, 1), 'compression': 'gzip'}),\n"
    "    'latest_fixed': ({'libver': 'latest'}, {'chunks': (2, 3, 1), 'compression': 'gzip'}),\n"
    "    'latest_single': ({'libver': 'latest'}, {'chunks': (H, W, 1)}),\n"
    "    'latest_earray': ({'libver': 'latest'}, {'chunks': (2, 3, 1), 'maxshape': (None, W, None)}),\n"
    "    'latest_implicit': ({'libver': 'latest'}, {'chunks': (2, 3, 1), 'dcpl': early}),\n"
    "    'latest_btree2': ({'libver': 'latest'}, {'chunks': (2, 3, 1), 'maxshape': (None, None, None),\n"
    "                      'shuffle': True, 'compression': 'gzip'}),\n"
    "}\n"
    "for lay, (fkw, dkw) in layouts.items():\n"
    "    for C in (2, 3):\n"
    "        for dt in ('<f4', '>f4', '<f8', '>f8'):\n"
    "            name = '%s/%s_%d_%s%s.h5' % (d, lay, C, 'le' if dt[0] == '<' else 'be', dt[2])\n"
    "            kw = {k: (v() if callable(v) else v) for k, v in dkw.items()}\n"
    "            with h5py.File(name, 'w', **fkw) as f:\n"
    "                f.create_dataset('flow', data=hwc[..., :C].astype(dt), **kw)\n"
    "V = hwc[..., :2].astype('<f4')\n"
    "def patch(src, dst, old, new):\n"
    "    b = open(src, 'rb').read()\n"
    "    assert b.count(old) == 1, (src, b.count(old))\n"
    "    open(dst, 'wb').write(b.replace(old, new))\n"
    "src = d + '/contig_2_le4.h5'\n"
    "with h5py.File(src, 'r') as f:\n"
    "    off, size = f['flow'].id.get_offset(), f['flow'].id.get_storage_size()\n"
    "n = len(open(src, 'rb').read())\n"
    "patch(src, d + '/hostile_contig_addr.h5', struct.pack('<QQ', off, size), struct.pack('<QQ', n + 4096, size))\n"
    "patch(src, d + '/hostile_contig_size.h5', struct.pack('<QQ', off, size), struct.pack('<QQ', off, 1 << 20))\n"
    "src = d + '/chunked_2_le4.h5'\n"
    "with h5py.File(src, 'r') as f:\n"
    "    si = f['flow'].id.get_chunk_info(0)\n"
    "n = len(open(src, 'rb').read())\n"
    "key = struct.pack('<II4Q', si.size, 0, 0, 0, 0, 0)\n"
    "patch(src, d + '/hostile_chunk_addr.h5', key + struct.pack('<Q', si.byte_offset), key + struct.pack('<Q', n + 4096))\n"
    "patch(src, d + '/hostile_chunk_size.h5', key, struct.pack('<II4Q', 1 << 30, 0, 0, 0, 0, 0))\n"
    "for name, kw in [('fletcher32', {'fletcher32': True}), ('lzf', {'compression': 'lzf'}),\n"
    "                 ('scaleoffset', {'scaleoffset': 3})]:\n"
    "    with h5py.File('%s/filter_%s.h5' % (d, name), 'w') as f:\n"
    "        f.create_dataset('flow', data=V, chunks=(2, 3, 2), **kw)\n"
    "with h5py.File(d + '/missing_chunk.h5', 'w') as f:\n"
    "    f.create_dataset('flow', shape=V.shape, dtype='<f4', chunks=(2, 3, 2))[:2] = V[:2]\n"
    "with h5py.File(d + '/external.h5', 'w') as f:\n"
    "    f.create_dataset('flow', data=V, external=[(d + '/external.bin', 0, h5py.h5f.UNLIMITED)])\n"
    "with h5py.File(d + '/odd_float.h5', 'w') as f:\n"
    "    t = h5py.h5t.IEEE_F32LE.copy(); t.set_ebias(100)\n"
    "    h5py.h5d.create(f.id, b'flow', t, h5py.h5s.create_simple(V.shape)).write(h5py.h5s.ALL, h5py.h5s.ALL, V)\n";

static const char *storage_dir(void)
{
    static char dir[4096];
    if (dir[0]) return dir;
    if (!sp_test_have_python("numpy h5py")) sp_test_skip("python3 numpy/h5py not installed");
    snprintf(dir, sizeof dir, "%s/storage", sp_test_tmpdir());
    char script[4200], out[4096];
    snprintf(script, sizeof script, "%s/storage.py", sp_test_tmpdir());
    sp_test_write_file(script, k_storage_writer, strlen(k_storage_writer));
    int const rc = sp_test_sh(out, sizeof out, "mkdir -p %s && /usr/bin/python3 %s %s 2>&1", dir, script, dir);
    SP_EXPECT_MSG(rc == 0, "storage writer failed (%d): %s", rc, out);
    return dir;
}

/* Both readers on `path`; the in-memory one is given the path as its name, which exists
 * (libhdf5's core driver once refused such names). */
static void read_h5_path_ok(const char *path, size_t channels)
{
    sp_flow f;
    sp_error e;
    sp_error_clear(&e);
    SP_EXPECT_MSG(sp_h5_read_flow(path, &f, &e) == SP_OK, "%s", e.message);
    expect_flow(&f, channels, path);
    sp_flow_release(&f);
    size_t n = 0;
    unsigned char *const bytes = sp_test_read_file(path, &n);
    SP_EXPECT_MSG(bytes != NULL, "cannot read %s", path);
    SP_EXPECT_MSG(sp_h5_parse_flow(bytes, n, path, &f, &e) == SP_OK, "(memory) %s", e.message);
    expect_flow(&f, channels, path);
    sp_flow_release(&f);
    free(bytes);
}

/* Both readers must refuse `path` with one line naming it and containing `needle`
 * (`mem_needle` for the in-memory reader when not NULL). */
static void h5_refused2(const char *path, const char *needle, const char *mem_needle)
{
    sp_flow f;
    sp_error e;
    sp_error_clear(&e);
    expect_error(sp_h5_read_flow(path, &f, &e), &e, path, needle);
    SP_EXPECT(f.data == NULL);
    size_t n = 0;
    unsigned char *const bytes = sp_test_read_file(path, &n);
    SP_EXPECT_MSG(bytes != NULL, "cannot read %s", path);
    sp_error_clear(&e);
    expect_error(sp_h5_parse_flow(bytes, n, path, &f, &e), &e, path, mem_needle ? mem_needle : needle);
    SP_EXPECT(f.data == NULL);
    free(bytes);
}

static void h5_refused(const char *path, const char *needle)
{
    h5_refused2(path, needle, NULL);
}

SP_TEST(matio_h5_h5_storage_layouts_filters_and_byte_orders_round_trip)
{
    sp_test_need_feature("hdf5");
    const char *const dir = storage_dir();
    const char *const layouts[] = {"contig",       "compact",      "chunked",       "deflate",
                                   "shuf_deflate", "shuffle",      "userblock",     "latest_fixed",
                                   "latest_single", "latest_earray", "latest_implicit", "latest_btree2"};
    const char *const types[] = {"le4", "be4", "le8", "be8"};
    char path[4400];
    for (size_t l = 0; l < sizeof layouts / sizeof layouts[0]; l++)
        for (size_t c = 2; c <= 3; c++)
            for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
                snprintf(path, sizeof path, "%s/%s_%zu_%s.h5", dir, layouts[l], c, types[t]);
                read_h5_path_ok(path, c);
            }
}

SP_TEST(matio_h5_h5_hostile_or_unsupported_storage_is_refused_by_name)
{
    sp_test_need_feature("hdf5");
    const char *const dir = storage_dir();
    const struct {
        const char *file, *needle;
    } cases[] = {
        {"hostile_contig_addr.h5", "dataset 'flow' lies outside the file: 280 bytes at byte"},
        {"hostile_contig_size.h5", "contiguous storage of 1048576 bytes, but its shape needs 280"},
        {"hostile_chunk_addr.h5", "the chunk at (0, 0, 0) lies outside the file"},
        {"hostile_chunk_size.h5", "the chunk at (0, 0, 0) lies outside the file: 1073741824 bytes"},
        {"filter_fletcher32.h5", "uses the fletcher32 filter (id 3); supported: none, shuffle, deflate"},
        {"filter_lzf.h5", "uses the lzf filter (id 32000); supported: none, shuffle, deflate"},
        {"filter_scaleoffset.h5", "uses the scaleoffset filter (id 6)"},
        {"missing_chunk.h5", "the chunk at (2, 0, 0) is not stored"},
        {"external.h5", "keeps its data in external files"},
        {"odd_float.h5", "non-standard number layout"},
    };
    char path[4400];
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        snprintf(path, sizeof path, "%s/%s", dir, cases[k].file);
        h5_refused(path, cases[k].needle);
    }
}

/* The fuzzer-found files on which libhdf5's H5Dread read past its heap buffers (see
 * h5_raw.c), and the hostile files above as checked into the corpus: each is refused with
 * one line naming it, before any data is read. fuzz_h5_in_process_replay runs the whole
 * corpus in-process, where ASan sees any read outside a buffer. */
SP_TEST(matio_h5_h5_fuzzer_found_out_of_bounds_files_are_refused)
{
    sp_test_need_feature("hdf5");
    /* crash_m00841 read out of bounds only from memory: libhdf5's file driver (sec2)
     * already refuses to open it, where the in-memory (core) driver does not. */
    const struct {
        const char *file, *needle, *mem_needle;
    } cases[] = {
        {"crash_m00176.h5", "the chunk at (0, 0, 0) holds 28 bytes, which cannot be a chunk of 96", NULL},
        {"crash_m00895.h5", "the chunk at (0, 0, 0) holds 28 bytes, which cannot be a chunk of 96", NULL},
        {"crash_m00387.h5", "the chunk at (0, 0, 0) holds 32 bytes, which cannot be a chunk of 16416", NULL},
        {"crash_m00841.h5", "not a readable HDF5 file", "compact storage of 0 bytes, but its shape needs 96"},
        {"hostile_contig_addr.h5", "lies outside the file", NULL},
        {"hostile_contig_size.h5", "contiguous storage of 1048576 bytes", NULL},
        {"hostile_chunk_addr.h5", "lies outside the file", NULL},
        {"hostile_chunk_size.h5", "lies outside the file", NULL},
        {"bad_missing_chunk.h5", "is not stored", NULL},
        {"bad_filter_lzf.h5", "uses the lzf filter", NULL},
    };
    char path[4400];
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        snprintf(path, sizeof path, "%s/tests/corpus/h5/%s", sp_test_source_dir(), cases[k].file);
        h5_refused2(path, cases[k].needle, cases[k].mem_needle);
    }
}

SP_TEST(matio_h5_damaged_v73_matio_file_is_an_error)
{
    sp_test_need_feature("matio");
    sp_test_need_feature("hdf5");
#if SP_HAVE_MATIO && SP_HAVE_HDF5
    char path[4200], cut[4200];
    snprintf(path, sizeof path, "%s/m73.mat", sp_test_tmpdir());
    snprintf(cut, sizeof cut, "%s/m73_cut.mat", sp_test_tmpdir());
    write_matio73(path, 0, MAT_C_DOUBLE);
    size_t n = 0;
    unsigned char *const bytes = sp_test_read_file(path, &n);
    SP_EXPECT(bytes != NULL && n > 1024);
    size_t const keeps[] = {100, 515, 600, 1024, n / 2, n - 100};
    for (size_t k = 0; k < sizeof keeps / sizeof keeps[0]; k++) {
        sp_test_write_file(cut, bytes, keeps[k]);
        sp_flow f;
        sp_error e;
        sp_error_clear(&e);
        sp_status const st = sp_mat_read_flow(cut, 0, &f, NULL, NULL, NULL, NULL, &e);
        expect_error(st, &e, cut, "");
    }
    free(bytes);
#endif
}

/* ---- HDF5 dataset shards ------------------------------------------------------------------ */

SP_TEST(matio_h5_dataset_abort_leaves_nothing_and_close_renames)
{
    sp_test_need_feature("hdf5");
    char dir[4200], path[4300], out[4096];
    snprintf(dir, sizeof dir, "%s/shards", sp_test_tmpdir());
    SP_EXPECT(sp_test_sh(NULL, 0, "mkdir -p %s", dir) == 0);
    snprintf(path, sizeof path, "%s/s.h5", dir);
    float img[6] = {0, 1, 2, 3, 4, 255}, flow[8] = {0};
    sp_h5_pair_meta m;
    memset(&m, 0, sizeof m);
    m.source = "x";
    sp_error e;
    sp_h5_dataset *d = NULL;
    SP_ASSERT_OK(sp_h5_dataset_create(&d, NULL, path, NULL, 2, 3, 2, 2, 8, "a: 1\n", &e));
    SP_ASSERT_OK(sp_h5_dataset_append_pair(d, img, img, flow, &m, &e));
    sp_h5_dataset_abort(d);
    SP_EXPECT(sp_test_sh(out, sizeof out, "ls -A %s | wc -l", dir) == 0);
    SP_EXPECT_MSG(atoi(out) == 0, "abort left %s files", out);
    SP_ASSERT_OK(sp_h5_dataset_create(&d, NULL, path, NULL, 2, 3, 2, 2, 16, "a: 1\n", &e));
    SP_ASSERT_OK(sp_h5_dataset_append_pair(d, img, img, flow, &m, &e));
    SP_ASSERT_EQ_INT(sp_h5_dataset_pairs(d), 1);
    SP_ASSERT_OK(sp_h5_dataset_close(d, &e));
    SP_EXPECT(sp_test_sh(out, sizeof out, "ls -A %s", dir) == 0);
    SP_EXPECT_MSG(strcmp(out, "s.h5\n") == 0, "directory holds: %s", out);
    SP_ASSERT_STATUS(sp_h5_dataset_create(&d, NULL, path, NULL, 2, 3, 2, 2, 12, "", &e), SP_ERR_INVALID);
}

/* Compares every shard with the same stream written as .npy (float32) files: images are
 * quantised here in NumPy (round half up after clipping, 257x for 16 bits), flows must be
 * equal, params must match params.jsonl, and the configuration attribute dataset.json's. */
static const char *const k_h5_check =
    "import sys, json, glob, os, numpy as np, h5py\n"
    "h5dir, npydir, bits, n, shard = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])\n"
    "shards = sorted(glob.glob(h5dir + '/shard_*.h5'))\n"
    "assert len(shards) == (n + shard - 1) // shard, shards\n"
    "assert not [f for f in os.listdir(h5dir) if 'tmp' in f], os.listdir(h5dir)\n"
    "lines = [json.loads(l) for l in open(h5dir + '/params.jsonl')]\n"
    "meta = json.load(open(h5dir + '/dataset.json'))\n"
    "want = {8: np.uint8, 16: np.uint16, 32: np.float32}[bits]\n"
    "def q(x):\n"
    "    c = np.clip(x, 0, 255).astype(np.float32)\n"
    "    if bits == 8: return (c + np.float32(0.5)).astype(np.uint8)\n"
    "    if bits == 16: return (c * np.float32(257) + np.float32(0.5)).astype(np.uint16)\n"
    "    return x\n"
    "seen = 0\n"
    "for s, path in enumerate(shards):\n"
    "    assert path.endswith('shard_%05d.h5' % s), path\n"
    "    f = h5py.File(path, 'r')\n"
    "    m = min(shard, n - s * shard)\n"
    "    H, W = meta['image_shape']; Ho, Wo, _ = meta['flow_shape']\n"
    "    for key in ('images1', 'images2'):\n"
    "        assert f[key].shape == (m, H, W) and f[key].dtype == want, (key, f[key].shape, f[key].dtype)\n"
    "        assert f[key].chunks == (1, H, W), f[key].chunks\n"
    "    assert f['flow_fields'].shape == (m, Ho, Wo, 2) and f['flow_fields'].dtype == np.float32\n"
    "    assert f['flow_fields'].chunks == (1, Ho, Wo, 2)\n"
    "    assert f['params'].shape == (m,)\n"
    "    cfg = f.attrs['configuration']\n"
    "    cfg = cfg.decode() if isinstance(cfg, bytes) else cfg\n"
    "    assert cfg == meta['configuration'], 'configuration attribute differs'\n"
    "    for k in range(m):\n"
    "        i = s * shard + k\n"
    "        for key, npy in (('images1', 'img1'), ('images2', 'img2')):\n"
    "            ref = np.load(npydir + '/pair_%06d_%s.npy' % (i, npy))\n"
    "            assert np.array_equal(f[key][k], q(ref)), (path, key, k)\n"
    "        assert np.array_equal(f['flow_fields'][k], np.load(npydir + '/pair_%06d_flow.npy' % i)), (path, k)\n"
    "        p, l = f['params'][k], lines[i]\n"
    "        assert int(p['index']) == l['index'] == i and int(p['record_seed']) == l['record_seed']\n"
    "        assert [int(x) for x in p['key']] == l['key'] and int(p['particles']) == l['particles']\n"
    "        assert np.float32(p['seeding_density']) == np.float32(l['seeding_density'])\n"
    "        assert int(p['epoch']) == l['epoch'] and int(p['record']) == l['record']\n"
    "        src = p['source']; src = src.decode() if isinstance(src, bytes) else src\n"
    "        assert src == l['source'], (src, l['source'])\n"
    "        seen += 1\n"
    "assert seen == n == len(lines) == meta['pairs'], (seen, n, len(lines))\n"
    "print('OK')\n";

SP_TEST(matio_h5_generate_h5_reads_back_in_python)
{
    sp_test_need_feature("hdf5");
    if (!sp_test_have_python("numpy h5py")) sp_test_skip("python3 numpy/h5py not installed");
    const char *const tmp = sp_test_tmpdir();
    char script[4200], out[8192];
    snprintf(script, sizeof script, "%s/check.py", tmp);
    sp_test_write_file(script, k_h5_check, strlen(k_h5_check));
    int rc = sp_test_sh(out, sizeof out, "%s generate -q -n 5 --format npy -o %s/npy 2>&1", sp_test_cli(), tmp);
    SP_EXPECT_MSG(rc == 0, "generate npy: %s", out);
    int const bits[] = {8, 16, 32};
    for (size_t k = 0; k < 3; k++) {
        rc = sp_test_sh(out, sizeof out,
                        "%s generate -q -n 5 --format h5 --shard-size 2 --bit-depth %d -o %s/h5_%d 2>&1",
                        sp_test_cli(), bits[k], tmp, bits[k]);
        SP_EXPECT_MSG(rc == 0, "generate h5 (%d bits): %s", bits[k], out);
        rc = sp_test_sh(out, sizeof out, "/usr/bin/python3 %s %s/h5_%d %s/npy %d 5 2 2>&1", script, tmp, bits[k], tmp,
                        bits[k]);
        SP_EXPECT_MSG(rc == 0 && strstr(out, "OK") != NULL, "h5py read-back (%d bits) failed: %s", bits[k], out);
    }
    rc = sp_test_sh(out, sizeof out, "%s generate -q -n 2 --bit-depth 32 -o %s/bad 2>&1", sp_test_cli(), tmp);
    SP_EXPECT_MSG(rc == 2 && strstr(out, "needs --format h5") != NULL, "--bit-depth 32 with png: %d %s", rc, out);
}

/* Every prefix of a valid file is either an error naming the file or, when only padding was
 * cut, the complete flow: never a silently short variable. */
SP_TEST(matio_h5_every_truncation_is_an_error_or_the_whole_flow)
{
    sp_test_need_feature("matio");
    sp_test_need_feature("hdf5");
    if (!have_python()) return;
    const char *const names[] = {"v5_hwc_f32.mat", "v5_hwc_f64_z.mat", "v5_chw_f32_z.mat", "h5py_hwc_f32.mat"};
    char src[4200], cut[4200];
    snprintf(cut, sizeof cut, "%s/cut.mat", sp_test_tmpdir());
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        path_of(src, sizeof src, names[k]);
        size_t n = 0;
        unsigned char *const bytes = sp_test_read_file(src, &n);
        SP_EXPECT(bytes != NULL);
        size_t const step = n > 4000 ? 97 : 5; /* about 150 reads per file */
        for (size_t keep = 0; keep < n; keep += step) {
            sp_test_write_file(cut, bytes, keep);
            sp_flow f;
            float *i0 = NULL, *i1 = NULL;
            size_t ih = 0, iw = 0;
            sp_error e;
            sp_error_clear(&e);
            int const images = k < 2;
            if (sp_mat_read_flow(cut, images, &f, &i0, &i1, &ih, &iw, &e) == SP_OK) {
                expect_flow(&f, 2, names[k]);
                if (images) expect_image(i0, ih, iw, 0, names[k]);
                sp_flow_release(&f);
                free(i0);
                free(i1);
            } else {
                SP_ASSERT_STR_CONTAINS(e.message, cut);
                SP_EXPECT_MSG(strchr(e.message, '\n') == NULL, "multi-line error: %s", e.message);
            }
        }
        free(bytes);
    }
}

SP_TEST(matio_h5_matlab_v4_files_are_refused_by_name)
{
    sp_test_need_feature("matio");
    if (!have_python()) return;
    char path[4200], out[4096];
    snprintf(path, sizeof path, "%s/v4.mat", sp_test_tmpdir());
    SP_EXPECT(sp_test_sh(out, sizeof out, "/usr/bin/python3 -c \"import numpy as np, scipy.io; "
                         "scipy.io.savemat('%s', {'V': np.ones((3, 4))}, format='4')\" 2>&1", path) == 0);
    sp_flow f;
    sp_error e;
    sp_error_clear(&e);
    expect_error(sp_mat_read_flow(path, 0, &f, NULL, NULL, NULL, NULL, &e), &e, path, "v4");
}

/* ---- a build without libmatio or libhdf5 -------------------------------------------------- */

/* The library's error for `path` must be SP_ERR_UNSUPPORTED, one line naming the file and
 * saying "built without <lib>". */
static void expect_unsupported(sp_status st, const sp_error *e, const char *path, const char *lib)
{
    char needle[64];
    snprintf(needle, sizeof needle, "synthpix was built without %s", lib);
    SP_ASSERT_STATUS(st, SP_ERR_UNSUPPORTED);
    expect_error(st, e, path, needle);
}

/* The command on a configuration reading `dir` as `kind` (".mat" or ".h5"): exit 1 or 2 with
 * the library's message, and no pair written. */
static void expect_cli_refuses(const char *kind, const char *dir, const char *file, const char *lib)
{
    const char *const tmp = sp_test_tmpdir();
    char cfg[4200], out[8192], needle[64];
    snprintf(cfg, sizeof cfg, "%s/%s.yaml", tmp, kind + 1);
    char yaml[8192];
    int const len = snprintf(yaml, sizeof yaml,
                             "scheduler_class: \"%s\"\nfile_list: [\"%s\"]\nbatch_size: 2\nflow_fields_per_batch: 2\n"
                             "batches_per_flow_batch: 1\nimage_shape: [32, 32]\nresolution: 1\n"
                             "flow_field_size: [256, 256]\nvelocities_per_pixel: 1\nmin_speed_x: -1\nmax_speed_x: 1\n"
                             "min_speed_y: -1\nmax_speed_y: 1\n"
                             "output_units: \"pixels\"\n",
                             kind, dir);
    SP_EXPECT(len > 0 && (size_t)len < sizeof yaml);
    sp_test_write_file(cfg, yaml, (size_t)len);
    int const rc = sp_test_sh(out, sizeof out, "%s generate -q -n 2 -c %s -o %s/out_%s 2>&1", sp_test_cli(), cfg, tmp,
                              kind + 1);
    snprintf(needle, sizeof needle, "synthpix was built without %s", lib);
    SP_EXPECT_MSG(rc == 1 || rc == 2, "generate on %s files: exit %d, want 1 or 2: %s", kind, rc, out);
    SP_ASSERT_STR_CONTAINS(out, needle);
    SP_ASSERT_STR_CONTAINS(out, file);
    SP_EXPECT_MSG(sp_test_sh(NULL, 0, "ls %s/out_%s/pair_* >/dev/null 2>&1", tmp, kind + 1) != 0,
                  "generate on %s files wrote pairs", kind);
}

/* HDF5's 8-byte signature and some padding: what classifies a .mat as HDF5-based. Nothing
 * reads past the signature in a build without libhdf5. */
static void write_hdf5_lookalike(const char *path)
{
    unsigned char bytes[1024] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    sp_test_write_file(path, bytes, sizeof bytes);
}

SP_TEST(matio_h5_files_needing_a_missing_library_are_refused_by_name)
{
    if (sp_have_feature("matio") && sp_have_feature("hdf5"))
        sp_test_skip("built with libmatio and libhdf5: nothing to refuse");
    SP_ASSERT_EQ_INT(sp_have_feature("matio"), SP_HAVE_MATIO);
    SP_ASSERT_EQ_INT(sp_have_feature("hdf5"), SP_HAVE_HDF5);
    const char *const tmp = sp_test_tmpdir();
    char dir[4200], path[4300], out[8192];
    sp_flow f;
    float *i0 = NULL, *i1 = NULL;
    size_t ih = 9, iw = 9;
    sp_error e;
    if (!SP_HAVE_MATIO) {
        /* With libhdf5 only a real v5 file reaches the libmatio step; without either library
         * every .mat is refused before it is opened. */
        snprintf(dir, sizeof dir, "%s/mat", tmp);
        snprintf(path, sizeof path, "%s/flow.mat", dir);
        SP_EXPECT(sp_test_sh(NULL, 0, "mkdir -p %s", dir) == 0);
        if (SP_HAVE_HDF5) {
            if (!sp_test_have_python("numpy scipy")) sp_test_skip("python3 numpy/scipy not installed");
            SP_EXPECT(sp_test_sh(out, sizeof out, "/usr/bin/python3 -c \"import numpy as np, scipy.io; "
                                 "scipy.io.savemat('%s', {'V': np.ones((4, 5, 2))})\" 2>&1", path) == 0);
        } else {
            sp_test_write_file(path, "not read", 8);
        }
        sp_error_clear(&e);
        expect_unsupported(sp_mat_read_flow(path, 1, &f, &i0, &i1, &ih, &iw, &e), &e, path, "libmatio");
        SP_EXPECT(f.data == NULL && i0 == NULL && i1 == NULL);
        expect_cli_refuses(".mat", dir, "flow.mat", "libmatio");
    }
    if (!SP_HAVE_HDF5) {
        snprintf(dir, sizeof dir, "%s/h5", tmp);
        snprintf(path, sizeof path, "%s/flow.h5", dir);
        SP_EXPECT(sp_test_sh(NULL, 0, "mkdir -p %s", dir) == 0);
        write_hdf5_lookalike(path);
        sp_error_clear(&e);
        expect_unsupported(sp_h5_read_flow(path, &f, &e), &e, path, "libhdf5");
        SP_EXPECT(f.data == NULL);
        expect_unsupported(sp_h5_parse_flow("x", 1, "mem.h5", &f, &e), &e, "mem.h5", "libhdf5");
        expect_cli_refuses(".h5", dir, "flow.h5", "libhdf5");
        /* An HDF5-based .mat (v7.3 or h5py) needs libhdf5 even with libmatio. */
        snprintf(path, sizeof path, "%s/v73.mat", dir);
        write_hdf5_lookalike(path);
        expect_unsupported(sp_mat_read_flow(path, 0, &f, NULL, NULL, NULL, NULL, &e), &e, path,
                           SP_HAVE_MATIO ? "libhdf5" : "libmatio");
        /* The shard writer: refused by name, nothing created. */
        char shard[4300];
        snprintf(shard, sizeof shard, "%s/shard.h5", tmp);
        sp_h5_dataset *d = (sp_h5_dataset *)(uintptr_t)1; /* a sentinel the call must reset to NULL */
        expect_unsupported(sp_h5_dataset_create(&d, NULL, shard, NULL, 2, 3, 2, 3, 8, "", &e), &e, shard, "libhdf5");
        SP_EXPECT(d == NULL);
        sp_h5_dataset_abort(NULL);
        SP_EXPECT(sp_test_sh(NULL, 0, "ls %s/shard.h5* >/dev/null 2>&1", tmp) != 0);
        int const rc = sp_test_sh(out, sizeof out, "%s generate -q -n 2 --format h5 -o %s/out_shards 2>&1",
                                  sp_test_cli(), tmp);
        SP_EXPECT_MSG(rc == 1 || rc == 2, "generate --format h5: exit %d, want 1 or 2: %s", rc, out);
        SP_ASSERT_STR_CONTAINS(out, "synthpix was built without libhdf5");
        SP_EXPECT(sp_test_sh(NULL, 0, "ls %s/out_shards/*.h5* >/dev/null 2>&1", tmp) != 0);
    }
}
