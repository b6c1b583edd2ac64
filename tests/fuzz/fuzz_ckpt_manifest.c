/* fuzz_ckpt_manifest.c: every parser of checkpoint metadata, fed hostile bytes.
 *
 * The first byte selects the parser (byte % 6), the rest is the document:
 *   0 _MANIFEST            parse; when accepted, dump and re-parse: same files, sizes, CRCs
 *   1 _TREE_METADATA       parse; when accepted, dump and re-parse: same leaves
 *   2 .zarray              parse; when accepted, dump and re-parse: same fields
 *   3 _CHECKPOINT_METADATA parse (step 12)
 *   4 _ROOT_METADATA       parse
 *   5 step directory name  parse with prefix "step" and padding 4
 * A crash, a sanitizer report or a failed round trip (abort) is a finding. Inputs are
 * limited to 1 MiB so a harness run stays fast.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_ckpt_manifest: round trip failed: %s\n", what);
        abort();
    }
}

static void fuzz_manifest(const char *text, size_t n)
{
    sp__manifest a, b;
    sp_error e;
    if (sp__manifest_parse(text, n, &a, &e) != SP_OK) return;
    size_t len = 0;
    char *const again = sp__manifest_dump(&a, &len);
    check(again != NULL, "manifest dump");
    check(sp__manifest_parse(again, len, &b, &e) == SP_OK, "manifest re-parse");
    check(a.n_files == b.n_files && a.step == b.step && a.n_metrics == b.n_metrics, "manifest fields");
    for (size_t i = 0; i < a.n_files; i++)
        check(strcmp(a.files[i].path, b.files[i].path) == 0 && a.files[i].size == b.files[i].size &&
                  a.files[i].crc == b.files[i].crc, "manifest file entry");
    free(again);
    sp__manifest_free(&a);
    sp__manifest_free(&b);
}

static void fuzz_tree(const char *text, size_t n)
{
    sp_tree *a = NULL, *b = NULL;
    sp_error e;
    if (sp__treemeta_parse(text, n, &a, &e) != SP_OK) return;
    size_t len = 0;
    char *const again = sp__treemeta_dump(a, &len);
    check(again != NULL, "tree dump");
    check(sp__treemeta_parse(again, len, &b, &e) == SP_OK, "tree re-parse");
    check(sp_tree_count(a) == sp_tree_count(b), "tree leaf count");
    for (size_t i = 0; i < sp_tree_count(a); i++) {
        sp_leaf_view x, y;
        check(sp_tree_at(a, i, &x) == SP_OK && sp_tree_at(b, i, &y) == SP_OK, "tree at");
        check(strcmp(x.path, y.path) == 0 && x.kind == y.kind && x.ndim == y.ndim, "tree leaf");
    }
    free(again);
    sp_tree_free(a);
    sp_tree_free(b);
}

static void fuzz_zarray(const char *text, size_t n)
{
    sp__zarray a, b;
    sp_error e;
    if (sp__zarray_parse(text, n, &a, &e) != SP_OK) return;
    char *const again = sp__zarray_dump(&a);
    check(again != NULL, "zarray dump");
    check(sp__zarray_parse(again, strlen(again), &b, &e) == SP_OK, "zarray re-parse");
    check(a.dtype == b.dtype && a.ndim == b.ndim && a.level == b.level, "zarray fields");
    for (size_t d = 0; d < a.ndim; d++) check(a.shape[d] == b.shape[d] && a.chunks[d] == b.chunks[d], "zarray dims");
    (void)sp__zarr_nchunks(&a);
    (void)sp__zarr_chunk_bytes(&a);
    free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > ((size_t)1 << 20)) return 0;
    char *const text = (char *)malloc(size); /* NUL-terminated copy of the document */
    if (text == NULL) return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = 0;
    size_t const n = size - 1;
    sp_error e;
    char prefix[80];
    int len = 0;
    int64_t step = 0;
    switch (data[0] % 6) {
    case 0: fuzz_manifest(text, n); break;
    case 1: fuzz_tree(text, n); break;
    case 2: fuzz_zarray(text, n); break;
    case 3: (void)sp__stepmeta_parse(text, n, 12, &e); break;
    case 4: (void)sp__rootmeta_parse(text, n, prefix, sizeof prefix, &len, &e); break;
    default: (void)sp__ckpt_parse_step_name(text, "step", 4, &step); break;
    }
    free(text);
    return 0;
}
