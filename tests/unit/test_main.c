/* test_main.c: the unit-test runner (libuv-style): every case runs in a child process
 * with a timeout, so a crash or hang fails that case only. Prints TAP and a closing
 * "N passed, N failed" line; exits non-zero when any case failed.
 */
#include "sp_test.h"

#include <signal.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <unistd.h>

#define SP_TEST_MAX 1024

static struct {
    const char *name;
    sp_test_fn fn;
} g_cases[SP_TEST_MAX];
static int g_ncases;

void sp_test_register(const char *name, sp_test_fn fn)
{
    if (g_ncases >= SP_TEST_MAX) {
        fprintf(stderr, "too many test cases\n");
        exit(2);
    }
    g_cases[g_ncases].name = name;
    g_cases[g_ncases].fn = fn;
    g_ncases++;
}

void sp_test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "# %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    fflush(stderr);
    _exit(1);
}

/* The skip reason travels from the case's process to the runner through this pipe. */
static int g_skip_fd = -1;

void sp_test_skip(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    int const n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (g_skip_fd >= 0 && n > 0) {
        ssize_t const w = write(g_skip_fd, msg, strlen(msg));
        (void)w;
    }
    fflush(stdout);
    fflush(stderr);
    _exit(SP_TEST_SKIP_EXIT);
}

static int cmp_case(const void *a, const void *b)
{
    const char *const *x = (const char *const *)a;
    const char *const *y = (const char *const *)b;
    return strcmp(*x, *y);
}

static int selected(const char *name, int argc, char **argv)
{
    if (argc <= 1) return 1;
    for (int i = 1; i < argc; i++)
        if (strstr(name, argv[i])) return 1;
    return 0;
}

/* Runs one case in a child; returns 1 passed, 0 failed, 2 skipped. */
static int run_case(int index, int number, unsigned timeout)
{
    fflush(stdout);
    fflush(stderr);
    int pfd[2];
    if (pipe(pfd) != 0) {
        perror("pipe");
        return 0;
    }
    pid_t const pid = fork();
    if (pid < 0) {
        perror("fork");
        return 0;
    }
    if (pid == 0) {
        close(pfd[0]);
        g_skip_fd = pfd[1];
        alarm(timeout);
        g_cases[index].fn();
        fflush(stdout);
        exit(0);
    }
    close(pfd[1]);
    char reason[512];
    size_t got = 0;
    ssize_t r;
    while (got < sizeof reason - 1 && (r = read(pfd[0], reason + got, sizeof reason - 1 - got)) > 0) got += (size_t)r;
    reason[got] = '\0';
    close(pfd[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
    }
    int const ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (WIFEXITED(status) && WEXITSTATUS(status) == SP_TEST_SKIP_EXIT) {
        printf("ok %d - %s # SKIP %s\n", number, g_cases[index].name, reason);
        fflush(stdout);
        return 2;
    }
    if (ok) {
        printf("ok %d - %s\n", number, g_cases[index].name);
    } else if (WIFSIGNALED(status)) {
        printf("not ok %d - %s (signal %d%s)\n", number, g_cases[index].name, WTERMSIG(status),
               WTERMSIG(status) == SIGALRM ? ": timeout" : "");
    } else {
        printf("not ok %d - %s (exit %d)\n", number, g_cases[index].name, WEXITSTATUS(status));
    }
    fflush(stdout);
    return ok;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    /* Deterministic order whatever the link order. */
    qsort(g_cases, (size_t)g_ncases, sizeof g_cases[0], cmp_case);
    if (argc == 2 && strcmp(argv[1], "-l") == 0) {
        for (int i = 0; i < g_ncases; i++) printf("%s\n", g_cases[i].name);
        return 0;
    }
    unsigned timeout = 300;
    const char *const t = getenv("SP_TEST_TIMEOUT");
    if (t && atoi(t) > 0) timeout = (unsigned)atoi(t);
    int total = 0;
    for (int i = 0; i < g_ncases; i++) total += selected(g_cases[i].name, argc, argv);
    printf("1..%d\n", total);
    int passed = 0, failed = 0, skipped = 0, number = 0;
    for (int i = 0; i < g_ncases; i++) {
        if (!selected(g_cases[i].name, argc, argv)) continue;
        int const r = run_case(i, ++number, timeout);
        if (r == 1) passed++;
        else if (r == 2) skipped++;
        else failed++;
    }
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    /* Every selected case skipped: the whole binary is skipped (ctest SKIP_RETURN_CODE). */
    if (failed == 0 && total > 0 && skipped == total) return SP_TEST_SKIP_EXIT;
    return failed == 0 && total > 0 ? 0 : 1;
}
