/* loader.c: the order in which records are read, their epochs and their seeds.
 *
 * The stream is a sequence of global positions p = 0, 1, 2, ...; position p is record
 * t = p mod n of epoch e = p / n. Without shuffling the record is t; with shuffling it is
 * perm_e(t), a seeded permutation of [0, n) drawn afresh for every epoch. The loader is
 * stateless apart from `next`, so its whole state is one integer.
 *
 * The permutation is a 6-round balanced Feistel network on the smallest even-bit domain
 * 2^(2h) >= n, round function = Threefry keyed by the epoch key, restricted to [0, n) by
 * cycle walking. A Feistel network is a bijection of its domain and cycle walking keeps a
 * bijection on the subset, so this is a true permutation for every n
 * (docs/synthpix-compat.md, D7), and the expected number of walks is below 4 because the
 * domain is less than 4n.
 *
 * Record seeds: seed(p) = random_bits(fold_in(PRNGKey(seed), SEED_TAG), p), 32 bits.
 *
 * Sharding (docs/scale-out.md; Grain's elastic rule): the stream is cut into blocks of `block`
 * consecutive global positions (the F records of one refresh: one flow batch), and shard s
 * of c reads blocks base + s, base + s + c, base + s + 2c, ...: its position i is block
 * k = i / block, global position p = (base + s + k c) block + i mod block. Every shard uses
 * the same permutations and the seed of the global position, so a record read by shard s
 * is the (record, epoch, seed) the unsharded stream has at p, and a shard's refresh is a
 * refresh of the unsharded stream: shards are disjoint, together they read the whole
 * stream, and with c = 1 (base 0) the stream is exactly the unsharded one. While the
 * shards go in lockstep they have together read every position below the global position
 * (base + (next / block) c) block: a checkpoint records it, and any number of shards
 * continues from it (base = that block, next = 0).
 */
#include "sp_internal.h"
#include "loader_internal.h"

#define SP_ORDER_TAG 0x0DE20DE2u
#define SP_SEED_TAG 0x5EED5EEDu
#define SP_FEISTEL_ROUNDS 6

void sp__loader_init(sp_loader *l, uint64_t records, int shuffle, int loop, uint64_t seed)
{
    sp_key const base = sp_key_from_seed(seed);
    l->records = records;
    l->shuffle = shuffle;
    l->loop = loop;
    l->order_key = sp_key_fold_in(base, SP_ORDER_TAG);
    l->seed_key = sp_key_fold_in(base, SP_SEED_TAG);
    l->next = 0;
    l->seed = seed;
    l->shard_index = 0;
    l->shard_count = 1;
    l->block = 1;
    l->base = 0;
}

sp_status sp__loader_shard(sp_loader *l, uint64_t index, uint64_t count, uint64_t block, sp_error *err)
{
    SP_RETURN_IF(count == 0, err, SP_ERR_CONFIG, "shard_count: must be at least 1");
    SP_RETURN_IF(index >= count, err, SP_ERR_CONFIG, "shard_index: %llu is not below shard_count %llu",
                 (unsigned long long)index, (unsigned long long)count);
    SP_RETURN_IF(count > l->records, err, SP_ERR_CONFIG,
                 "shard_count: %llu shards of a dataset of %llu records would leave shards empty",
                 (unsigned long long)count, (unsigned long long)l->records);
    SP_ASSERT(block >= 1);
    l->shard_index = index;
    l->shard_count = count;
    l->block = block;
    return SP_OK;
}

void sp__loader_rebase(sp_loader *l, uint64_t base)
{
    l->base = base;
    l->next = 0;
}

/* The global position of this shard's position i. */
static uint64_t global_position(const sp_loader *l, uint64_t i)
{
    uint64_t const k = i / l->block;
    return (l->base + l->shard_index + k * l->shard_count) * l->block + i % l->block;
}

uint64_t sp__loader_global(const sp_loader *l)
{
    return (l->base + l->next / l->block * l->shard_count) * l->block;
}

uint64_t sp__loader_end(const sp_loader *l)
{
    if (l->loop) return UINT64_MAX;
    uint64_t const n = l->records, blocks = (n + l->block - 1) / l->block; /* the last one may be partial */
    uint64_t const first = l->base + l->shard_index;
    if (first >= blocks) return 0;
    uint64_t const k = (blocks - 1 - first) / l->shard_count; /* this shard's last block with a record */
    uint64_t const g = first + k * l->shard_count, in_block = n - g * l->block;
    return k * l->block + (in_block < l->block ? in_block : l->block);
}

sp_key sp__epoch_key(const sp_loader *l, uint32_t epoch)
{
    return sp_key_fold_in(l->order_key, epoch);
}

static unsigned half_bits(uint64_t n)
{
    unsigned bits = 0;
    while (bits < 64 && ((uint64_t)1 << bits) < n) bits++;
    return (bits + 1) / 2;
}

static uint64_t feistel(uint64_t x, unsigned h, sp_key k)
{
    uint64_t const mask = ((uint64_t)1 << h) - 1;
    uint64_t left = x >> h, right = x & mask;
    for (uint32_t round = 0; round < SP_FEISTEL_ROUNDS; round++) {
        uint32_t const ctr[2] = {round, (uint32_t)right};
        uint32_t out[2];
        sp_threefry2x32(k.k, ctr, out);
        uint64_t const f = (((uint64_t)out[0] << 32) | out[1]) & mask;
        uint64_t const nl = right;
        right = left ^ f;
        left = nl;
    }
    return (left << h) | right;
}

uint64_t sp__permute(uint64_t t, uint64_t n, sp_key epoch_key)
{
    if (n <= 1) return 0;
    unsigned const h = half_bits(n);
    uint64_t x = t;
    do {
        x = feistel(x, h, epoch_key);
    } while (x >= n);
    return x;
}

void sp__loader_ref(const sp_loader *l, uint64_t i, sp_record_ref *ref)
{
    uint64_t const p = global_position(l, i);
    uint64_t const epoch = p / l->records, t = p % l->records;
    ref->position = p;
    ref->epoch = (uint32_t)epoch;
    ref->record = l->shuffle ? sp__permute(t, l->records, sp__epoch_key(l, (uint32_t)epoch)) : t;
    ref->seed = sp_random_bits(l->seed_key, p);
}

int sp__loader_next(sp_loader *l, sp_record_ref *ref)
{
    if (l->records == 0) return 0;
    if (!l->loop && global_position(l, l->next) >= l->records) return 0;
    sp__loader_ref(l, l->next, ref);
    l->next++;
    return 1;
}
