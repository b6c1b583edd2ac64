/* test_util.c: helpers for test cases: temporary directories, shell commands, files. */
#include "sp_test.h"

#include <dirent.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int sp_test_full(void)
{
    const char *const v = getenv("SP_TEST_FULL");
    return v != NULL && v[0] == '1';
}

const char *sp_test_source_dir(void)
{
    const char *const v = getenv("SP_SOURCE_DIR");
    return v ? v : ".";
}

const char *sp_test_cli(void)
{
    const char *const v = getenv("SP_CLI");
    return v ? v : "./synthpix";
}

static char g_tmpdir[512];

static void remove_tmpdir(void)
{
    if (g_tmpdir[0] == '\0' || getenv("SP_TEST_KEEP")) return;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "# could not remove %s\n", g_tmpdir);
}

const char *sp_test_tmpdir(void)
{
    if (g_tmpdir[0]) return g_tmpdir;
    const char *const base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(g_tmpdir, sizeof g_tmpdir, "%s/sp-test-XXXXXX", base);
    if (mkdtemp(g_tmpdir) == NULL) sp_test_fail(__FILE__, __LINE__, "mkdtemp failed");
    atexit(remove_tmpdir);
    return g_tmpdir;
}

int sp_test_sh(char *out, size_t cap, const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    fflush(stdout);
    fflush(stderr);
    FILE *const p = popen(cmd, "r");
    if (p == NULL) return -1;
    size_t n = 0;
    char buf[4096];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, p)) > 0) {
        if (out && n + 1 < cap) {
            size_t const take = got < cap - 1 - n ? got : cap - 1 - n;
            memcpy(out + n, buf, take);
            n += take;
        }
    }
    if (out && cap) out[n] = '\0';
    int const st = pclose(p);
    if (st == -1) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

unsigned char *sp_test_read_file(const char *path, size_t *size)
{
    FILE *const f = fopen(path, "rb");
    if (f == NULL) return NULL;
    fseek(f, 0, SEEK_END);
    long const len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *const buf = (unsigned char *)malloc(len > 0 ? (size_t)len : 1u);
    if (buf == NULL || (len > 0 && fread(buf, 1, (size_t)len, f) != (size_t)len)) {
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    if (size) *size = (size_t)len;
    return buf;
}

void sp_test_write_file(const char *path, const void *data, size_t n)
{
    FILE *const f = fopen(path, "wb");
    if (f == NULL) sp_test_fail(__FILE__, __LINE__, "cannot create %s", path);
    if (n && fwrite(data, 1, n, f) != n) sp_test_fail(__FILE__, __LINE__, "cannot write %s", path);
    if (fclose(f) != 0) sp_test_fail(__FILE__, __LINE__, "cannot close %s", path);
}

pid_t sp_test_spawn_sh(const char *cmd)
{
    pid_t const pid = fork();
    if (pid < 0) sp_test_fail(__FILE__, __LINE__, "fork failed for: %s", cmd);
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    return pid;
}

int sp_test_count_entries_with(const char *dir, const char *needle)
{
    DIR *const d = opendir(dir);
    if (d == NULL) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) n += strstr(e->d_name, needle) != NULL;
    closedir(d);
    return n;
}

int sp_test_have_python(const char *modules)
{
    char script[1024];
    snprintf(script, sizeof script, "/usr/bin/python3 -c 'import sys\nfor m in \"%s\".split(): __import__(m)' >/dev/null 2>&1", modules);
    return system(script) == 0;
}

static size_t count_dir(const char *dir, int hidden)
{
    DIR *const d = opendir(dir);
    if (d == NULL) sp_test_fail(__FILE__, __LINE__, "%s: cannot list", dir);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        if (hidden || e->d_name[0] != '.') n++;
    }
    closedir(d);
    return n;
}

void sp_test_expect_same_dir(const char *want, const char *got, int hidden)
{
    DIR *const d = opendir(want);
    if (d == NULL) sp_test_fail(__FILE__, __LINE__, "%s: cannot list", want);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 || (!hidden && e->d_name[0] == '.')) continue;
        char a[1200], b[1200];
        snprintf(a, sizeof a, "%s/%s", want, e->d_name);
        snprintf(b, sizeof b, "%s/%s", got, e->d_name);
        size_t na = 0, nb = 0;
        unsigned char *const da = sp_test_read_file(a, &na), *const db = sp_test_read_file(b, &nb);
        if (db == NULL) sp_test_fail(__FILE__, __LINE__, "%s: missing from %s", e->d_name, got);
        if (na != nb || memcmp(da, db, na) != 0)
            sp_test_fail(__FILE__, __LINE__, "%s: differs (%zu vs %zu bytes) between %s and %s", e->d_name, na, nb, want, got);
        free(da);
        free(db);
    }
    closedir(d);
    size_t const nw = count_dir(want, hidden), ng = count_dir(got, hidden);
    if (nw != ng) {
        char listing[2048];
        sp_test_sh(listing, sizeof listing, "ls -a '%s' | head -20", got);
        sp_test_fail(__FILE__, __LINE__, "%s holds %zu entries, %s %zu:\n%s", got, ng, want, nw, listing);
    }
}

void sp_test_need_feature(const char *feature)
{
    int have = -1;
    if (strcmp(feature, "matio") == 0) have = SP_HAVE_MATIO;
    if (strcmp(feature, "hdf5") == 0) have = SP_HAVE_HDF5;
    if (strcmp(feature, "cairo") == 0) have = SP_HAVE_CAIRO;
    if (have < 0) sp_test_fail(__FILE__, __LINE__, "unknown feature \"%s\"", feature);
    if (!have) sp_test_skip("synthpix was built without lib%s", feature);
}
