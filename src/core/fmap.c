/* fmap.c: whole files mapped read-only (src/internal/sp_flowmap.h), and what happens when
 * another process shrinks one while it is mapped.
 *
 * Why map: a 1216x1936 flow is 18.8 MB. read() copies it from the page cache (2.1 ms on
 * our 2-core VM) and the loader then scanned it (0.5 ms); a private mapping, its pages
 * mapped in and unmapped, costs 1.4 ms, and the values are read once, by the copy into the
 * output flow (docs/performance.md).
 *
 * Why a SIGBUS handler: touching a mapped page past the end of a file that another process
 * truncated raises SIGBUS, which would kill the process. The handler, installed once when
 * the first file is mapped, looks the faulting address up in a registry of the live
 * mappings made here. If it is one of ours, it maps a page of zeros over the lost page, so
 * the access completes, and marks the mapping damaged; the sampler checks the mark before a
 * batch leaves sp_sampler_next and reports the file instead of data computed from zeros.
 * A fault anywhere else goes to the previous disposition: its handler is called, or it is
 * put back and the retried access raises the signal again.
 *
 * Global state, on purpose: signal dispositions belong to the process, so the registry
 * does too. It holds address ranges and flags only; no result depends on it. Entries are
 * claimed and published with atomics, so the handler may read them at any instant.
 */
#include "sp_flowmap.h"
#include "sp_internal.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define SP_FMAP_SLOTS 1024 /* live mappings at once; past that, files are read */

enum { ENTRY_FREE = 0, ENTRY_CLAIMED, ENTRY_LIVE };

typedef struct fmap_entry {
    uintptr_t start, end; /* written while CLAIMED, read once LIVE */
    int state;
    int damaged;
} fmap_entry;

static fmap_entry g_reg[SP_FMAP_SLOTS];
static struct sigaction g_old_bus;
static long g_page;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_installed;

/* Maps zeros over the lost page of one of our mappings; 0 when the address is not ours. */
static int patch_lost_page(uintptr_t a)
{
    for (int i = 0; i < SP_FMAP_SLOTS; i++) {
        fmap_entry *const e = &g_reg[i];
        if (__atomic_load_n(&e->state, __ATOMIC_ACQUIRE) != ENTRY_LIVE) continue;
        if (a < e->start || a >= e->end) continue;
        void *const page = (void *)(a & ~(uintptr_t)(g_page - 1));
        if (mmap(page, (size_t)g_page, PROT_READ, MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS, -1, 0) == MAP_FAILED)
            return 0;
        __atomic_store_n(&e->damaged, 1, __ATOMIC_RELEASE);
        return 1;
    }
    return 0;
}

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
    if (patch_lost_page((uintptr_t)si->si_addr)) return; /* the access is retried and reads zeros */
    if (g_old_bus.sa_flags & SA_SIGINFO) {
        if (g_old_bus.sa_sigaction != NULL) {
            g_old_bus.sa_sigaction(sig, si, uc);
            return;
        }
    } else if (g_old_bus.sa_handler != SIG_DFL && g_old_bus.sa_handler != SIG_IGN) {
        g_old_bus.sa_handler(sig);
        return;
    }
    sigaction(SIGBUS, &g_old_bus, NULL); /* the retried access raises it under the old disposition */
}

static void install_handler(void)
{
    g_page = sysconf(_SC_PAGESIZE);
    if (g_page <= 0) g_page = 4096;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    g_installed = sigaction(SIGBUS, &sa, &g_old_bus) == 0;
}

static int claim_entry(void)
{
    for (int i = 0; i < SP_FMAP_SLOTS; i++) {
        int expected = ENTRY_FREE;
        if (__atomic_compare_exchange_n(&g_reg[i].state, &expected, ENTRY_CLAIMED, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
            return i;
    }
    return -1;
}

/* start and end are left as they are: a handler that saw the entry LIVE may still be
 * reading them, and the next claimer rewrites both before the entry is LIVE again. */
static void free_entry(int i)
{
    __atomic_store_n(&g_reg[i].state, ENTRY_CLAIMED, __ATOMIC_RELEASE); /* the handler stops looking */
    __atomic_store_n(&g_reg[i].damaged, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&g_reg[i].state, ENTRY_FREE, __ATOMIC_RELEASE);
}

/* Maps the file's pages into the process now, on the calling thread (the prefetch thread),
 * so the threads that use the values take no page faults: one read every 64 KiB, because a
 * read fault maps the 64 KiB around it (Linux's fault-around). Measured on our VM for an
 * 18.8 MB file in the page cache: 1.37 ms with munmap, against 1.95-2.0 ms with
 * MAP_POPULATE, which maps page by page. A lost page (a truncation meanwhile) reads zeros
 * through the handler. */
static void prefault(const unsigned char *base, size_t n)
{
    volatile const unsigned char *const v = base;
    unsigned char sink = 0;
    for (size_t o = 0; o < n; o += (size_t)64 << 10) sink ^= v[o];
    sink ^= v[n - 1];
    __asm__ volatile("" : : "r"(sink));
}

sp_status sp__fs_map_placed(const char *path, size_t max_len, size_t min_len, size_t head_max, sp_membuf *head,
                            sp_fs_place_fn place, void *ctx, sp_fmap *map, const unsigned char **data,
                            sp_error *err)
{
    *data = NULL;
    SP_ASSERT(map->base == NULL);
    int fd = -1;
    size_t n = 0;
    SP_TRY(sp__fs_open_regular(path, max_len, &fd, &n, err));
    if (n < min_len) {
        close(fd);
        return SP_OK;
    }
    pthread_once(&g_once, install_handler); /* before the first mapping, never without one */
    size_t const have = n < head_max ? n : head_max;
    sp_status s = sp__fs_read_head(fd, path, head, have, err);
    unsigned char *dst = NULL;
    size_t off = 0;
    if (s == SP_OK) s = place(ctx, head->data, have, n, &dst, &off, err);
    int const slot = s == SP_OK && dst != NULL && off % 4 == 0 && off <= n && g_installed ? claim_entry() : -1;
    if (slot >= 0) {
        void *const m = mmap(NULL, n, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            free_entry(slot);
        } else {
            g_reg[slot].start = (uintptr_t)m;
            g_reg[slot].end = (uintptr_t)m + n;
            __atomic_store_n(&g_reg[slot].state, ENTRY_LIVE, __ATOMIC_RELEASE);
            map->base = (const unsigned char *)m;
            map->len = n;
            map->slot = slot;
            map->path = path;
            struct stat st;
            if (fstat(fd, &st) == 0) {
                map->dev = (uint64_t)st.st_dev, map->ino = (uint64_t)st.st_ino;
                map->mtime_s = (int64_t)st.st_mtim.tv_sec, map->mtime_ns = (int64_t)st.st_mtim.tv_nsec;
            } else {
                map->ino = UINT64_MAX; /* never matches: the first check says damaged */
            }
            *data = map->base + off;
            prefault(map->base, n);
        }
    }
    close(fd);
    return s;
}

void sp__fmap_release(sp_fmap *m)
{
    if (m->base == NULL) return;
    free_entry(m->slot);
    munmap((void *)(uintptr_t)m->base, m->len);
    sp_fmap const none = SP_FMAP_NONE;
    *m = none;
}

/* Why a stat as well as the lost-page mark: a truncation inside the last page, or a write
 * in place, changes the mapped values without any SIGBUS. */
int sp__fmap_damaged(const sp_fmap *m)
{
    if (m->base == NULL) return 0;
    if (__atomic_load_n(&g_reg[m->slot].damaged, __ATOMIC_ACQUIRE)) return 1;
    struct stat st;
    if (stat(m->path, &st) != 0) return 1;
    return (uint64_t)st.st_dev != m->dev || (uint64_t)st.st_ino != m->ino || (uint64_t)st.st_size != (uint64_t)m->len ||
           (int64_t)st.st_mtim.tv_sec != m->mtime_s || (int64_t)st.st_mtim.tv_nsec != m->mtime_ns;
}
