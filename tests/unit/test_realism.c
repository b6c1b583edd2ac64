/* test_realism.c: the light sheet, out-of-plane motion, K-frame samples and the kinematic
 * scale mode (docs/realism.md).
 *
 * Map:
 *   stream_unchanged_*   with none of the new keys the stream is the one synthpix wrote
 *                        before they existed: FNV-1a 64 hashes of whole batches (images,
 *                        flows, the per-pair counts), recorded from that earlier build.
 */
#include "sp_test.h"
#include "test_fixtures.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "sp/sp_config.h"
#include "sp/sp_sampler.h"

/* ---- helpers ------------------------------------------------------------------------- */

static sp_sampler *make_sampler(const sp_config *c, unsigned threads)
{
    sp_sampler_options o;
    sp_sampler_options_init(&o);
    o.threads = threads;
    sp_sampler *s = NULL;
    sp_error e;
    sp_error_clear(&e);
    sp_status const st = sp_sampler_create(&s, c, &o, &e);
    SP_EXPECT_MSG(st == SP_OK, "sp_sampler_create: %s", e.message);
    return s;
}

static const sp_batch *next_ok(sp_sampler *s)
{
    const sp_batch *b = NULL;
    sp_error e;
    sp_error_clear(&e);
    sp_status const st = sp_sampler_next(s, &b, &e);
    SP_EXPECT_MSG(st == SP_OK, "sp_sampler_next: %s (%s)", e.message, sp_strerror(st));
    return b;
}

/* FNV-1a, 64 bits: an independent hash, so a change of any byte shows. */
static uint64_t fnv1a(uint64_t h, const void *data, size_t n)
{
    const unsigned char *const p = (const unsigned char *)data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

#define FNV_OFFSET 0xcbf29ce484222325ull

/* Hash of the first nb batches: both images, the flows, and each pair's density and
 * particle count (the fields of sp_pair_params that existed before the new ones). */
static uint64_t stream_hash(const sp_config *c, int nb)
{
    sp_sampler *const s = make_sampler(c, 2);
    uint64_t h = FNV_OFFSET;
    for (int i = 0; i < nb; i++) {
        const sp_batch *const b = next_ok(s);
        size_t const B = b->batch_size, npx = b->height * b->width;
        size_t const nf = b->flow_height * b->flow_width * 2;
        h = fnv1a(h, b->images1, B * npx * sizeof(float));
        h = fnv1a(h, b->images2, B * npx * sizeof(float));
        h = fnv1a(h, b->flow_fields, B * nf * sizeof(float));
        for (size_t k = 0; k < B; k++) {
            h = fnv1a(h, &b->params[k].seeding_density, sizeof(float));
            h = fnv1a(h, &b->params[k].particles, sizeof(uint32_t));
        }
    }
    sp_sampler_free(s);
    return h;
}

/* ---- no new key: the stream is unchanged ---------------------------------------------- */

/* Recorded with the build before the light sheet, K frames and scale_mode existed (stream
 * version 2). A change of these values is a change of the stream: it needs a new
 * SP_STREAM_VERSION (docs/determinism.md), never a new constant here. */
#define SP_HASH_DEFAULT_3_BATCHES 0x20cd9098a89849a9ull
#define SP_HASH_CLASSIC_2_BATCHES 0xe441ac77fb22b6c0ull
#define SP_HASH_KINEMATIC_1_BATCH 0x1f2e4a872bb6cde7ull

SP_TEST(realism_stream_unchanged_embedded_default)
{
    sp_config c;
    SP_ASSERT_OK(sp_config_load_default(&c, NULL));
    uint64_t const h = stream_hash(&c, 3);
    SP_EXPECT_MSG(h == SP_HASH_DEFAULT_3_BATCHES, "hash 0x%016llx", (unsigned long long)h);
    sp_config_free(&c);
}

static void file_config(sp_config *c, const char *rel)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", sp_test_source_dir(), rel);
    sp_diag d;
    sp_diag_init(&d);
    sp_status const st = sp_config_load_file(c, path, &d);
    if (st != SP_OK) sp_diag_print(&d, path, stderr);
    sp_diag_free(&d);
    SP_ASSERT_OK(st);
}

SP_TEST(realism_stream_unchanged_classic_eight_flows_file)
{
    sp_config c;
    file_config(&c, "examples/classic-eight-flows.yaml");
    uint64_t const h = stream_hash(&c, 2);
    SP_EXPECT_MSG(h == SP_HASH_CLASSIC_2_BATCHES, "hash 0x%016llx", (unsigned long long)h);
    sp_config_free(&c);
}

SP_TEST(realism_stream_unchanged_kinematic_file)
{
    sp_config c;
    file_config(&c, "tests/data/configs/kinematic.yaml");
    uint64_t const h = stream_hash(&c, 1);
    SP_EXPECT_MSG(h == SP_HASH_KINEMATIC_1_BATCH, "hash 0x%016llx", (unsigned long long)h);
    sp_config_free(&c);
}
