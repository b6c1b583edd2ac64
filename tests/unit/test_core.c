/* test_core.c: status table, error details, sinks, the thread pool, the version and the
 * optional features of the build. */
#include "sp_test.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sp_flowmap.h"
#include "sp_fsutil.h"
#include "sp/sp_fs.h"

#include "sp/sp_api.h"
#include "sp/sp_errors.h"
#include "sp/sp_pool.h"
#include "sp/sp_sink.h"

SP_TEST(core_strerror_names_every_code)
{
    SP_ASSERT_STR_CONTAINS(sp_strerror(SP_ERR_NOMEM), "memory");
    SP_ASSERT_STR_CONTAINS(sp_status_name(SP_ERR_CHECKSUM), "SP_ERR_CHECKSUM");
    for (int c = -1; c > SP_ERR_LAST_; c--) {
        SP_EXPECT_MSG(strcmp(sp_strerror((sp_status)c), "unknown status") != 0, "code %d has no message", c);
    }
    SP_ASSERT_STR_CONTAINS(sp_strerror((sp_status)-999), "unknown");
}

SP_TEST(core_error_set_and_prefix)
{
    sp_error e;
    sp_error_clear(&e);
    SP_ASSERT_EQ_INT(sp_error_set(&e, SP_ERR_CORRUPT, "bad magic %d", 7), SP_ERR_CORRUPT);
    sp_error_prefix(&e, "%s: ", "x.npy");
    SP_EXPECT(strcmp(e.message, "x.npy: bad magic 7") == 0);
    SP_ASSERT_EQ_INT(sp_error_set(NULL, SP_ERR_IO, "ignored"), SP_ERR_IO);
}

SP_TEST(core_membuf_sink_appends)
{
    sp_membuf b = {0};
    sp_sink const s = sp_sink_membuf(&b);
    char big[10000];
    memset(big, 'x', sizeof big);
    SP_ASSERT_OK(sp_sink_write(&s, "abc", 3, NULL));
    SP_ASSERT_OK(sp_sink_write(&s, big, sizeof big, NULL));
    SP_ASSERT_EQ_INT(b.size, 10003);
    SP_EXPECT(memcmp(b.data, "abcx", 4) == 0 && b.data[10002] == 'x');
    sp_membuf_free(&b);
}

/* Entries of dir whose name contains needle. */
static int count_entries(const char *dir, const char *needle)
{
    char out[64];
    sp_test_sh(out, sizeof out, "ls -a '%s' | grep -c -- '%s'", dir, needle);
    return atoi(out);
}

SP_TEST(core_atomic_file_replaces_whole)
{
    char path[600];
    snprintf(path, sizeof path, "%s/f.bin", sp_test_tmpdir());
    SP_ASSERT_OK(sp__fs_write_atomic(sp_fs_posix(), path, "ab12", "first", 5, 1, NULL));
    SP_ASSERT_OK(sp__fs_write_atomic(sp_fs_posix(), path, "ab12", "second!", 7, 0, NULL));
    size_t n = 0;
    unsigned char *const got = sp_test_read_file(path, &n);
    SP_EXPECT(got != NULL && n == 7 && memcmp(got, "second!", 7) == 0);
    free(got);
    SP_ASSERT_EQ_INT(count_entries(sp_test_tmpdir(), ".sp-tmp-"), 0);
    sp_error e;
    char bad[700];
    snprintf(bad, sizeof bad, "%s/missing-dir/f.bin", sp_test_tmpdir());
    SP_EXPECT(sp__fs_write_atomic(sp_fs_posix(), bad, NULL, "x", 1, 1, &e) == SP_ERR_NOTFOUND);
    SP_ASSERT_STR_CONTAINS(e.message, "missing-dir");
    SP_ASSERT_STR_CONTAINS(e.message, "No such file or directory");
}

/* Every counted call of an atomic write fails once in turn: the old file stays whole and no
 * temporary is left, whichever call failed; the message names the file and the reason. */
SP_TEST(core_atomic_file_survives_every_failure)
{
    char path[600];
    snprintf(path, sizeof path, "%s/f.bin", sp_test_tmpdir());
    SP_ASSERT_OK(sp__fs_write_atomic(sp_fs_posix(), path, NULL, "old", 3, 1, NULL));
    sp_fs_faulty f;
    sp_fs_faulty_init(&f, sp_fs_posix(), SP_FS_OP_ALL);
    SP_ASSERT_OK(sp__fs_write_atomic(&f.fs, path, NULL, "new!", 4, 1, NULL));
    uint64_t const calls = f.count;
    SP_EXPECT(calls >= 6); /* open, write, fsync, close, rename, open dir, fsync dir, close */
    for (int en = 0; en < 2; en++) {
        for (uint64_t k = 1; k <= calls; k++) {
            SP_ASSERT_OK(sp__fs_write_atomic(sp_fs_posix(), path, NULL, "old", 3, 1, NULL));
            sp_fs_faulty_init(&f, sp_fs_posix(), SP_FS_OP_ALL);
            f.fail_at = k;
            f.fail_errno = en ? ENOSPC : EIO;
            sp_error e;
            sp_error_clear(&e);
            sp_status const st = sp__fs_write_atomic(&f.fs, path, NULL, "new!", 4, 1, &e);
            size_t n = 0;
            unsigned char *const got = sp_test_read_file(path, &n);
            SP_EXPECT(got != NULL);
            if (st != SP_OK) {
                SP_ASSERT_STR_CONTAINS(e.message, sp_test_tmpdir());
                SP_ASSERT_STR_CONTAINS(e.message, en ? "No space left" : "Input/output error");
                SP_ASSERT_EQ_INT(st, en ? SP_ERR_NOSPC : SP_ERR_IO);
            }
            /* Either the old bytes or the new ones, never a mixture; a failure after the
             * rename (directory fsync) reports an error with the new file in place. */
            SP_EXPECT((n == 3 && memcmp(got, "old", 3) == 0) || (n == 4 && memcmp(got, "new!", 4) == 0));
            free(got);
            SP_ASSERT_EQ_INT(count_entries(sp_test_tmpdir(), ".sp-tmp-"), 0);
        }
    }
}

/* A planted symbolic link (or file) under the temporary's name is never written through:
 * names are unpredictable and created with O_EXCL | O_NOFOLLOW. */
SP_TEST(core_atomic_file_never_follows_a_planted_link)
{
    char dir[600], victim[700], link[700];
    snprintf(dir, sizeof dir, "%s", sp_test_tmpdir());
    snprintf(victim, sizeof victim, "%s/victim", dir);
    sp_test_write_file(victim, "precious", 8);
    snprintf(link, sizeof link, "%s/lock", dir);
    SP_EXPECT(symlink(victim, link) == 0);
    int const fd = sp_fs_posix()->open(NULL, link, 'l');
    SP_ASSERT_EQ_INT(fd, -ELOOP);
    SP_ASSERT_EQ_INT(sp_fs_posix()->open(NULL, link, 'w'), -EEXIST);
    SP_ASSERT_EQ_INT(sp_fs_posix()->open(NULL, link, 'a'), -ELOOP);
    char t1[800], t2[800];
    SP_EXPECT(sp__fs_tmp_name(t1, sizeof t1, victim, "ab") && sp__fs_tmp_name(t2, sizeof t2, victim, "ab"));
    SP_EXPECT(strcmp(t1, t2) != 0);
    SP_ASSERT_STR_CONTAINS(t1, "victim.sp-tmp-ab-");
    size_t n = 0;
    unsigned char *const got = sp_test_read_file(victim, &n);
    SP_EXPECT(n == 8 && memcmp(got, "precious", 8) == 0);
    free(got);
}

static void expect_file(const char *path, const char *want)
{
    size_t n = 0;
    unsigned char *const got = sp_test_read_file(path, &n);
    SP_EXPECT_MSG(got != NULL && n == strlen(want) && memcmp(got, want, n) == 0, "%s does not hold \"%s\"", path, want);
    free(got);
}

/* The public whole-file replace: a new file, then a replaced one; a link (to a file or to
 * nothing) and a directory under the name are refused and left as they are, a missing
 * folder is named; no temporary is ever left. */
SP_TEST(core_replace_file_refuses_links_and_directories)
{
    char path[600], victim[600], link[600], dangling[600], dir[600], missing[700];
    const char *const t = sp_test_tmpdir();
    snprintf(path, sizeof path, "%s/out.png", t);
    SP_ASSERT_OK(sp_fs_replace_file(NULL, path, "first", 5, NULL));
    SP_ASSERT_OK(sp_fs_replace_file(sp_fs_posix(), path, "second!", 7, NULL));
    expect_file(path, "second!");
    snprintf(victim, sizeof victim, "%s/victim", t);
    sp_test_write_file(victim, "precious", 8);
    snprintf(link, sizeof link, "%s/link.png", t);
    snprintf(dangling, sizeof dangling, "%s/dangling.png", t);
    SP_EXPECT(symlink(victim, link) == 0 && symlink("nowhere", dangling) == 0);
    sp_error e;
    SP_ASSERT_STATUS(sp_fs_replace_file(NULL, link, "x", 1, &e), SP_ERR_EXISTS);
    SP_ASSERT_STR_CONTAINS(e.message, "link.png: is a symbolic link");
    SP_ASSERT_STATUS(sp_fs_replace_file(NULL, dangling, "x", 1, &e), SP_ERR_EXISTS);
    SP_ASSERT_STR_CONTAINS(e.message, "dangling.png: is a symbolic link");
    char target[700] = {0};
    SP_EXPECT(readlink(link, target, sizeof target - 1) == (ssize_t)strlen(victim) && strcmp(target, victim) == 0);
    expect_file(victim, "precious");
    SP_EXPECT(readlink(dangling, target, sizeof target - 1) == 7);
    snprintf(dir, sizeof dir, "%s/adir", t);
    SP_EXPECT(mkdir(dir, 0755) == 0);
    SP_ASSERT_STATUS(sp_fs_replace_file(NULL, dir, "x", 1, &e), SP_ERR_EXISTS);
    SP_ASSERT_STR_CONTAINS(e.message, "adir: is a directory");
    snprintf(missing, sizeof missing, "%s/no-such-folder/out.png", t);
    SP_ASSERT_STATUS(sp_fs_replace_file(NULL, missing, "x", 1, &e), SP_ERR_NOTFOUND);
    SP_ASSERT_STR_CONTAINS(e.message, "no-such-folder does not exist");
    SP_ASSERT_STATUS(sp_fs_replace_file(NULL, "", "x", 1, &e), SP_ERR_INVALID);
    SP_ASSERT_EQ_INT(count_entries(t, ".sp-tmp-"), 0);
}

/* Every counted call of a replace fails once in turn: the old bytes or the new ones, never a
 * part, and no temporary left. */
SP_TEST(core_replace_file_survives_every_failure)
{
    char path[600];
    snprintf(path, sizeof path, "%s/f.png", sp_test_tmpdir());
    sp_fs_faulty f;
    sp_fs_faulty_init(&f, sp_fs_posix(), SP_FS_OP_ALL);
    SP_ASSERT_OK(sp_fs_replace_file(&f.fs, path, "old", 3, NULL));
    uint64_t const calls = f.count;
    SP_EXPECT(calls >= 8);
    for (uint64_t k = 1; k <= calls; k++) {
        SP_ASSERT_OK(sp_fs_replace_file(NULL, path, "old", 3, NULL));
        sp_fs_faulty_init(&f, sp_fs_posix(), SP_FS_OP_ALL);
        f.fail_at = k;
        f.fail_errno = EIO;
        sp_error e;
        sp_error_clear(&e);
        if (sp_fs_replace_file(&f.fs, path, "new!", 4, &e) != SP_OK) {
            SP_ASSERT_STR_CONTAINS(e.message, sp_test_tmpdir());
            SP_ASSERT_STR_CONTAINS(e.message, "Input/output error");
        }
        size_t n = 0;
        unsigned char *const got = sp_test_read_file(path, &n);
        SP_EXPECT((n == 3 && memcmp(got, "old", 3) == 0) || (n == 4 && memcmp(got, "new!", 4) == 0));
        free(got);
        SP_ASSERT_EQ_INT(count_entries(sp_test_tmpdir(), ".sp-tmp-"), 0);
    }
}

SP_TEST(core_mkdirs_checks_every_component)
{
    char path[700], file[700];
    snprintf(path, sizeof path, "%s/a/b//c", sp_test_tmpdir());
    SP_ASSERT_OK(sp__fs_mkdirs(sp_fs_posix(), path, NULL));
    SP_ASSERT_OK(sp__fs_mkdirs(sp_fs_posix(), path, NULL)); /* existing: fine */
    snprintf(file, sizeof file, "%s/a/f", sp_test_tmpdir());
    sp_test_write_file(file, "x", 1);
    snprintf(path, sizeof path, "%s/a/f/g", sp_test_tmpdir());
    sp_error e;
    SP_ASSERT_STATUS(sp__fs_mkdirs(sp_fs_posix(), path, &e), SP_ERR_IO);
    SP_ASSERT_STR_CONTAINS(e.message, "a/f/g"); /* the directory asked for */
    SP_ASSERT_STR_CONTAINS(e.message, "a/f: Not a directory"); /* and the component at fault */
    sp_fs_faulty f;
    sp_fs_faulty_init(&f, sp_fs_posix(), SP_FS_OP_MKDIR);
    f.fail_at = 1;
    f.fail_errno = EACCES;
    snprintf(path, sizeof path, "%s/new", sp_test_tmpdir());
    SP_ASSERT_STATUS(sp__fs_mkdirs(&f.fs, path, &e), SP_ERR_IO);
    SP_ASSERT_STR_CONTAINS(e.message, "Permission denied");
}

typedef struct count_ctx {
    int hits[5000];
    unsigned max_worker;
} count_ctx;

static void count_item(void *ctx, size_t item, unsigned worker)
{
    count_ctx *const c = (count_ctx *)ctx;
    c->hits[item]++; /* disjoint per item: no race */
    (void)worker;
}

SP_TEST(core_pool_runs_each_item_once)
{
    for (unsigned threads = 1; threads <= 4; threads++) {
        sp_pool *pool = NULL;
        SP_ASSERT_OK(sp_pool_create(&pool, threads));
        SP_ASSERT_EQ_INT(sp_pool_size(pool), threads);
        for (int rep = 0; rep < 20; rep++) {
            static count_ctx c;
            memset(&c, 0, sizeof c);
            size_t const n = (size_t)(rep * 251 % 5000);
            sp_pool_run(pool, n, count_item, &c);
            for (size_t i = 0; i < 5000; i++) SP_ASSERT_EQ_INT(c.hits[i], i < n ? 1 : 0);
        }
        sp_pool_free(pool);
    }
    sp_pool_free(NULL);
}

SP_TEST(core_features_match_the_build)
{
    SP_ASSERT_EQ_INT(sp_have_feature("matio"), SP_HAVE_MATIO);
    SP_ASSERT_EQ_INT(sp_have_feature("hdf5"), SP_HAVE_HDF5);
    SP_ASSERT_EQ_INT(sp_have_feature("cairo"), SP_HAVE_CAIRO);
    SP_ASSERT_EQ_INT(sp_have_feature("no-such-feature"), 0);
    SP_ASSERT_EQ_INT(sp_have_feature(NULL), 0);
    unsigned n = 0;
    while (sp_feature_name(n) != NULL) SP_EXPECT(sp_have_feature(sp_feature_name(n++)) <= 1);
    SP_ASSERT_EQ_INT(n, 3);
    SP_ASSERT_EQ_INT(sp_version_number(), SP_VERSION_NUMBER);
    SP_EXPECT(strcmp(sp_version_string(), SP_VERSION_STRING) == 0);
}

/* ---- mapped files (src/core/fmap.c) ---------------------------------------------------- */

/* A file of `pages` pages whose byte i is (i * 7 + 3) & 0xff; its path in `path`. */
static void write_pattern(char *path, size_t cap, const char *name, size_t pages)
{
    snprintf(path, cap, "%s/%s", sp_test_tmpdir(), name);
    size_t const n = pages * (size_t)sysconf(_SC_PAGESIZE);
    unsigned char *const b = (unsigned char *)malloc(n);
    SP_EXPECT(b != NULL);
    for (size_t i = 0; i < n; i++) b[i] = (unsigned char)((i * 7 + 3) & 0xff);
    FILE *const f = fopen(path, "wb");
    SP_EXPECT(f != NULL && fwrite(b, 1, n, f) == n && fclose(f) == 0);
    free(b);
}

typedef struct place_probe {
    size_t off;     /* accept with this offset, or decline when SIZE_MAX */
    size_t calls, head_len, file_size;
} place_probe;

static sp_status probe_place(void *ctx, const unsigned char *head, size_t have, size_t size, unsigned char **dst,
                             size_t *off, sp_error *err)
{
    place_probe *const q = (place_probe *)ctx;
    (void)head, (void)err;
    q->calls++, q->head_len = have, q->file_size = size;
    *dst = q->off == SIZE_MAX ? NULL : (unsigned char *)q;
    *off = q->off;
    return SP_OK;
}

/* The mapping holds the file's bytes from place()'s offset; place() sees the head and the
 * size; a declining place(), an unaligned offset and a file under min_len map nothing. */
SP_TEST(core_map_placed_maps_from_the_offset_or_declines)
{
    char path[600];
    write_pattern(path, sizeof path, "mapped.bin", 3);
    size_t const n = 3 * (size_t)sysconf(_SC_PAGESIZE);
    sp_membuf head = {0};
    sp_fmap map = SP_FMAP_NONE;
    const unsigned char *data = NULL;
    sp_error e;
    place_probe q = {64, 0, 0, 0};
    SP_ASSERT_OK(sp__fs_map_placed(path, n, 0, 128, &head, probe_place, &q, &map, &data, &e));
    SP_EXPECT(q.calls == 1 && q.head_len == 128 && q.file_size == n && head.size == 128);
    SP_EXPECT(data != NULL && data == map.base + 64 && map.len == n);
    int same = 1;
    for (size_t i = 64; i < n; i++) same &= data[i - 64] == (unsigned char)((i * 7 + 3) & 0xff);
    SP_EXPECT_MSG(same, "mapped bytes differ from the file's");
    SP_EXPECT(!sp__fmap_damaged(&map));
    sp__fmap_release(&map);
    SP_EXPECT(map.base == NULL && map.slot == -1);
    q.off = SIZE_MAX; /* declines */
    SP_ASSERT_OK(sp__fs_map_placed(path, n, 0, 128, &head, probe_place, &q, &map, &data, &e));
    SP_EXPECT(data == NULL && map.base == NULL);
    q.off = 6; /* not 4-byte aligned */
    SP_ASSERT_OK(sp__fs_map_placed(path, n, 0, 128, &head, probe_place, &q, &map, &data, &e));
    SP_EXPECT(data == NULL && map.base == NULL);
    q.off = 64, q.calls = 0; /* under min_len: not even the head is read */
    SP_ASSERT_OK(sp__fs_map_placed(path, n, n + 1, 128, &head, probe_place, &q, &map, &data, &e));
    SP_EXPECT(data == NULL && map.base == NULL && q.calls == 0);
    SP_ASSERT_STATUS(sp__fs_map_placed(path, n - 1, 0, 128, &head, probe_place, &q, &map, &data, &e), SP_ERR_RANGE);
    SP_ASSERT_STR_CONTAINS(e.message, "over the limit");
    sp_membuf_free(&head);
}

/* Another process (here: another descriptor) truncates a mapped file: touching a lost page
 * reads zeros instead of raising SIGBUS, and the mapping says it is damaged; the pages that
 * remain keep their bytes, and a new mapping in the same registry entry starts clean. */
SP_TEST(core_map_lost_pages_read_zero_and_mark_the_mapping)
{
    char path[600];
    write_pattern(path, sizeof path, "shrinks.bin", 4);
    size_t const page = (size_t)sysconf(_SC_PAGESIZE), n = 4 * page;
    sp_membuf head = {0};
    sp_fmap map = SP_FMAP_NONE;
    const unsigned char *data = NULL;
    sp_error e;
    place_probe q = {0, 0, 0, 0};
    SP_ASSERT_OK(sp__fs_map_placed(path, n, 0, 16, &head, probe_place, &q, &map, &data, &e));
    SP_EXPECT(data != NULL);
    SP_ASSERT_EQ_INT(truncate(path, (off_t)page), 0);
    volatile const unsigned char *const v = data;
    unsigned const lost = v[3 * page + 5], kept = v[5];
    SP_EXPECT_MSG(lost == 0, "a lost page read %u", lost);
    SP_EXPECT(kept == (unsigned char)((5 * 7 + 3) & 0xff));
    SP_EXPECT(sp__fmap_damaged(&map));
    sp__fmap_release(&map);
    write_pattern(path, sizeof path, "shrinks.bin", 4);
    SP_ASSERT_OK(sp__fs_map_placed(path, n, 0, 16, &head, probe_place, &q, &map, &data, &e));
    SP_EXPECT(data != NULL && !sp__fmap_damaged(&map) && data[3 * page + 5] == (unsigned char)(((3 * page + 5) * 7 + 3) & 0xff));
    sp__fmap_release(&map);
    sp_membuf_free(&head);
}

/* The handler only answers for our mappings: a SIGBUS from a mapping made elsewhere in the
 * process still ends it (a child process installs the handler by mapping a file, then
 * touches a lost page of its own mmap). */
SP_TEST(core_sigbus_elsewhere_still_ends_the_process)
{
    char path[600], other[600];
    write_pattern(path, sizeof path, "ours.bin", 2);
    write_pattern(other, sizeof other, "theirs.bin", 4);
    size_t const page = (size_t)sysconf(_SC_PAGESIZE);
    fflush(NULL);
    pid_t const pid = fork();
    SP_EXPECT(pid >= 0);
    if (pid == 0) {
        sp_membuf head = {0};
        sp_fmap map = SP_FMAP_NONE;
        const unsigned char *data = NULL;
        sp_error e;
        place_probe q = {0, 0, 0, 0};
        if (sp__fs_map_placed(path, 2 * page, 0, 16, &head, probe_place, &q, &map, &data, &e) != SP_OK || data == NULL)
            _exit(93);
        int const fd = open(other, O_RDONLY);
        void *const m = fd < 0 ? MAP_FAILED : mmap(NULL, 4 * page, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED || truncate(other, (off_t)page) != 0) _exit(94);
        volatile const unsigned char *const v = (const unsigned char *)m;
        unsigned const x = v[3 * page];
        _exit(x == 0 ? 95 : 96); /* survived: the handler took a fault that was not ours */
    }
    int status = 0;
    SP_EXPECT(waitpid(pid, &status, 0) == pid);
    /* Killed by SIGBUS; under a sanitizer, its own report and exit status (not 0, not ours). */
    SP_EXPECT_MSG(WIFSIGNALED(status) ? WTERMSIG(status) == SIGBUS
                                      : WEXITSTATUS(status) != 0 && (WEXITSTATUS(status) < 93 || WEXITSTATUS(status) > 96),
                  "child: %s %d", WIFSIGNALED(status) ? "signal" : "exit",
                  WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
}
