/* mat_v5_check.c: structural check of a MATLAB v5 file before libmatio reads it.
 *
 * Why: libmatio 1.5.23 returns a variable whose data was cut short by the end of the file
 * as if it were complete (the rest of its buffer is uninitialised memory), so a truncated
 * .mat would silently give garbage flows. This walk proves, for the variables we read (V,
 * and I0, I1 with images), that libmatio will find every byte it needs.
 *
 * Format subset walked (MAT-file format, v5): the 128-byte header (version 0x0100, endian
 * indicator "IM" or "MI"), then top-level data elements, each miMATRIX (14, padded to 8
 * bytes) or miCOMPRESSED (15, a zlib stream holding one miMATRIX, inflated here with a bound
 * taken from the inner tag and SP_MH_MAX_ELEMENTS). Inside a miMATRIX: array flags
 * (miUINT32, 8 bytes), dimensions (miINT32), name (miINT8, small format allowed), then for a
 * numeric class the real part, whose byte count must equal the product of the dimensions
 * times the element size of its stored type, inside the element. Other classes (cell,
 * struct, char, sparse, ...) are only bounds-checked; they are errors if they are one of the
 * variables we read. Every read is bounds-checked against the buffer.
 */
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "sp_internal.h"
#include "matio_h5_internal.h"

typedef struct v5_reader {
    const char *path;
    int be;     /* the file is big-endian */
    int images; /* I0 and I1 are needed */
    int seen[3]; /* V, I0, I1 found and checked */
} v5_reader;

static uint32_t load32(const v5_reader *r, const unsigned char *p)
{
    return r->be ? sp__load_be32(p) : sp__load_le32(p);
}

/* A data element tag at p (avail bytes): type, byte count and where its data starts. */
typedef struct v5_elem {
    uint32_t type, nbytes;
    const unsigned char *data;
    size_t total; /* tag + data + padding to 8 */
} v5_elem;

static int read_elem(const v5_reader *r, const unsigned char *p, size_t avail, v5_elem *e)
{
    if (avail < 8) return 0;
    uint32_t const w0 = load32(r, p);
    if (w0 >> 16) { /* small data element: 2-byte count, 2-byte type, 4 bytes of data */
        e->type = w0 & 0xffff, e->nbytes = w0 >> 16, e->data = p + 4, e->total = 8;
        return e->nbytes <= 4;
    }
    e->type = w0, e->nbytes = load32(r, p + 4), e->data = p + 8;
    size_t const padded = ((size_t)e->nbytes + 7) & ~(size_t)7;
    e->total = 8 + padded;
    return (size_t)e->nbytes <= avail - 8; /* padding past the end of the last element is tolerated */
}

static size_t mi_size(uint32_t t)
{
    switch (t) {
    case 1: case 2: return 1;  /* miINT8, miUINT8 */
    case 3: case 4: return 2;  /* miINT16, miUINT16 */
    case 5: case 6: case 7: return 4; /* miINT32, miUINT32, miSINGLE */
    case 9: case 12: case 13: return 8; /* miDOUBLE, miINT64, miUINT64 */
    default: return 0;
    }
}

static int var_slot(const char *name)
{
    return strcmp(name, "V") == 0 ? 0 : strcmp(name, "I0") == 0 ? 1 : strcmp(name, "I1") == 0 ? 2 : -1;
}

/* Checks one miMATRIX whose contents are body[0, len). */
static sp_status check_matrix(v5_reader *r, const unsigned char *body, size_t len, sp_error *err)
{
    v5_elem flags, dims, name;
    size_t off = 0;
    if (len == 0) return SP_OK; /* an empty matrix element */
    SP_RETURN_IF(!read_elem(r, body, len, &flags) || flags.nbytes < 8 || flags.total > len, err, SP_ERR_CORRUPT,
                 "%s: damaged array header (truncated or corrupt .mat)", r->path);
    off += flags.total;
    SP_RETURN_IF(!read_elem(r, body + off, len - off, &dims) || dims.total > len - off || dims.nbytes % 4 != 0 ||
                     dims.nbytes == 0,
                 err, SP_ERR_CORRUPT, "%s: damaged array dimensions (truncated or corrupt .mat)", r->path);
    off += dims.total;
    SP_RETURN_IF(!read_elem(r, body + off, len - off, &name) || name.total > len - off || name.nbytes > 63, err,
                 SP_ERR_CORRUPT, "%s: damaged array name (truncated or corrupt .mat)", r->path);
    off += name.total;
    char nm[64];
    memcpy(nm, name.data, name.nbytes);
    nm[name.nbytes] = '\0';
    int const slot = var_slot(nm);
    if (slot < 0 || r->seen[slot] || (slot > 0 && !r->images)) return SP_OK; /* libmatio will not read it */
    unsigned const cls = load32(r, flags.data) & 0xff;
    if (cls < 6 || cls > 15) return SP_OK; /* not numeric: the reader rejects it by class */
    size_t count = 1;
    for (size_t k = 0; k < dims.nbytes / 4; k++) {
        uint32_t const d = load32(r, dims.data + 4 * k);
        SP_RETURN_IF(d > 0x7fffffff || !sp__mul_size(count, d, &count), err, SP_ERR_CORRUPT,
                     "%s: variable %s has invalid dimensions", r->path, nm);
    }
    v5_elem re;
    SP_RETURN_IF(!read_elem(r, body + off, len - off, &re) || mi_size(re.type) == 0, err, SP_ERR_CORRUPT,
                 "%s: variable %s has a damaged data element", r->path, nm);
    size_t need = 0;
    SP_RETURN_IF(!sp__mul_size(count, mi_size(re.type), &need) || need != re.nbytes ||
                     (size_t)(re.data - body) + re.nbytes > len,
                 err, SP_ERR_CORRUPT, "%s: variable %s holds %u data bytes where its shape needs %zu (truncated or "
                 "corrupt .mat)", r->path, nm, re.nbytes, need);
    r->seen[slot] = 1;
    return SP_OK;
}

/* Inflates a miCOMPRESSED element and checks the miMATRIX inside it. */
static sp_status check_compressed(v5_reader *r, const unsigned char *z, size_t zlen, sp_error *err)
{
    unsigned char head[8];
    z_stream s;
    memset(&s, 0, sizeof s);
    SP_RETURN_IF(inflateInit(&s) != Z_OK, err, SP_ERR_NOMEM, "%s: cannot start zlib", r->path);
    s.next_in = (Bytef *)(uintptr_t)z, s.avail_in = (uInt)(zlen > 0xffffffffu ? 0xffffffffu : zlen);
    s.next_out = head, s.avail_out = sizeof head;
    int zr = inflate(&s, Z_SYNC_FLUSH);
    sp_status st = SP_OK;
    size_t const bound = SP_MH_MAX_ELEMENTS * 8 + 65536;
    if (s.avail_out != 0 || !(zr == Z_OK || zr == Z_STREAM_END))
        st = sp_error_set(err, SP_ERR_CORRUPT, "%s: damaged compressed variable (truncated or corrupt .mat)", r->path);
    else if (load32(r, head) != 14 || load32(r, head + 4) > bound)
        st = sp_error_set(err, SP_ERR_CORRUPT, "%s: a compressed variable does not hold an array", r->path);
    unsigned char *body = NULL;
    size_t const blen = st == SP_OK ? load32(r, head + 4) : 0;
    if (st == SP_OK && (body = (unsigned char *)malloc(blen ? blen : 1)) == NULL)
        st = sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory", r->path);
    if (st == SP_OK && blen > 0) {
        s.next_out = body, s.avail_out = (uInt)blen;
        zr = inflate(&s, Z_FINISH);
        if (s.avail_out != 0 || !(zr == Z_OK || zr == Z_STREAM_END || zr == Z_BUF_ERROR))
            st = sp_error_set(err, SP_ERR_CORRUPT, "%s: damaged compressed variable (truncated or corrupt .mat)",
                              r->path);
    }
    inflateEnd(&s);
    if (st == SP_OK) st = check_matrix(r, body, blen, err);
    free(body);
    return st;
}

sp_status sp__mat_v5_check(const char *path, const unsigned char *buf, size_t len, int images, sp_error *err)
{
    v5_reader r;
    memset(&r, 0, sizeof r);
    r.path = path, r.images = images;
    SP_RETURN_IF(len < 128, err, SP_ERR_CORRUPT, "%s: too short for a .mat header", path);
    r.be = buf[126] == 'M' && buf[127] == 'I';
    SP_RETURN_IF(!r.be && !(buf[126] == 'I' && buf[127] == 'M'), err, SP_ERR_UNSUPPORTED,
                 "%s: not a MATLAB v5 or v7.3 file (MATLAB v4 files, which cannot hold the 3-D V, are not read)",
                 path);
    size_t off = 128;
    while (off < len) {
        v5_elem e;
        SP_RETURN_IF(!read_elem(&r, buf + off, len - off, &e) || (e.type != 14 && e.type != 15), err, SP_ERR_CORRUPT,
                     "%s: damaged variable at byte %zu (truncated or corrupt .mat)", path, off);
        if (e.type == 15) SP_TRY(check_compressed(&r, e.data, e.nbytes, err));
        else SP_TRY(check_matrix(&r, e.data, e.nbytes, err));
        off += e.type == 15 ? 8 + (size_t)e.nbytes : e.total;
    }
    return SP_OK;
}
