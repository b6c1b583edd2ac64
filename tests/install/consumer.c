/* consumer.c: a program outside the tree, built against an installed synthpix (through
 * pkg-config and through find_package; tests/install/run.sh). It uses the public API only:
 * the embedded default configuration, one batch, and the version of the library it runs
 * with. Exit status 0 when all is well, 1 otherwise. */
#include <stdio.h>

#include "sp/sp.h"

static int check_images(const sp_batch *b)
{
    size_t const n = b->batch_size * b->height * b->width;
    const float *const imgs[2] = {b->images1, b->images2};
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < n; i++)
            if (!(imgs[k][i] >= 0.0f && imgs[k][i] <= 255.0f)) {
                fprintf(stderr, "consumer: images%d[%zu] = %g is outside [0, 255]\n", k + 1, i, (double)imgs[k][i]);
                return 0;
            }
    return n > 0;
}

int main(void)
{
    if (sp_version_number() != SP_VERSION_NUMBER) {
        fprintf(stderr, "consumer: headers %s but library %s\n", SP_VERSION_STRING, sp_version_string());
        return 1;
    }
    sp_config cfg;
    sp_status st = sp_config_load_default(&cfg, NULL);
    if (st != SP_OK) {
        fprintf(stderr, "consumer: default configuration: %s\n", sp_strerror(st));
        return 1;
    }
    sp_error err;
    sp_error_clear(&err);
    sp_sampler *s = NULL;
    const sp_batch *b = NULL;
    st = sp_sampler_create(&s, &cfg, NULL, &err);
    if (st == SP_OK) st = sp_sampler_next(s, &b, &err);
    int const ok = st == SP_OK && check_images(b);
    if (st != SP_OK) fprintf(stderr, "consumer: %s: %s\n", sp_strerror(st), err.message);
    else printf("consumer: synthpix %s, %zu pairs of %zux%zu\n", sp_version_string(), b->batch_size, b->height,
                b->width);
    sp_sampler_free(s);
    sp_config_free(&cfg);
    return ok ? 0 : 1;
}
