/* replay_main.c: runs a fuzz harness (LLVMFuzzerTestOneInput) over every file of a corpus
 * directory, so `make test` replays the checked-in corpora without libFuzzer. A crash or a
 * sanitizer report fails the test; an empty corpus directory fails too.
 */
#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
    FILE *const f = fopen(path, "rb");
    if (f == NULL) return 0;
    fseek(f, 0, SEEK_END);
    long const len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *const buf = (uint8_t *)malloc(len > 0 ? (size_t)len : 1u);
    size_t const got = buf && len > 0 ? fread(buf, 1, (size_t)len, f) : 0;
    fclose(f);
    if (buf == NULL) return 0;
    LLVMFuzzerTestOneInput(buf, got);
    free(buf);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    DIR *const d = opendir(argv[1]);
    if (d == NULL) {
        fprintf(stderr, "cannot open corpus %s\n", argv[1]);
        return 1;
    }
    int n = 0;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", argv[1], e->d_name);
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        n += replay_file(path);
    }
    closedir(d);
    printf("%d passed, 0 failed\n", n);
    return n > 0 ? 0 : 1;
}
