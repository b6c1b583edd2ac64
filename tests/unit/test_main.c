/* test_main.c: the unit-test runner (libuv-style): every case runs in a child process
 * with a timeout, so a crash or hang fails that case only. Prints TAP (each result followed
 * by a "# time" line: the case's wall and CPU seconds, children included) and a closing
 * "N passed, N failed, N skipped" line.
 *
 * Selection: no argument runs every case; NAME... runs the cases whose name contains one of
 * the arguments; -e NAME... runs exactly the named cases (ctest registers each case that
 * way), and a name that is no case is an error. -l lists the cases, one per line.
 *
 * Exit status: 0 when no selected case failed and at least one passed; 77 when every
 * selected case skipped (ctest's SKIP_RETURN_CODE); 1 when a case failed or nothing was
 * selected; 2 on a usage error or an unknown name under -e.
 */
#include "sp_test.h"

#include <signal.h>
#include <stdarg.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
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

/* Names to select from argv[first..argc); exact: whole names (-e), otherwise substrings. */
static int selected(const char *name, int first, int argc, char **argv, int exact)
{
    if (first >= argc) return 1;
    for (int i = first; i < argc; i++)
        if (exact ? strcmp(name, argv[i]) == 0 : strstr(name, argv[i]) != NULL) return 1;
    return 0;
}

static double seconds(struct timeval tv)
{
    return (double)tv.tv_sec + 1e-6 * (double)tv.tv_usec;
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
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char reason[512];
    size_t got = 0;
    ssize_t r;
    while (got < sizeof reason - 1 && (r = read(pfd[0], reason + got, sizeof reason - 1 - got)) > 0) got += (size_t)r;
    reason[got] = '\0';
    close(pfd[0]);
    int status = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    while (wait4(pid, &status, 0, &ru) < 0) {
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    /* wait4 reports the case's process with its waited-for children (the CLI runs, Python). */
    double const wall = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    double const cpu = seconds(ru.ru_utime) + seconds(ru.ru_stime);
    int const ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (WIFEXITED(status) && WEXITSTATUS(status) == SP_TEST_SKIP_EXIT) {
        printf("ok %d - %s # SKIP %s\n# time: %.2f s wall, %.2f s CPU\n", number, g_cases[index].name, reason,
               wall, cpu);
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
    printf("# time: %.2f s wall, %.2f s CPU\n", wall, cpu);
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
    int const exact = argc >= 2 && strcmp(argv[1], "-e") == 0;
    int const first = exact ? 2 : 1;
    if (exact && argc == 2) {
        fprintf(stderr, "usage: %s [-l | -e NAME... | NAME...]\n", argv[0]);
        return 2;
    }
    for (int i = first; exact && i < argc; i++) {
        int known = 0;
        for (int c = 0; c < g_ncases && !known; c++) known = strcmp(g_cases[c].name, argv[i]) == 0;
        if (!known) {
            fprintf(stderr, "%s: no test case named '%s' (-l lists them)\n", argv[0], argv[i]);
            return 2;
        }
    }
    /* The full tier's cases run for minutes by design (and longer on a loaded machine). */
    unsigned timeout = sp_test_full() ? 600 : 300;
    const char *const t = getenv("SP_TEST_TIMEOUT");
    if (t && atoi(t) > 0) timeout = (unsigned)atoi(t);
    int total = 0;
    for (int i = 0; i < g_ncases; i++) total += selected(g_cases[i].name, first, argc, argv, exact);
    printf("1..%d\n", total);
    int passed = 0, failed = 0, skipped = 0, number = 0;
    for (int i = 0; i < g_ncases; i++) {
        if (!selected(g_cases[i].name, first, argc, argv, exact)) continue;
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
