/* io_file.c: byte swapping shared by the src/io readers (whole-file reading is the core
 * module's sp__fs_read_whole, src/internal/sp_fsutil.h).
 */
#include "io_private.h"


void sp__io_byteswap(unsigned char *p, size_t n, size_t es)
{
    for (size_t i = 0; i < n; i++, p += es) {
        for (size_t a = 0, b = es - 1; a < b; a++, b--) {
            unsigned char const t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
    }
}
