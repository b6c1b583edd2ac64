/* sp_python.c: synthpix._core, the CPython extension under the synthpix package.
 *
 * A thin layer over the public C API (include/sp/): every decision about configurations,
 * streams, checkpoints and formats is made by libsynthpix; this file converts arguments,
 * releases the GIL around every call that does real work, and turns sp_status codes into
 * the package's exceptions. The Python modules beside it (python/synthpix/) give the typed,
 * documented API; nothing here is meant to be called by users directly.
 *
 * Objects:
 *   Config   an sp_config (loaded from a file, YAML text or the embedded default)
 *   Sampler  an sp_sampler; next_into() renders the next batch's frames and flows straight
 *            into buffers the caller allocated (numpy arrays) and copies the metadata in, so
 *            every batch the package returns owns its memory (docs/python.md, "Arrays");
 *            memory() hands out recycled blocks for those arrays
 *   Memory   one block of a sampler's recycled batch memory
 *   Manager  an sp_ckpt_manager
 * Functions: save_at / restore_at / metadata_at (sp_ckpt_*_at), options_from_flax, generate
 * (sp_generate: the dataset job), and small queries (version, features, dtypes, the params
 * layout).
 *
 * Checkpoint trees cross the boundary as lists of leaves, one tuple per leaf:
 *   (path, "array", descr, shape, buffer)   saving: a C-contiguous buffer in native order
 *   (path, "array", dtype, shape, bytearray) restoring: the stored bytes
 *   (path, "i64", int) (path, "f64", float) (path, "str", str) (path, "json", text)
 * The pytree mapping (nested dicts, lists and tuples) is python/synthpix/_pytree.py.
 *
 * Threads: the GIL is released while the library works, so several Python threads may run
 * samplers and checkpoint calls at once. One object is used by one thread at a time (the
 * library's rule); a second thread entering a busy object gets RuntimeError instead of a
 * data race.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sp/sp.h"

/* ---- exceptions --------------------------------------------------------------------------- */

/* Classes defined in synthpix/errors.py, handed over by _register_exceptions at import. */
static PyObject *exc_error, *exc_config, *exc_config_warning, *exc_flow, *exc_episode_end, *exc_ckpt,
    *exc_ckpt_notfound, *exc_ckpt_exists, *exc_ckpt_mismatch, *exc_dataset;

typedef enum err_ctx { CTX_GENERAL, CTX_SAMPLER, CTX_CKPT, CTX_DATASET } err_ctx;

static PyObject *class_for(err_ctx ctx, sp_status st)
{
    if (st == SP_ERR_NOMEM) return PyExc_MemoryError;
    if (ctx == CTX_CKPT) {
        if (st == SP_ERR_NOTFOUND) return exc_ckpt_notfound;
        if (st == SP_ERR_EXISTS) return exc_ckpt_exists;
        if (st == SP_ERR_MISMATCH) return exc_ckpt_mismatch;
        return exc_ckpt;
    }
    if (st == SP_ERR_CONFIG) return exc_config;
    if (ctx == CTX_DATASET) /* sp_generate after its checks: the output, its lock, its checkpoints */
        return st == SP_ERR_INVALID || st == SP_ERR_RANGE ? exc_config : exc_dataset;
    if (ctx == CTX_SAMPLER) {
        switch (st) {
        case SP_ERR_EPISODE_END: return exc_episode_end;
        case SP_ERR_INVALID:
        case SP_ERR_RANGE:
        case SP_ERR_MISMATCH: return exc_config;
        case SP_ERR_NOTFOUND:
        case SP_ERR_IO:
        case SP_ERR_CORRUPT:
        case SP_ERR_UNSUPPORTED:
        case SP_ERR_CHECKSUM:
        case SP_ERR_NOSPC: return exc_flow;
        default: return exc_error;
        }
    }
    return st == SP_ERR_INVALID ? PyExc_ValueError : exc_error;
}

/* Raises the exception for st with the library's message; the instance carries `status`
 * (the symbolic name, "SP_ERR_NOTFOUND"). Returns NULL. */
static PyObject *raise_status(err_ctx ctx, sp_status st, const sp_error *e)
{
    if (exc_error == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "synthpix._core used before synthpix was imported");
        return NULL;
    }
    const char *const msg = e && e->message[0] ? e->message : sp_strerror(st);
    PyObject *const cls = class_for(ctx, st);
    PyObject *const exc = PyObject_CallFunction(cls, "s", msg);
    if (exc == NULL) return NULL;
    if (cls != PyExc_MemoryError && cls != PyExc_ValueError)
        (void)PyObject_SetAttrString(exc, "status", PyUnicode_FromString(sp_status_name(st)));
    PyErr_SetObject(cls, exc);
    Py_DECREF(exc);
    return NULL;
}

static PyObject *register_exceptions(PyObject *mod, PyObject *args)
{
    (void)mod;
    PyObject *v[10];
    if (!PyArg_ParseTuple(args, "OOOOOOOOOO", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]))
        return NULL;
    PyObject **const slot[10] = {&exc_error, &exc_config, &exc_config_warning, &exc_flow, &exc_episode_end,
                                 &exc_ckpt, &exc_ckpt_notfound, &exc_ckpt_exists, &exc_ckpt_mismatch, &exc_dataset};
    for (int i = 0; i < 10; i++) {
        Py_INCREF(v[i]);
        Py_XSETREF(*slot[i], v[i]);
    }
    Py_RETURN_NONE;
}

/* ---- one thread per object ---------------------------------------------------------------- */

static int enter(atomic_int *busy, const char *what)
{
    if (atomic_exchange(busy, 1)) {
        PyErr_Format(PyExc_RuntimeError, "this %s is in use by another thread (use one per thread)", what);
        return 0;
    }
    return 1;
}

static void leave(atomic_int *busy)
{
    atomic_store(busy, 0);
}

/* ---- Config ------------------------------------------------------------------------------- */

typedef struct ConfigObject {
    PyObject_HEAD sp_config cfg;
    int loaded;
} ConfigObject;

/* Issues the warnings of d, and returns the errors as text ("source:L:C: error: ...") in a
 * new str (NULL on failure). */
static PyObject *diag_report(const sp_diag *d, const char *source)
{
    for (size_t i = 0; i < d->count; i++) {
        if (d->items[i].level != SP_DIAG_WARNING) continue;
        if (PyErr_WarnFormat(exc_config_warning, 2, "%s: %s", source, d->items[i].message) < 0) return NULL;
    }
    char *text = NULL;
    size_t len = 0;
    FILE *const f = open_memstream(&text, &len);
    if (f == NULL) return PyErr_NoMemory();
    for (size_t i = 0; i < d->count; i++) {
        if (d->items[i].level != SP_DIAG_ERROR) continue;
        sp_diag one = {&d->items[i], 1, 1}; /* a view of one item: the library formats it */
        sp_diag_print(&one, source, f);
    }
    fclose(f);
    while (len > 0 && text[len - 1] == '\n') text[--len] = 0;
    PyObject *const s = PyUnicode_DecodeUTF8(text, (Py_ssize_t)len, "replace");
    free(text);
    return s;
}

static PyObject *diag_list(const sp_diag *d)
{
    PyObject *const list = PyList_New(0);
    for (size_t i = 0; list && i < d->count; i++) {
        const sp_diag_item *const it = &d->items[i];
        PyObject *const item = Py_BuildValue("{s:s,s:s,s:s,s:i,s:i}", "level",
                                             it->level == SP_DIAG_ERROR ? "error" : "warning", "key", it->key,
                                             "message", it->message, "line", it->line, "column", it->column);
        if (item == NULL || PyList_Append(list, item) < 0) {
            Py_XDECREF(item);
            Py_DECREF(list);
            return NULL;
        }
        Py_DECREF(item);
    }
    return list;
}

static int Config_init(ConfigObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"path", "text", "name", "base_dir", NULL};
    const char *path = NULL, *text = NULL, *name = "<string>", *base_dir = NULL;
    Py_ssize_t text_len = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|$zz#zz", kwlist, &path, &text, &text_len, &name, &base_dir))
        return -1;
    if (self->loaded) sp_config_free(&self->cfg);
    self->loaded = 0;
    sp_diag d;
    sp_diag_init(&d);
    sp_status st;
    Py_BEGIN_ALLOW_THREADS;
    if (path) st = sp_config_load_file(&self->cfg, path, &d);
    else if (text) st = sp_config_load_string(&self->cfg, text, (size_t)text_len, name, base_dir, &d);
    else st = sp_config_load_default(&self->cfg, &d);
    Py_END_ALLOW_THREADS;
    const char *const source = path ? path : text ? name : "<embedded default>";
    PyObject *const report = diag_report(&d, source);
    if (report == NULL) {
        if (st == SP_OK) sp_config_free(&self->cfg);
        sp_diag_free(&d);
        return -1;
    }
    if (st != SP_OK) {
        sp_error e;
        sp_error_clear(&e);
        snprintf(e.message, sizeof e.message, "%s", PyUnicode_AsUTF8(report));
        if (st == SP_ERR_NOTFOUND || st == SP_ERR_IO || st == SP_ERR_NOMEM) { /* the file, not its content */
            PyErr_SetString(st == SP_ERR_NOTFOUND ? PyExc_FileNotFoundError
                            : st == SP_ERR_IO     ? PyExc_OSError
                                                  : PyExc_MemoryError,
                            e.message[0] ? e.message : sp_strerror(st));
            Py_DECREF(report);
            sp_diag_free(&d);
            return -1;
        }
        raise_status(CTX_GENERAL, SP_ERR_CONFIG, &e);
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        PyErr_NormalizeException(&type, &value, &tb);
        PyObject *const items = diag_list(&d);
        if (value && items) (void)PyObject_SetAttrString(value, "diagnostics", items);
        Py_XDECREF(items);
        PyErr_Restore(type, value, tb);
        Py_DECREF(report);
        sp_diag_free(&d);
        return -1;
    }
    Py_DECREF(report);
    sp_diag_free(&d);
    self->loaded = 1;
    return 0;
}

static void Config_dealloc(ConfigObject *self)
{
    if (self->loaded) sp_config_free(&self->cfg);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *config_yaml(const sp_config *cfg)
{
    sp_membuf buf = {0};
    sp_sink const sink = sp_sink_membuf(&buf);
    sp_error e;
    sp_error_clear(&e);
    sp_status const st = sp_config_write_yaml(cfg, &sink, &e);
    if (st != SP_OK) {
        sp_membuf_free(&buf);
        return raise_status(CTX_GENERAL, st, &e);
    }
    PyObject *const s = PyUnicode_DecodeUTF8((const char *)buf.data, (Py_ssize_t)buf.size, "strict");
    sp_membuf_free(&buf);
    return s;
}

static PyObject *Config_yaml(ConfigObject *self, void *closure)
{
    (void)closure;
    return config_yaml(&self->cfg);
}

static PyObject *Config_source(ConfigObject *self, void *closure)
{
    (void)closure;
    return PyUnicode_FromString(self->cfg.source_name ? self->cfg.source_name : "");
}

static PyGetSetDef Config_getset[] = {
    {"yaml", (getter)Config_yaml, NULL, "The resolved configuration as YAML (every key).", NULL},
    {"source", (getter)Config_source, NULL, "Where the configuration came from.", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject ConfigType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "synthpix._core.Config",
    .tp_basicsize = sizeof(ConfigObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A loaded synthpix configuration (sp_config).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Config_init,
    .tp_dealloc = (destructor)Config_dealloc,
    .tp_getset = Config_getset,
};

/* ---- Sampler ------------------------------------------------------------------------------ */

/* ---- recycled batch memory ------------------------------------------------------------------
 *
 * A batch's frames and flows are rendered straight into its arrays, so a fresh batch needs
 * fresh memory: with 256x256, B = 64 that is 67 MB a batch, and memory above glibc's
 * largest mmap threshold (32 MiB: the flow array here) comes from new pages that the kernel
 * zeroes on first touch, every batch (next() ran at 0.83 of the C loop, next(out=) at 1.0).
 * Each sampler therefore keeps the blocks of batches the program has dropped, up to
 * SP_PY_POOL_BLOCKS of them, and hands them out again: a Memory object owns one block and
 * exports it through the buffer protocol (the numpy array over it keeps it alive); when the
 * last view goes, the block returns to its sampler's pool, or is freed once the pool is
 * full or the sampler closed. A block is never handed out while anything can still see it,
 * so every batch still owns its arrays. The GIL guards the pool: blocks are taken in
 * Sampler.memory() and returned in Memory's dealloc, both with the GIL held. */
#define SP_PY_POOL_BLOCKS 8 /* two batches of up to 4 frames, or three of 2 frames and a flow */

typedef struct mem_pool {
    Py_ssize_t refs; /* the sampler + every live Memory block of it */
    int closed;      /* the sampler was closed: blocks coming back are freed */
    int n;
    void *block[SP_PY_POOL_BLOCKS];
    size_t size[SP_PY_POOL_BLOCKS];
} mem_pool;

static void pool_release(mem_pool *pool)
{
    if (pool != NULL && --pool->refs == 0) PyMem_RawFree(pool);
}

static void pool_close(mem_pool *pool)
{
    if (pool == NULL) return;
    pool->closed = 1;
    for (int i = 0; i < pool->n; i++) free(pool->block[i]);
    pool->n = 0;
    pool_release(pool);
}

typedef struct MemoryObject {
    PyObject_HEAD void *p;
    size_t size;
    mem_pool *pool;
} MemoryObject;

static int Memory_getbuffer(MemoryObject *self, Py_buffer *view, int flags)
{
    return PyBuffer_FillInfo(view, (PyObject *)self, self->p, (Py_ssize_t)self->size, 0, flags);
}

static void Memory_dealloc(MemoryObject *self)
{
    mem_pool *const pool = self->pool;
    if (pool != NULL && !pool->closed && pool->n < SP_PY_POOL_BLOCKS) {
        pool->block[pool->n] = self->p;
        pool->size[pool->n++] = self->size;
    } else {
        free(self->p);
    }
    pool_release(pool);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyBufferProcs Memory_as_buffer = {(getbufferproc)Memory_getbuffer, NULL};

static PyTypeObject MemoryType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "synthpix._core.Memory",
    .tp_basicsize = sizeof(MemoryObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "One block of a sampler's recycled batch memory (writable buffer).",
    .tp_dealloc = (destructor)Memory_dealloc,
    .tp_as_buffer = &Memory_as_buffer,
};

/* A block of `size` bytes: the most recently returned one of that size, else a new one
 * (64-byte aligned). */
static PyObject *pool_take(mem_pool *pool, size_t size)
{
    MemoryObject *const m = PyObject_New(MemoryObject, &MemoryType);
    if (m == NULL) return NULL;
    m->p = NULL;
    for (int i = pool->n - 1; i >= 0 && m->p == NULL; i--) {
        if (pool->size[i] != size) continue;
        m->p = pool->block[i];
        pool->block[i] = pool->block[pool->n - 1];
        pool->size[i] = pool->size[pool->n - 1];
        pool->n--;
    }
    if (m->p == NULL && posix_memalign(&m->p, 64, size ? size : 1) != 0) {
        m->p = NULL;
        m->pool = NULL;
        Py_DECREF(m);
        return PyErr_NoMemory();
    }
    m->size = size;
    m->pool = pool;
    pool->refs++;
    return (PyObject *)m;
}

typedef struct SamplerObject {
    PyObject_HEAD sp_sampler *s;
    atomic_int busy;
    mem_pool *pool;
} SamplerObject;

static int sampler_open(SamplerObject *self)
{
    if (self->s == NULL) {
        PyErr_SetString(PyExc_ValueError, "the sampler is closed");
        return 0;
    }
    return 1;
}

static int Sampler_init(SamplerObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"config", "threads", "shard_index", "shard_count", "prefetch_threads", "flow_files", NULL};
    PyObject *cfg = NULL;
    unsigned threads = 0, shard_index = 0, shard_count = 0, prefetch = 0;
    int flow_files = SP_FLOW_FILES_AUTO;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!|IIIIi", kwlist, &ConfigType, &cfg, &threads, &shard_index,
                                     &shard_count, &prefetch, &flow_files))
        return -1;
    if (flow_files != SP_FLOW_FILES_AUTO && flow_files != SP_FLOW_FILES_READ && flow_files != SP_FLOW_FILES_MAP) {
        PyErr_Format(PyExc_ValueError, "flow_files: %d is not one of 0 (auto), 1 (read), 2 (map)", flow_files);
        return -1;
    }
    if (self->s) {
        PyErr_SetString(PyExc_RuntimeError, "Sampler.__init__ called twice");
        return -1;
    }
    sp_sampler_options o;
    sp_sampler_options_init(&o);
    o.threads = threads;
    o.shard_index = shard_index;
    o.shard_count = shard_count;
    o.prefetch_threads = prefetch;
    o.flow_files = flow_files;
    sp_error e;
    sp_error_clear(&e);
    sp_status st;
    sp_sampler *s = NULL;
    Py_BEGIN_ALLOW_THREADS;
    st = sp_sampler_create(&s, &((ConfigObject *)cfg)->cfg, &o, &e);
    Py_END_ALLOW_THREADS;
    if (st != SP_OK) {
        raise_status(CTX_SAMPLER, st, &e);
        return -1;
    }
    self->pool = (mem_pool *)PyMem_RawCalloc(1, sizeof *self->pool);
    if (self->pool == NULL) {
        sp_sampler_free(s);
        PyErr_NoMemory();
        return -1;
    }
    self->pool->refs = 1;
    self->s = s;
    return 0;
}

static void Sampler_dealloc(SamplerObject *self)
{
    sp_sampler_free(self->s);
    pool_close(self->pool);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* memory(nbytes): a writable block for a batch's frames or flows (see "recycled batch
 * memory"). */
static PyObject *Sampler_memory(SamplerObject *self, PyObject *args)
{
    Py_ssize_t n = 0;
    if (!PyArg_ParseTuple(args, "n", &n)) return NULL;
    if (n < 0) {
        PyErr_SetString(PyExc_ValueError, "memory: negative size");
        return NULL;
    }
    if (!sampler_open(self)) return NULL;
    return pool_take(self->pool, (size_t)n);
}

static PyObject *Sampler_close(SamplerObject *self, PyObject *unused)
{
    (void)unused;
    if (!enter(&self->busy, "Sampler")) return NULL;
    sp_sampler *const s = self->s;
    self->s = NULL;
    mem_pool *const pool = self->pool;
    self->pool = NULL;
    pool_close(pool); /* blocks still in use are freed when their arrays go */
    Py_BEGIN_ALLOW_THREADS;
    sp_sampler_free(s); /* joins the pool's and the prefetchers' threads */
    Py_END_ALLOW_THREADS;
    leave(&self->busy);
    Py_RETURN_NONE;
}

/* The buffers of one batch, acquired writable and C-contiguous with their exact sizes. */
enum { BUF_IMG1, BUF_IMG2, BUF_FLOW, BUF_PARAMS, BUF_KEYS, BUF_SEEDS, BUF_EPOCH, BUF_MASK, BUF_RECORDS, BUF_DONE,
       BUF_COUNT };

static const char *const buf_names[BUF_COUNT] = {"images1", "images2", "flow_fields", "params", "keys",
                                                  "seeds",   "epoch",   "mask",        "records", "done"};

static void batch_sizes(const sp_sampler *s, size_t sizes[BUF_COUNT])
{
    const sp_geometry *const g = sp_sampler_geometry(s);
    size_t const B = (size_t)sp_sampler_config(s)->batch_size;
    sizes[BUF_IMG1] = sizes[BUF_IMG2] = B * g->height * g->width * sizeof(float);
    sizes[BUF_FLOW] = B * g->flow_h * g->flow_w * 2 * sizeof(float);
    sizes[BUF_PARAMS] = B * sizeof(sp_pair_params);
    sizes[BUF_KEYS] = B * sizeof(sp_key);
    sizes[BUF_SEEDS] = B * sizeof(uint32_t);
    sizes[BUF_EPOCH] = B * sizeof(int32_t);
    sizes[BUF_MASK] = B;
    sizes[BUF_RECORDS] = B * sizeof(uint64_t);
    sizes[BUF_DONE] = sp_sampler_config(s)->episode_length > 0 ? B : 0;
}

static void release_all(Py_buffer *v, int n)
{
    for (int i = 0; i < n; i++)
        if (v[i].obj) PyBuffer_Release(&v[i]);
}

static int acquire_batch_buffers(PyObject *const objs[BUF_COUNT], const size_t sizes[BUF_COUNT],
                                 Py_buffer v[BUF_COUNT])
{
    memset(v, 0, sizeof(Py_buffer) * BUF_COUNT);
    for (int i = 0; i < BUF_COUNT; i++) {
        if (sizes[i] == 0 && objs[i] == Py_None) continue;
        if (PyObject_GetBuffer(objs[i], &v[i], PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0) {
            release_all(v, i);
            return 0;
        }
        if ((size_t)v[i].len != sizes[i]) {
            PyErr_Format(PyExc_ValueError, "%s: buffer of %zd bytes, the batch needs %zu", buf_names[i], v[i].len,
                         sizes[i]);
            release_all(v, i + 1);
            return 0;
        }
    }
    return 1;
}

/* Frames 3 .. K (key frames; docs/realism.md): one (B, H, W) float32 buffer each, given
 * as a tuple of K - 2 writable arrays. */
typedef struct frame_buffers {
    Py_buffer v[SP_MAX_FRAMES - 2];
    int n;
} frame_buffers;

static void release_frames(frame_buffers *fb)
{
    release_all(fb->v, fb->n);
    fb->n = 0;
}

static int acquire_frames(PyObject *seq, size_t frames, size_t bytes, frame_buffers *fb)
{
    memset(fb, 0, sizeof *fb);
    size_t const want = frames - 2;
    if (!PyTuple_Check(seq) || (size_t)PyTuple_GET_SIZE(seq) != want) {
        PyErr_Format(PyExc_ValueError, "frames 3 .. %zu: expected a tuple of %zu arrays", frames, want);
        return 0;
    }
    for (size_t f = 0; f < want; f++, fb->n++) {
        Py_buffer *const v = &fb->v[f];
        if (PyObject_GetBuffer(PyTuple_GET_ITEM(seq, (Py_ssize_t)f), v, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0) {
            release_frames(fb);
            return 0;
        }
        if ((size_t)v->len != bytes) {
            PyErr_Format(PyExc_ValueError, "images[%zu]: buffer of %zd bytes, the batch needs %zu", f + 2, v->len,
                         bytes);
            fb->n++;
            release_frames(fb);
            return 0;
        }
    }
    return 1;
}

/* Copies the batch into the buffers, except those it already lives in (frames and flows
 * rendered in place by sp_sampler_next_into). */
static void copy_batch(const sp_batch *b, Py_buffer v[BUF_COUNT], frame_buffers *fb)
{
    const void *const src[BUF_COUNT] = {b->images1, b->images2, b->flow_fields, b->params, b->keys,
                                        b->seeds,   b->epoch,   b->mask,        b->records, b->done};
    for (int i = 0; i < BUF_COUNT; i++)
        if (v[i].obj && v[i].len > 0 && v[i].buf != src[i]) memcpy(v[i].buf, src[i], (size_t)v[i].len);
    for (int f = 0; f < fb->n && (size_t)f + 2 < b->frames; f++)
        if (fb->v[f].buf != b->images[f + 2]) memcpy(fb->v[f].buf, b->images[f + 2], (size_t)fb->v[f].len);
}

/* The next batch: synthetic pairs are rendered straight into the caller's frame and flow
 * buffers (sp_sampler_next_into; copying 2 frames and a flow afterwards cost 14-23 % of a
 * 256x256 batch's time), real image pairs are copied. Called without the GIL. */
static sp_status next_batch(sp_sampler *s, int in_place, Py_buffer v[BUF_COUNT], frame_buffers *fb,
                            const sp_batch **b, sp_error *e)
{
    sp_batch_buffers buf;
    memset(&buf, 0, sizeof buf);
    buf.images[0] = (float *)v[BUF_IMG1].buf;
    buf.images[1] = (float *)v[BUF_IMG2].buf;
    for (int f = 0; f < fb->n; f++) buf.images[f + 2] = (float *)fb->v[f].buf;
    buf.flow_fields = (float *)v[BUF_FLOW].buf;
    int aligned = ((uintptr_t)buf.flow_fields % _Alignof(float)) == 0; /* any buffer protocol object may come */
    for (int f = 0; f < fb->n + 2; f++) aligned &= ((uintptr_t)buf.images[f] % _Alignof(float)) == 0;
    if (!in_place || !aligned) return sp_sampler_next(s, b, e);
    return sp_sampler_next_into(s, &buf, b, e);
}

static PyObject *batch_meta(const sp_batch *b)
{
    PyObject *const files = PyTuple_New((Py_ssize_t)b->batch_size);
    for (size_t k = 0; files && k < b->batch_size; k++) {
        PyObject *const f = PyUnicode_DecodeFSDefault(b->files[k] ? b->files[k] : "");
        if (f == NULL) {
            Py_DECREF(files);
            return NULL;
        }
        PyTuple_SET_ITEM(files, (Py_ssize_t)k, f);
    }
    if (files == NULL) return NULL;
    return Py_BuildValue("(NKKIL)", files, (unsigned long long)b->batch_index, (unsigned long long)b->first_pair,
                         (unsigned)b->repetition, (long long)b->timestep);
}

/* next_into(images1, images2, flow_fields, params, keys, seeds, epoch, mask, records, done,
 * frames): renders the next batch with the GIL released and copies it into the ten buffers
 * (done is None outside episodic mode) and the tuple `frames` of frames 3 .. K (empty for
 * K = 2). Returns (files, batch_index, first_pair, repetition, timestep), or None when a
 * finite stream has ended. */
static PyObject *Sampler_next_into(SamplerObject *self, PyObject *args)
{
    PyObject *objs[BUF_COUNT], *extra = NULL;
    if (!PyArg_ParseTuple(args, "OOOOOOOOOOO", &objs[0], &objs[1], &objs[2], &objs[3], &objs[4], &objs[5], &objs[6],
                          &objs[7], &objs[8], &objs[9], &extra))
        return NULL;
    if (!enter(&self->busy, "Sampler")) return NULL;
    if (!sampler_open(self)) {
        leave(&self->busy);
        return NULL;
    }
    size_t sizes[BUF_COUNT];
    batch_sizes(self->s, sizes);
    Py_buffer v[BUF_COUNT];
    if (!acquire_batch_buffers(objs, sizes, v)) {
        leave(&self->busy);
        return NULL;
    }
    const sp_config *const cfg = sp_sampler_config(self->s);
    frame_buffers fb;
    if (!acquire_frames(extra, cfg->include_images ? 2 : (size_t)cfg->frames, sizes[BUF_IMG1], &fb)) {
        release_all(v, BUF_COUNT);
        leave(&self->busy);
        return NULL;
    }
    const sp_batch *b = NULL;
    sp_error e;
    sp_error_clear(&e);
    sp_status st;
    int const in_place = !cfg->include_images;
    Py_BEGIN_ALLOW_THREADS;
    st = next_batch(self->s, in_place, v, &fb, &b, &e);
    if (st == SP_OK) copy_batch(b, v, &fb);
    Py_END_ALLOW_THREADS;
    release_all(v, BUF_COUNT);
    release_frames(&fb);
    PyObject *res = NULL;
    if (st == SP_OK) {
        res = batch_meta(b); /* b stays valid: this thread still holds the sampler */
    } else if (st == SP_ERR_END) {
        res = Py_NewRef(Py_None);
    } else {
        raise_status(CTX_SAMPLER, st, &e);
    }
    leave(&self->busy);
    return res;
}

static PyObject *Sampler_reset(SamplerObject *self, PyObject *unused)
{
    (void)unused;
    if (!enter(&self->busy, "Sampler")) return NULL;
    if (sampler_open(self)) {
        Py_BEGIN_ALLOW_THREADS;
        sp_sampler_reset(self->s);
        Py_END_ALLOW_THREADS;
    }
    leave(&self->busy);
    if (PyErr_Occurred()) return NULL;
    Py_RETURN_NONE;
}

static PyObject *Sampler_next_episode(SamplerObject *self, PyObject *unused)
{
    (void)unused;
    if (!enter(&self->busy, "Sampler")) return NULL;
    sp_status st = SP_OK;
    sp_error e;
    sp_error_clear(&e);
    if (sampler_open(self)) {
        Py_BEGIN_ALLOW_THREADS;
        st = sp_sampler_next_episode(self->s, &e);
        Py_END_ALLOW_THREADS;
    }
    leave(&self->busy);
    if (PyErr_Occurred()) return NULL;
    if (st == SP_ERR_INVALID) return PyErr_Format(PyExc_AttributeError, "%s", e.message); /* SynthPix's error */
    if (st != SP_OK) return raise_status(CTX_SAMPLER, st, &e);
    Py_RETURN_NONE;
}

/* skip(n) -> batches skipped (sp_sampler_skip); n when the stream goes on, fewer at its
 * end (then raises EpisodeEndError in episodic mode, returns the count at the end of a
 * finite stream). */
static PyObject *Sampler_skip(SamplerObject *self, PyObject *args)
{
    unsigned long long n = 0;
    if (!PyArg_ParseTuple(args, "K", &n)) return NULL;
    if (!enter(&self->busy, "Sampler")) return NULL;
    sp_status st = SP_OK;
    sp_error e;
    sp_error_clear(&e);
    uint64_t skipped = 0;
    if (sampler_open(self)) {
        Py_BEGIN_ALLOW_THREADS;
        st = sp_sampler_skip(self->s, (uint64_t)n, &skipped, &e);
        Py_END_ALLOW_THREADS;
    }
    leave(&self->busy);
    if (PyErr_Occurred()) return NULL;
    if (st != SP_OK && st != SP_ERR_END) return raise_status(CTX_SAMPLER, st, &e);
    return PyLong_FromUnsignedLongLong((unsigned long long)skipped);
}

/* restore(dir, step=-1) -> the step restored (sp_pipeline_restore_dir). */
static PyObject *Sampler_restore(SamplerObject *self, PyObject *args)
{
    const char *dir = NULL;
    long long step = SP_CKPT_LATEST;
    if (!PyArg_ParseTuple(args, "s|L", &dir, &step)) return NULL;
    if (!enter(&self->busy, "Sampler")) return NULL;
    sp_status st = SP_OK;
    sp_error e;
    sp_error_clear(&e);
    int64_t restored = -1;
    if (sampler_open(self)) {
        Py_BEGIN_ALLOW_THREADS;
        st = sp_pipeline_restore_dir(self->s, dir, (int64_t)step, &restored, &e);
        Py_END_ALLOW_THREADS;
    }
    leave(&self->busy);
    if (PyErr_Occurred()) return NULL;
    if (st != SP_OK) return raise_status(CTX_CKPT, st, &e);
    return PyLong_FromLongLong((long long)restored);
}

/* save_checkpoint(dir, step, max_to_keep) (sp_save_checkpoint). */
static PyObject *Sampler_save_checkpoint(SamplerObject *self, PyObject *args)
{
    const char *dir = NULL;
    long long step = 0, keep = 1;
    if (!PyArg_ParseTuple(args, "sLL", &dir, &step, &keep)) return NULL;
    if (!enter(&self->busy, "Sampler")) return NULL;
    sp_status st = SP_OK;
    sp_error e;
    sp_error_clear(&e);
    if (sampler_open(self)) {
        Py_BEGIN_ALLOW_THREADS;
        st = sp_save_checkpoint(dir, self->s, (int64_t)step, (int64_t)keep, &e);
        Py_END_ALLOW_THREADS;
    }
    leave(&self->busy);
    if (PyErr_Occurred()) return NULL;
    if (st != SP_OK) return raise_status(CTX_CKPT, st, &e);
    Py_RETURN_NONE;
}

static PyObject *Sampler_layout(SamplerObject *self, void *closure)
{
    (void)closure;
    if (!sampler_open(self)) return NULL;
    const sp_geometry *const g = sp_sampler_geometry(self->s);
    const sp_config *const c = sp_sampler_config(self->s);
    return Py_BuildValue("{s:i,s:n,s:n,s:n,s:n,s:i,s:K,s:i}", "batch_size", c->batch_size, "height",
                         (Py_ssize_t)g->height, "width", (Py_ssize_t)g->width, "flow_height", (Py_ssize_t)g->flow_h,
                         "flow_width", (Py_ssize_t)g->flow_w, "episode_length", c->episode_length, "records",
                         (unsigned long long)sp_sampler_records(self->s), "frames",
                         c->include_images ? 2 : c->frames);
}

static PyObject *Sampler_geometry(SamplerObject *self, void *closure)
{
    (void)closure;
    if (!sampler_open(self)) return NULL;
    const sp_geometry *const g = sp_sampler_geometry(self->s);
    return Py_BuildValue("{s:(nn),s:(nn),s:(nn),s:(dd),s:d,s:(nn),s:d,s:i,s:d,s:n}", "image_shape",
                         (Py_ssize_t)g->height, (Py_ssize_t)g->width, "canvas_shape", (Py_ssize_t)g->canvas_h,
                         (Py_ssize_t)g->canvas_w, "crop", (Py_ssize_t)g->crop_y, (Py_ssize_t)g->crop_x, "origin",
                         g->origin_y, g->origin_x, "resolution", g->resolution, "flow_shape",
                         (Py_ssize_t)g->flow_h, (Py_ssize_t)g->flow_w, "flow_step", g->flow_step, "radius",
                         g->radius, "sigma_max", g->sigma_max, "max_particles", (Py_ssize_t)g->max_particles);
}

static PyObject *Sampler_config_yaml(SamplerObject *self, void *closure)
{
    (void)closure;
    if (!sampler_open(self)) return NULL;
    return config_yaml(sp_sampler_config(self->s));
}

static PyObject *Sampler_closed(SamplerObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(self->s == NULL);
}

static PyMethodDef Sampler_methods[] = {
    {"next_into", (PyCFunction)Sampler_next_into, METH_VARARGS, "Render the next batch into ten buffers."},
    {"memory", (PyCFunction)Sampler_memory, METH_VARARGS, "A recycled writable block for a batch's arrays."},
    {"reset", (PyCFunction)Sampler_reset, METH_NOARGS, "Back to the start of the stream."},
    {"skip", (PyCFunction)Sampler_skip, METH_VARARGS, "Advance n batches without rendering them."},
    {"next_episode", (PyCFunction)Sampler_next_episode, METH_NOARGS, "Start the next episodes."},
    {"restore", (PyCFunction)Sampler_restore, METH_VARARGS, "Restore a checkpoint step of a root."},
    {"save_checkpoint", (PyCFunction)Sampler_save_checkpoint, METH_VARARGS, "Save the stream's state."},
    {"close", (PyCFunction)Sampler_close, METH_NOARGS, "Free the sampler and its threads."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef Sampler_getset[] = {
    {"layout", (getter)Sampler_layout, NULL, "Batch dimensions.", NULL},
    {"geometry", (getter)Sampler_geometry, NULL, "The seeding geometry (sp_geometry).", NULL},
    {"config_yaml", (getter)Sampler_config_yaml, NULL, "The resolved configuration.", NULL},
    {"closed", (getter)Sampler_closed, NULL, "True once closed.", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject SamplerType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "synthpix._core.Sampler",
    .tp_basicsize = sizeof(SamplerObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "An sp_sampler.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Sampler_init,
    .tp_dealloc = (destructor)Sampler_dealloc,
    .tp_methods = Sampler_methods,
    .tp_getset = Sampler_getset,
};

/* ---- checkpoint trees --------------------------------------------------------------------- */

typedef struct tree_build {
    sp_tree *t;
    Py_buffer *views; /* borrowed arrays: released after the call that uses the tree */
    Py_ssize_t n_views;
} tree_build;

static void tree_build_free(tree_build *b)
{
    sp_tree_free(b->t);
    release_all(b->views, (int)b->n_views);
    PyMem_Free(b->views);
    memset(b, 0, sizeof *b);
}

static int leaf_fail(sp_status st, const sp_error *e)
{
    raise_status(CTX_CKPT, st, e);
    return 0;
}

static int add_array_leaf(tree_build *b, const char *path, PyObject *item)
{
    const char *descr = NULL;
    PyObject *shape = NULL, *obj = NULL;
    const char *p = NULL, *kind = NULL;
    if (!PyArg_ParseTuple(item, "sssO!O", &p, &kind, &descr, &PyTuple_Type, &shape, &obj)) return 0;
    sp_dtype dt;
    int swap = 0;
    if (!sp_dtype_from_descr(descr, &dt, &swap))
        return PyErr_Format(PyExc_TypeError, "leaf '%s': dtype %s is not supported", path, descr), 0;
    if (swap) return PyErr_Format(PyExc_ValueError, "leaf '%s': %s is not in native byte order", path, descr), 0;
    Py_ssize_t const ndim = PyTuple_GET_SIZE(shape);
    if (ndim > SP_CKPT_MAX_RANK)
        return PyErr_Format(PyExc_ValueError, "leaf '%s': rank %zd exceeds %d", path, ndim, SP_CKPT_MAX_RANK), 0;
    uint64_t dims[SP_CKPT_MAX_RANK];
    size_t count = 1;
    for (Py_ssize_t i = 0; i < ndim; i++) {
        unsigned long long const d = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(shape, i));
        if (PyErr_Occurred()) return 0;
        dims[i] = d;
        count *= (size_t)d;
    }
    Py_buffer *const v = &b->views[b->n_views];
    if (PyObject_GetBuffer(obj, v, PyBUF_C_CONTIGUOUS) < 0) return 0;
    b->n_views++;
    if ((size_t)v->len != count * sp_dtype_size(dt))
        return PyErr_Format(PyExc_ValueError, "leaf '%s': buffer of %zd bytes for shape and dtype %s", path, v->len,
                            descr),
               0;
    sp_error e;
    sp_error_clear(&e);
    sp_status const st = sp_tree_add_array_ref(b->t, path, dt, (size_t)ndim, ndim ? dims : NULL, v->buf, &e);
    return st == SP_OK ? 1 : leaf_fail(st, &e);
}

static int add_leaf(tree_build *b, PyObject *item)
{
    if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) < 3)
        return PyErr_SetString(PyExc_TypeError, "a leaf is a tuple (path, kind, value...)"), 0;
    const char *const path = PyUnicode_AsUTF8(PyTuple_GET_ITEM(item, 0));
    const char *const kind = PyUnicode_AsUTF8(PyTuple_GET_ITEM(item, 1));
    if (path == NULL || kind == NULL) return 0;
    PyObject *const val = PyTuple_GET_ITEM(item, 2);
    sp_error e;
    sp_error_clear(&e);
    sp_status st = SP_OK;
    if (strcmp(kind, "array") == 0) return add_array_leaf(b, path, item);
    if (strcmp(kind, "i64") == 0) {
        int overflow = 0;
        long long const v = PyLong_AsLongLongAndOverflow(val, &overflow);
        if (overflow) return PyErr_Format(PyExc_OverflowError, "leaf '%s': integer does not fit in int64", path), 0;
        if (v == -1 && PyErr_Occurred()) return 0;
        st = sp_tree_add_i64(b->t, path, (int64_t)v, &e);
    } else if (strcmp(kind, "f64") == 0) {
        double const v = PyFloat_AsDouble(val);
        if (v == -1.0 && PyErr_Occurred()) return 0;
        st = sp_tree_add_f64(b->t, path, v, &e);
    } else if (strcmp(kind, "str") == 0 || strcmp(kind, "json") == 0) {
        Py_ssize_t n = 0;
        const char *const text = PyUnicode_AsUTF8AndSize(val, &n);
        if (text == NULL) return 0;
        if ((size_t)n != strlen(text))
            return PyErr_Format(PyExc_ValueError, "leaf '%s': strings may not hold NUL characters", path), 0;
        st = kind[0] == 's' ? sp_tree_add_string(b->t, path, text, &e) : sp_tree_add_json(b->t, path, text, &e);
    } else {
        return PyErr_Format(PyExc_TypeError, "leaf '%s': unknown kind '%s'", path, kind), 0;
    }
    return st == SP_OK ? 1 : leaf_fail(st, &e);
}

/* Builds a tree from a list of leaf tuples (arrays borrowed until tree_build_free). */
static int build_tree(PyObject *leaves, tree_build *b)
{
    memset(b, 0, sizeof *b);
    PyObject *const seq = PySequence_Fast(leaves, "leaves must be a sequence");
    if (seq == NULL) return 0;
    Py_ssize_t const n = PySequence_Fast_GET_SIZE(seq);
    b->views = (Py_buffer *)PyMem_Calloc((size_t)(n ? n : 1), sizeof *b->views);
    if (b->views == NULL || sp_tree_create(&b->t) != SP_OK) {
        Py_DECREF(seq);
        tree_build_free(b);
        PyErr_NoMemory();
        return 0;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!add_leaf(b, PySequence_Fast_GET_ITEM(seq, i))) {
            Py_DECREF(seq);
            tree_build_free(b);
            return 0;
        }
    }
    Py_DECREF(seq);
    return 1;
}

static PyObject *leaf_tuple(const sp_leaf_view *v)
{
    switch (v->kind) {
    case SP_LEAF_ARRAY: {
        PyObject *const shape = PyTuple_New((Py_ssize_t)v->ndim);
        for (size_t d = 0; shape && d < v->ndim; d++)
            PyTuple_SET_ITEM(shape, (Py_ssize_t)d, PyLong_FromUnsignedLongLong((unsigned long long)v->shape[d]));
        if (shape == NULL) return NULL;
        PyObject *const data = PyByteArray_FromStringAndSize((const char *)v->data, (Py_ssize_t)v->nbytes);
        if (data == NULL) {
            Py_DECREF(shape);
            return NULL;
        }
        return Py_BuildValue("(sssNN)", v->path, "array", sp_dtype_numpy_name(v->dtype), shape, data);
    }
    case SP_LEAF_I64: return Py_BuildValue("(ssL)", v->path, "i64", (long long)v->i64);
    case SP_LEAF_F64: return Py_BuildValue("(ssd)", v->path, "f64", v->f64);
    case SP_LEAF_STRING: return Py_BuildValue("(sss)", v->path, "str", v->text);
    case SP_LEAF_JSON: return Py_BuildValue("(sss)", v->path, "json", v->text);
    }
    return PyErr_Format(PyExc_RuntimeError, "leaf '%s': unknown kind %d", v->path, (int)v->kind);
}

static PyObject *tree_list(const sp_tree *t)
{
    size_t const n = sp_tree_count(t);
    PyObject *const list = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; list && i < n; i++) {
        sp_leaf_view v;
        PyObject *const item = sp_tree_at(t, i, &v) == SP_OK ? leaf_tuple(&v) : NULL;
        if (item == NULL) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_RuntimeError, "tree walk failed");
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, item);
    }
    return list;
}

/* metrics: a dict str -> float, or None. The names stay owned by the dict. */
typedef struct metrics_arg {
    sp_ckpt_metric *v;
    size_t n;
} metrics_arg;

static int parse_metrics(PyObject *obj, metrics_arg *m)
{
    memset(m, 0, sizeof *m);
    if (obj == NULL || obj == Py_None) return 1;
    if (!PyDict_Check(obj)) return PyErr_SetString(PyExc_TypeError, "metrics must be a dict of str -> float"), 0;
    Py_ssize_t const n = PyDict_Size(obj);
    m->v = (sp_ckpt_metric *)PyMem_Calloc((size_t)(n ? n : 1), sizeof *m->v);
    if (m->v == NULL) return PyErr_NoMemory(), 0;
    Py_ssize_t pos = 0;
    PyObject *k, *val;
    while (PyDict_Next(obj, &pos, &k, &val)) {
        m->v[m->n].name = PyUnicode_AsUTF8(k);
        m->v[m->n].value = PyFloat_AsDouble(val);
        if (m->v[m->n].name == NULL || PyErr_Occurred()) {
            PyMem_Free(m->v);
            return 0;
        }
        m->n++;
    }
    return 1;
}

static PyObject *info_dict(const sp_ckpt_step_info *i)
{
    return Py_BuildValue("{s:L,s:L,s:L,s:K,s:K,s:O,s:s,s:s}", "step", (long long)i->step, "init_ns",
                         (long long)i->init_ns, "commit_ns", (long long)i->commit_ns, "total_bytes",
                         (unsigned long long)i->total_bytes, "n_files", (unsigned long long)i->n_files, "damaged",
                         i->damaged ? Py_True : Py_False, "dir_name", i->dir_name, "items", i->items);
}

/* save_at(path, leaves, force=False, custom_metadata_json=None, metrics=None) */
static PyObject *py_save_at(PyObject *mod, PyObject *args, PyObject *kw)
{
    (void)mod;
    static char *kwlist[] = {"path", "leaves", "force", "custom_metadata_json", "metrics", NULL};
    PyObject *path_obj = NULL, *leaves = NULL, *metrics = NULL;
    int force = 0;
    const char *custom = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&O|pzO", kwlist, PyUnicode_FSConverter, &path_obj, &leaves, &force,
                                     &custom, &metrics))
        return NULL;
    tree_build b;
    metrics_arg m;
    if (!build_tree(leaves, &b)) {
        Py_DECREF(path_obj);
        return NULL;
    }
    if (!parse_metrics(metrics, &m)) {
        tree_build_free(&b);
        Py_DECREF(path_obj);
        return NULL;
    }
    sp_ckpt_save_args a;
    sp_ckpt_save_args_init(&a);
    a.force = force;
    a.custom_metadata_json = custom;
    a.metrics = m.n ? m.v : NULL;
    a.n_metrics = m.n;
    sp_error e;
    sp_error_clear(&e);
    sp_status st;
    const char *const path = PyBytes_AS_STRING(path_obj);
    Py_BEGIN_ALLOW_THREADS;
    st = sp_ckpt_save_at(path, b.t, &a, &e);
    Py_END_ALLOW_THREADS;
    tree_build_free(&b);
    PyMem_Free(m.v);
    Py_DECREF(path_obj);
    if (st != SP_OK) return raise_status(CTX_CKPT, st, &e);
    Py_RETURN_NONE;
}

static int restore_args_from(sp_ckpt_restore_args *r, int partial, int placeholders, int fallback,
                             int64_t *restored)
{
    sp_ckpt_restore_args_init(r);
    r->partial = partial;
    r->scalar_placeholders = placeholders;
    r->fallback = fallback;
    r->restored_step = restored;
    return 1;
}

/* restore_at(path, target=None, partial=False, scalar_placeholders=False) -> (step, leaves) */
static PyObject *py_restore_at(PyObject *mod, PyObject *args, PyObject *kw)
{
    (void)mod;
    static char *kwlist[] = {"path", "target", "partial", "scalar_placeholders", NULL};
    PyObject *path_obj = NULL, *target = Py_None;
    int partial = 0, placeholders = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|Opp", kwlist, PyUnicode_FSConverter, &path_obj, &target, &partial,
                                     &placeholders))
        return NULL;
    tree_build b;
    memset(&b, 0, sizeof b);
    if (target != Py_None && !build_tree(target, &b)) {
        Py_DECREF(path_obj);
        return NULL;
    }
    int64_t restored = -1;
    sp_ckpt_restore_args r;
    restore_args_from(&r, partial, placeholders, 0, &restored);
    sp_tree *out = NULL;
    sp_error e;
    sp_error_clear(&e);
    sp_status st;
    const char *const path = PyBytes_AS_STRING(path_obj);
    Py_BEGIN_ALLOW_THREADS;
    st = sp_ckpt_restore_at(path, b.t, &r, &out, &e);
    Py_END_ALLOW_THREADS;
    tree_build_free(&b);
    Py_DECREF(path_obj);
    if (st != SP_OK) return raise_status(CTX_CKPT, st, &e);
    PyObject *const list = tree_list(out);
    sp_tree_free(out);
    return list ? Py_BuildValue("(LN)", (long long)restored, list) : NULL;
}

/* metadata_at(path) -> (info, metadata_json) */
static PyObject *py_metadata_at(PyObject *mod, PyObject *args)
{
    (void)mod;
    PyObject *path_obj = NULL;
    if (!PyArg_ParseTuple(args, "O&", PyUnicode_FSConverter, &path_obj)) return NULL;
    sp_ckpt_step_info info;
    char *json = NULL;
    sp_error e;
    sp_error_clear(&e);
    sp_status st;
    const char *const path = PyBytes_AS_STRING(path_obj);
    Py_BEGIN_ALLOW_THREADS;
    st = sp_ckpt_metadata_at(path, &info, &json, &e);
    Py_END_ALLOW_THREADS;
    Py_DECREF(path_obj);
    if (st != SP_OK) {
        free(json);
        return raise_status(CTX_CKPT, st, &e);
    }
    PyObject *const res = Py_BuildValue("(Ns)", info_dict(&info), json);
    free(json);
    return res;
}

/* ---- Manager ------------------------------------------------------------------------------ */

typedef struct ManagerObject {
    PyObject_HEAD sp_ckpt_manager *m;
    atomic_int busy;
    PyObject *should_save_fn;
    PyObject *cb_type, *cb_value, *cb_tb; /* an exception raised by should_save_fn */
} ManagerObject;

/* Orbax's should_save_fn(step, last_saved_step or None), called with the GIL released. An
 * exception counts as "no" and is re-raised when the call that asked returns. */
static int should_save_cb(void *ctx, int64_t step, int64_t last)
{
    ManagerObject *const self = (ManagerObject *)ctx;
    PyGILState_STATE const g = PyGILState_Ensure();
    int r = 0;
    if (self->cb_type == NULL) {
        PyObject *const res = last < 0 ? PyObject_CallFunction(self->should_save_fn, "LO", (long long)step, Py_None)
                                       : PyObject_CallFunction(self->should_save_fn, "LL", (long long)step,
                                                               (long long)last);
        r = res ? PyObject_IsTrue(res) : -1;
        Py_XDECREF(res);
        if (r < 0) {
            PyErr_Fetch(&self->cb_type, &self->cb_value, &self->cb_tb);
            r = 0;
        }
    }
    PyGILState_Release(g);
    return r;
}

/* After a call that may have run should_save_fn: 1 when it raised (now the current error). */
static int callback_raised(ManagerObject *self)
{
    if (self->cb_type == NULL) return 0;
    PyErr_Restore(self->cb_type, self->cb_value, self->cb_tb);
    self->cb_type = self->cb_value = self->cb_tb = NULL;
    return 1;
}

static int parse_steps(PyObject *obj, int64_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (obj == Py_None) return 1;
    PyObject *const seq = PySequence_Fast(obj, "save_on_steps must be a sequence of integers");
    if (seq == NULL) return 0;
    Py_ssize_t const k = PySequence_Fast_GET_SIZE(seq);
    *out = (int64_t *)PyMem_Calloc((size_t)(k ? k : 1), sizeof **out);
    for (Py_ssize_t i = 0; *out && i < k; i++) {
        (*out)[i] = PyLong_AsLongLong(PySequence_Fast_GET_ITEM(seq, i));
        if (PyErr_Occurred()) {
            PyMem_Free(*out);
            *out = NULL;
            Py_DECREF(seq);
            return 0;
        }
    }
    Py_DECREF(seq);
    if (*out == NULL) return PyErr_NoMemory(), 0;
    *n = (size_t)k;
    return 1;
}

static int Manager_init(ManagerObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"root", "max_to_keep", "keep_period", "keep_time_interval_ns", "best_metric",
                             "best_mode_min", "keep_checkpoints_without_metrics", "save_interval_steps",
                             "save_on_steps", "should_save_fn", "step_prefix", "step_format_fixed_length",
                             "detect_naming", "create", "cleanup_tmp_directories", "read_only", "enable_async",
                             "async_staging_cap", "async_timeout_ms", "compression_level", "chunk_bytes", "durable",
                             NULL};
    sp_ckpt_options o;
    sp_ckpt_options_init(&o);
    PyObject *root_obj = NULL, *steps = Py_None, *fn = Py_None;
    long long max_to_keep = o.max_to_keep, keep_period = o.keep_period, interval_ns = 0, save_interval = 1;
    long long timeout_ms = o.async_timeout_ms;
    const char *best = NULL, *prefix = NULL;
    int best_min = 0, keep_without = 1, fixed = 0, detect = 0, create = 1, cleanup = 0, ro = 0, async_ = 0;
    int level = -1, durable = 1;
    unsigned long long cap = o.async_staging_cap, chunk = o.chunk_bytes;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|$LLLzppLOOzipppppKLiKp", kwlist, PyUnicode_FSConverter, &root_obj,
                                     &max_to_keep, &keep_period, &interval_ns, &best, &best_min, &keep_without,
                                     &save_interval, &steps, &fn, &prefix, &fixed, &detect, &create, &cleanup, &ro,
                                     &async_, &cap, &timeout_ms, &level, &chunk, &durable))
        return -1;
    if (self->m) {
        Py_DECREF(root_obj);
        PyErr_SetString(PyExc_RuntimeError, "Manager.__init__ called twice");
        return -1;
    }
    int64_t *on_steps = NULL;
    size_t n_on = 0;
    if (fn != Py_None && !PyCallable_Check(fn)) {
        Py_DECREF(root_obj);
        PyErr_SetString(PyExc_TypeError, "should_save_fn must be callable");
        return -1;
    }
    if (!parse_steps(steps, &on_steps, &n_on)) {
        Py_DECREF(root_obj);
        return -1;
    }
    o.max_to_keep = max_to_keep;
    o.keep_period = keep_period;
    o.keep_time_interval_ns = interval_ns;
    o.best_metric = best;
    o.best_mode = best_min ? SP_CKPT_BEST_MIN : SP_CKPT_BEST_MAX;
    o.keep_checkpoints_without_metrics = keep_without;
    o.save_interval_steps = save_interval;
    o.save_on_steps = on_steps;
    o.n_save_on_steps = n_on;
    if (fn != Py_None) {
        Py_INCREF(fn);
        self->should_save_fn = fn;
        o.should_save_fn = should_save_cb;
        o.should_save_ctx = self;
    }
    o.step_prefix = prefix;
    o.step_format_fixed_length = fixed;
    o.detect_naming = detect;
    o.create = create;
    o.cleanup_tmp_directories = cleanup;
    o.read_only = ro;
    o.enable_async = async_;
    o.async_staging_cap = (size_t)cap;
    o.async_timeout_ms = timeout_ms;
    o.compression_level = level;
    o.chunk_bytes = (size_t)chunk;
    o.durable = durable;
    sp_error e;
    sp_error_clear(&e);
    sp_status st;
    sp_ckpt_manager *m = NULL;
    const char *const root = PyBytes_AS_STRING(root_obj);
    Py_BEGIN_ALLOW_THREADS;
    st = sp_ckpt_manager_open(&m, root, &o, &e);
    Py_END_ALLOW_THREADS;
    PyMem_Free(on_steps);
    Py_DECREF(root_obj);
    if (st != SP_OK) {
        raise_status(CTX_CKPT, st, &e);
        return -1;
    }
    self->m = m;
    return 0;
}

static sp_status manager_close(ManagerObject *self, int64_t timeout_ms, sp_error *e)
{
    sp_ckpt_manager *const m = self->m;
    self->m = NULL;
    sp_status st;
    Py_BEGIN_ALLOW_THREADS;
    st = sp_ckpt_manager_close(m, timeout_ms, e);
    Py_END_ALLOW_THREADS;
    return st;
}

static void Manager_dealloc(ManagerObject *self)
{
    if (self->m) {
        sp_error e;
        (void)manager_close(self, -1, &e);
    }
    Py_XDECREF(self->should_save_fn);
    Py_XDECREF(self->cb_type);
    Py_XDECREF(self->cb_value);
    Py_XDECREF(self->cb_tb);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Common entry: the manager is open and this thread holds it. */
static int mgr_enter(ManagerObject *self)
{
    if (!enter(&self->busy, "CheckpointManager")) return 0;
    if (self->m == NULL) {
        leave(&self->busy);
        PyErr_SetString(PyExc_ValueError, "the checkpoint manager is closed");
        return 0;
    }
    return 1;
}

static PyObject *mgr_result(ManagerObject *self, sp_status st, const sp_error *e, PyObject *ok)
{
    leave(&self->busy);
    if (callback_raised(self)) {
        Py_XDECREF(ok);
        return NULL;
    }
    if (st != SP_OK) {
        Py_XDECREF(ok);
        return raise_status(CTX_CKPT, st, e);
    }
    return ok;
}

/* save(step, leaves, force=False, metrics=None, custom_metadata_json=None, timeout_ms=-1) -> bool */
static PyObject *Manager_save(ManagerObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"step", "leaves", "force", "metrics", "custom_metadata_json", "timeout_ms", NULL};
    long long step = 0, timeout_ms = -1;
    PyObject *leaves = NULL, *metrics = Py_None;
    int force = 0;
    const char *custom = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "LO|pOzL", kwlist, &step, &leaves, &force, &metrics, &custom,
                                     &timeout_ms))
        return NULL;
    if (!mgr_enter(self)) return NULL;
    tree_build b;
    metrics_arg m;
    if (!build_tree(leaves, &b)) {
        leave(&self->busy);
        return NULL;
    }
    if (!parse_metrics(metrics, &m)) {
        tree_build_free(&b);
        leave(&self->busy);
        return NULL;
    }
    sp_ckpt_save_args a;
    sp_ckpt_save_args_init(&a);
    a.force = force;
    a.metrics = m.n ? m.v : NULL;
    a.n_metrics = m.n;
    a.custom_metadata_json = custom;
    a.timeout_ms = timeout_ms;
    int saved = 0;
    sp_error e;
    sp_error_clear(&e);
    sp_status st;
    Py_BEGIN_ALLOW_THREADS;
    st = sp_ckpt_save(self->m, (int64_t)step, b.t, &a, &saved, &e);
    Py_END_ALLOW_THREADS;
    tree_build_free(&b);
    PyMem_Free(m.v);
    return mgr_result(self, st, &e, PyBool_FromLong(saved));
}

/* restore(step=-1, target=None, partial=False, fallback=False, scalar_placeholders=False) -> (step, leaves) */
static PyObject *Manager_restore(ManagerObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"step", "target", "partial", "fallback", "scalar_placeholders", NULL};
    long long step = SP_CKPT_LATEST;
    PyObject *target = Py_None;
    int partial = 0, fallback = 0, placeholders = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|LOppp", kwlist, &step, &target, &partial, &fallback,
                                     &placeholders))
        return NULL;
    if (!mgr_enter(self)) return NULL;
    tree_build b;
    memset(&b, 0, sizeof b);
    if (target != Py_None && !build_tree(target, &b)) {
        leave(&self->busy);
        return NULL;
    }
    int64_t restored = -1;
    sp_ckpt_restore_args r;
    restore_args_from(&r, partial, placeholders, fallback, &restored);
    sp_tree *out = NULL;
    sp_error e;
    sp_error_clear(&e);
    sp_status st;
    Py_BEGIN_ALLOW_THREADS;
    st = sp_ckpt_restore(self->m, (int64_t)step, b.t, &r, &out, &e);
    Py_END_ALLOW_THREADS;
    tree_build_free(&b);
    PyObject *list = NULL;
    if (st == SP_OK && (list = tree_list(out)) == NULL) {
        sp_tree_free(out);
        leave(&self->busy);
        return NULL;
    }
    sp_tree_free(out);
    return mgr_result(self, st, &e, st == SP_OK ? Py_BuildValue("(LN)", (long long)restored, list) : NULL);
}

static PyObject *step_or_none(int64_t s)
{
    if (s < 0) Py_RETURN_NONE;
    return PyLong_FromLongLong((long long)s);
}

static PyObject *Manager_latest_step(ManagerObject *self, PyObject *unused)
{
    (void)unused;
    if (!mgr_enter(self)) return NULL;
    int64_t s;
    Py_BEGIN_ALLOW_THREADS;
    s = sp_ckpt_latest_step(self->m);
    Py_END_ALLOW_THREADS;
    return mgr_result(self, SP_OK, NULL, step_or_none(s));
}

static PyObject *Manager_best_step(ManagerObject *self, PyObject *unused)
{
    (void)unused;
    if (!mgr_enter(self)) return NULL;
    int64_t s;
    Py_BEGIN_ALLOW_THREADS;
    s = sp_ckpt_best_step(self->m);
    Py_END_ALLOW_THREADS;
    return mgr_result(self, SP_OK, NULL, step_or_none(s));
}

static PyObject *Manager_all_steps(ManagerObject *self, PyObject *unused)
{
    (void)unused;
    if (!mgr_enter(self)) return NULL;
    size_t const n = sp_ckpt_all_steps(self->m, NULL, 0);
    int64_t *const v = (int64_t *)PyMem_Calloc(n ? n : 1, sizeof *v);
    size_t const got = v ? sp_ckpt_all_steps(self->m, v, n) : 0;
    PyObject *list = v ? PyList_New(0) : PyErr_NoMemory();
    for (size_t i = 0; list && i < got && i < n; i++) {
        PyObject *const x = PyLong_FromLongLong((long long)v[i]);
        if (x == NULL || PyList_Append(list, x) < 0) {
            Py_XDECREF(x);
            Py_CLEAR(list);
            break;
        }
        Py_DECREF(x);
    }
    PyMem_Free(v);
    if (list == NULL) {
        leave(&self->busy);
        return NULL;
    }
    return mgr_result(self, SP_OK, NULL, list);
}

static PyObject *Manager_should_save(ManagerObject *self, PyObject *args)
{
    long long step = 0;
    if (!PyArg_ParseTuple(args, "L", &step)) return NULL;
    if (!mgr_enter(self)) return NULL;
    int r;
    Py_BEGIN_ALLOW_THREADS;
    r = sp_ckpt_should_save(self->m, (int64_t)step);
    Py_END_ALLOW_THREADS;
    return mgr_result(self, SP_OK, NULL, PyBool_FromLong(r));
}

static PyObject *Manager_wait_until_finished(ManagerObject *self, PyObject *args)
{
    long long timeout_ms = -1;
    if (!PyArg_ParseTuple(args, "|L", &timeout_ms)) return NULL;
    if (!mgr_enter(self)) return NULL;
    sp_error e;
    sp_error_clear(&e);
    sp_status st;
    Py_BEGIN_ALLOW_THREADS;
    st = sp_ckpt_wait_until_finished(self->m, (int64_t)timeout_ms, &e);
    Py_END_ALLOW_THREADS;
    if (st != SP_OK && st != SP_ERR_TIMEOUT) sp_ckpt_clear_error(self->m); /* raised once, as Orbax */
    return mgr_result(self, st, &e, Py_NewRef(Py_None));
}

static PyObject *Manager_check_for_errors(ManagerObject *self, PyObject *unused)
{
    (void)unused;
    if (!mgr_enter(self)) return NULL;
    sp_error e;
    sp_error_clear(&e);
    sp_status const st = sp_ckpt_check_for_errors(self->m, &e);
    if (st != SP_OK) sp_ckpt_clear_error(self->m);
    return mgr_result(self, st, &e, Py_NewRef(Py_None));
}

static PyObject *Manager_delete(ManagerObject *self, PyObject *args)
{
    long long step = 0;
    if (!PyArg_ParseTuple(args, "L", &step)) return NULL;
    if (!mgr_enter(self)) return NULL;
    sp_error e;
    sp_error_clear(&e);
    sp_status st;
    Py_BEGIN_ALLOW_THREADS;
    st = sp_ckpt_delete(self->m, (int64_t)step, &e);
    Py_END_ALLOW_THREADS;
    return mgr_result(self, st, &e, Py_NewRef(Py_None));
}

static PyObject *Manager_quarantine(ManagerObject *self, PyObject *args)
{
    long long step = 0;
    if (!PyArg_ParseTuple(args, "L", &step)) return NULL;
    if (!mgr_enter(self)) return NULL;
    char moved[4096] = "";
    sp_error e;
    sp_error_clear(&e);
    sp_status st;
    Py_BEGIN_ALLOW_THREADS;
    st = sp_ckpt_quarantine(self->m, (int64_t)step, moved, sizeof moved, &e);
    Py_END_ALLOW_THREADS;
    return mgr_result(self, st, &e, st == SP_OK ? PyUnicode_DecodeFSDefault(moved) : NULL);
}

static PyObject *Manager_reload(ManagerObject *self, PyObject *unused)
{
    (void)unused;
    if (!mgr_enter(self)) return NULL;
    sp_error e;
    sp_error_clear(&e);
    sp_status st;
    Py_BEGIN_ALLOW_THREADS;
    st = sp_ckpt_reload(self->m, &e);
    Py_END_ALLOW_THREADS;
    return mgr_result(self, st, &e, Py_NewRef(Py_None));
}

static PyObject *Manager_foreign(ManagerObject *self, PyObject *unused)
{
    (void)unused;
    if (!mgr_enter(self)) return NULL;
    size_t const n = sp_ckpt_foreign_count(self->m);
    PyObject *list = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; list && i < n; i++) {
        PyObject *const s = PyUnicode_DecodeFSDefault(sp_ckpt_foreign_name(self->m, i));
        if (s == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, s);
    }
    if (list == NULL) {
        leave(&self->busy);
        return NULL;
    }
    return mgr_result(self, SP_OK, NULL, list);
}

static PyObject *Manager_metadata(ManagerObject *self, PyObject *args)
{
    long long step = SP_CKPT_LATEST;
    if (!PyArg_ParseTuple(args, "|L", &step)) return NULL;
    if (!mgr_enter(self)) return NULL;
    sp_ckpt_step_info info;
    char *json = NULL;
    sp_error e;
    sp_error_clear(&e);
    sp_status st;
    Py_BEGIN_ALLOW_THREADS;
    st = sp_ckpt_metadata(self->m, (int64_t)step, &info, &json, &e);
    Py_END_ALLOW_THREADS;
    PyObject *const res = st == SP_OK ? Py_BuildValue("(Nz)", info_dict(&info), json) : NULL;
    free(json);
    if (st == SP_OK && res == NULL) {
        leave(&self->busy);
        return NULL;
    }
    return mgr_result(self, st, &e, res);
}

typedef struct damage_list {
    char **v;
    size_t n;
} damage_list;

static void collect_damage(void *ctx, sp_status s, const char *message)
{
    damage_list *const d = (damage_list *)ctx;
    (void)s;
    char **const v = (char **)realloc(d->v, (d->n + 1) * sizeof *v);
    if (v == NULL) return;
    d->v = v;
    if ((d->v[d->n] = strdup(message)) != NULL) d->n++;
}

/* verify(step=-1) -> list of damage messages (empty: the step verifies) */
static PyObject *Manager_verify(ManagerObject *self, PyObject *args)
{
    long long step = SP_CKPT_LATEST;
    if (!PyArg_ParseTuple(args, "|L", &step)) return NULL;
    if (!mgr_enter(self)) return NULL;
    damage_list d = {NULL, 0};
    sp_error e;
    sp_error_clear(&e);
    sp_status st;
    Py_BEGIN_ALLOW_THREADS;
    st = sp_ckpt_verify(self->m, (int64_t)step, collect_damage, &d, &e);
    Py_END_ALLOW_THREADS;
    PyObject *list = PyList_New(0);
    for (size_t i = 0; i < d.n; i++) {
        PyObject *const s = list ? PyUnicode_DecodeUTF8(d.v[i], (Py_ssize_t)strlen(d.v[i]), "replace") : NULL;
        if (s == NULL || PyList_Append(list, s) < 0) Py_CLEAR(list);
        Py_XDECREF(s);
        free(d.v[i]);
    }
    free(d.v);
    if (list == NULL) {
        leave(&self->busy);
        return NULL;
    }
    if (st == SP_ERR_CHECKSUM || st == SP_ERR_CORRUPT) st = SP_OK; /* reported in the list */
    return mgr_result(self, st, &e, list);
}

static PyObject *Manager_close(ManagerObject *self, PyObject *args)
{
    long long timeout_ms = -1;
    if (!PyArg_ParseTuple(args, "|L", &timeout_ms)) return NULL;
    if (!enter(&self->busy, "CheckpointManager")) return NULL;
    if (self->m == NULL) {
        leave(&self->busy);
        Py_RETURN_NONE;
    }
    sp_error e;
    sp_error_clear(&e);
    sp_status const st = manager_close(self, (int64_t)timeout_ms, &e);
    return mgr_result(self, st, &e, Py_NewRef(Py_None));
}

static PyObject *Manager_root(ManagerObject *self, void *closure)
{
    (void)closure;
    if (self->m == NULL) Py_RETURN_NONE;
    return PyUnicode_DecodeFSDefault(sp_ckpt_root(self->m));
}

static PyObject *Manager_closed(ManagerObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(self->m == NULL);
}

static PyMethodDef Manager_methods[] = {
    {"save", (PyCFunction)(void (*)(void))Manager_save, METH_VARARGS | METH_KEYWORDS, "sp_ckpt_save"},
    {"restore", (PyCFunction)(void (*)(void))Manager_restore, METH_VARARGS | METH_KEYWORDS, "sp_ckpt_restore"},
    {"latest_step", (PyCFunction)Manager_latest_step, METH_NOARGS, "sp_ckpt_latest_step"},
    {"best_step", (PyCFunction)Manager_best_step, METH_NOARGS, "sp_ckpt_best_step"},
    {"all_steps", (PyCFunction)Manager_all_steps, METH_NOARGS, "sp_ckpt_all_steps"},
    {"should_save", (PyCFunction)Manager_should_save, METH_VARARGS, "sp_ckpt_should_save"},
    {"wait_until_finished", (PyCFunction)Manager_wait_until_finished, METH_VARARGS, "sp_ckpt_wait_until_finished"},
    {"check_for_errors", (PyCFunction)Manager_check_for_errors, METH_NOARGS, "sp_ckpt_check_for_errors"},
    {"delete", (PyCFunction)Manager_delete, METH_VARARGS, "sp_ckpt_delete"},
    {"quarantine", (PyCFunction)Manager_quarantine, METH_VARARGS, "sp_ckpt_quarantine"},
    {"reload", (PyCFunction)Manager_reload, METH_NOARGS, "sp_ckpt_reload"},
    {"foreign", (PyCFunction)Manager_foreign, METH_NOARGS, "sp_ckpt_foreign_count/name"},
    {"metadata", (PyCFunction)Manager_metadata, METH_VARARGS, "sp_ckpt_metadata"},
    {"verify", (PyCFunction)Manager_verify, METH_VARARGS, "sp_ckpt_verify"},
    {"close", (PyCFunction)Manager_close, METH_VARARGS, "sp_ckpt_manager_close"},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef Manager_getset[] = {{"root", (getter)Manager_root, NULL, "The root directory.", NULL},
                                       {"closed", (getter)Manager_closed, NULL, "True once closed.", NULL},
                                       {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject ManagerType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "synthpix._core.Manager",
    .tp_basicsize = sizeof(ManagerObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "An sp_ckpt_manager.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Manager_init,
    .tp_dealloc = (destructor)Manager_dealloc,
    .tp_methods = Manager_methods,
    .tp_getset = Manager_getset,
};

/* ---- the dataset job ---------------------------------------------------------------------- */

typedef struct notes {
    char **v;
    size_t n;
} notes;

static void collect_note(void *ctx, const char *line)
{
    notes *const d = (notes *)ctx;
    char **const v = (char **)realloc(d->v, (d->n + 1) * sizeof *v);
    if (v == NULL) return;
    d->v = v;
    if ((d->v[d->n] = strdup(line)) != NULL) d->n++;
}

static PyObject *notes_list(notes *d)
{
    PyObject *list = PyList_New(0);
    for (size_t i = 0; i < d->n; i++) {
        PyObject *const s = list ? PyUnicode_DecodeUTF8(d->v[i], (Py_ssize_t)strlen(d->v[i]), "replace") : NULL;
        if (s == NULL || PyList_Append(list, s) < 0) Py_CLEAR(list);
        Py_XDECREF(s);
        free(d->v[i]);
    }
    free(d->v);
    return list;
}

/* generate(config, dir, pairs, format, bit_depth, shard_size, threads, prefetch, shard_index,
 * shard_count, checkpoint_dir, checkpoint_every, max_to_keep, resume, overwrite, layout, split,
 * case) -> dict
 * (sp_generate). Errors before the job started writing are the sampler's (configuration,
 * flow files); after, the dataset writer's and the checkpoint manager's. */
static PyObject *py_generate(PyObject *mod, PyObject *args, PyObject *kw)
{
    (void)mod;
    static char *kwlist[] = {"config", "dir", "pairs", "format", "bit_depth", "shard_size", "threads", "prefetch",
                             "shard_index", "shard_count", "checkpoint_dir", "checkpoint_every", "max_to_keep",
                             "resume", "overwrite", "layout", "split", "case", NULL};
    PyObject *cfg = NULL, *dir_obj = NULL;
    unsigned long long pairs = 64, shard_size = 256, every = 100;
    const char *format = "png", *ckpt = NULL, *layout = "synthpix", *case_name = NULL;
    double split = 0.1;
    int bit_depth = 0, resume = 0, overwrite = 0;
    unsigned threads = 0, prefetch = 0, shard_index = 0, shard_count = 0;
    long long keep = 2;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!O&|KsiKIIIIzKLppsdz", kwlist, &ConfigType, &cfg,
                                     PyUnicode_FSConverter, &dir_obj, &pairs, &format, &bit_depth, &shard_size, &threads,
                                     &prefetch, &shard_index, &shard_count, &ckpt, &every, &keep, &resume, &overwrite,
                                     &layout, &split, &case_name))
        return NULL;
    sp_generate_options o;
    sp_generate_options_init(&o);
    if (!sp_dataset_format_parse(format, &o.dataset.format)) {
        Py_DECREF(dir_obj);
        return PyErr_Format(PyExc_ValueError, "format '%s': expected png, tiff, npy or h5", format);
    }
    if (!sp_dataset_layout_parse(layout, &o.dataset.layout)) {
        Py_DECREF(dir_obj);
        return PyErr_Format(PyExc_ValueError, "layout '%s': expected synthpix, cai, pykitpiv or liteflownet", layout);
    }
    o.dataset.split = split; /* the library checks it, and the case name, by name */
    o.dataset.case_name = case_name;
    o.dataset.pairs = pairs;
    o.dataset.bit_depth = bit_depth;
    o.dataset.shard_size = shard_size;
    o.dataset.overwrite = overwrite;
    o.sampler.threads = threads;
    o.sampler.prefetch_threads = prefetch;
    o.sampler.shard_index = shard_index;
    o.sampler.shard_count = shard_count;
    o.checkpoint_dir = ckpt;
    o.checkpoint_every = every;
    o.max_to_keep = keep;
    o.resume = resume;
    notes n = {NULL, 0};
    o.note = collect_note;
    o.note_ctx = &n;
    sp_generate_result r;
    memset(&r, 0, sizeof r);
    sp_error e;
    sp_error_clear(&e);
    sp_status st;
    const char *const dir = PyBytes_AS_STRING(dir_obj);
    Py_BEGIN_ALLOW_THREADS;
    st = sp_generate(&((ConfigObject *)cfg)->cfg, dir, &o, &r, &e);
    Py_END_ALLOW_THREADS;
    Py_DECREF(dir_obj);
    PyObject *const lines = notes_list(&n);
    if (st != SP_OK) {
        Py_XDECREF(lines);
        /* Before it started: the sampler's errors (configuration, flow files) are told apart
         * from the output folder's and the checkpoints' by their status. */
        int const input = st == SP_ERR_NOTFOUND || st == SP_ERR_CORRUPT || st == SP_ERR_UNSUPPORTED ||
                          st == SP_ERR_EPISODE_END;
        return raise_status(!r.started && input ? CTX_SAMPLER : CTX_DATASET, st, &e);
    }
    if (lines == NULL) return NULL;
    return Py_BuildValue("{s:K,s:K,s:K,s:I,s:O,s:N}", "pairs_written", (unsigned long long)r.pairs_written,
                         "start_pairs", (unsigned long long)r.start_pairs, "pairs_this_run",
                         (unsigned long long)r.pairs_this_run, "threads", r.threads, "already_complete",
                         r.already_complete ? Py_True : Py_False, "notes", lines);
}

/* ---- module functions --------------------------------------------------------------------- */

/* options_from_flax(keep, keep_every_n_steps, prefix) -> (max_to_keep, keep_period, step_prefix) */
static PyObject *py_options_from_flax(PyObject *mod, PyObject *args)
{
    (void)mod;
    long long keep = 1, every = 0;
    const char *prefix = NULL;
    if (!PyArg_ParseTuple(args, "LLz", &keep, &every, &prefix)) return NULL;
    sp_ckpt_options o;
    sp_ckpt_options_init(&o);
    char buf[128];
    sp_error e;
    sp_error_clear(&e);
    sp_status const st = sp_ckpt_options_from_flax(&o, keep, every, prefix, buf, sizeof buf, &e);
    if (st != SP_OK) return raise_status(CTX_CKPT, st, &e);
    return Py_BuildValue("(LLz)", (long long)o.max_to_keep, (long long)o.keep_period, o.step_prefix);
}

static PyObject *py_version(PyObject *mod, PyObject *unused)
{
    (void)mod;
    (void)unused;
    return PyUnicode_FromString(sp_version_string());
}

static PyObject *py_features(PyObject *mod, PyObject *unused)
{
    (void)mod;
    (void)unused;
    PyObject *const d = PyDict_New();
    for (unsigned i = 0; d && sp_feature_name(i); i++) {
        if (PyDict_SetItemString(d, sp_feature_name(i), sp_have_feature(sp_feature_name(i)) ? Py_True : Py_False) < 0) {
            Py_DECREF(d);
            return NULL;
        }
    }
    return d;
}

static PyObject *py_default_config_yaml(PyObject *mod, PyObject *unused)
{
    (void)mod;
    (void)unused;
    return PyUnicode_FromString(sp_config_default_yaml());
}

/* The dtypes checkpoints store, as NumPy names, in sp_dtype order. */
static PyObject *py_dtypes(PyObject *mod, PyObject *unused)
{
    (void)mod;
    (void)unused;
    PyObject *const list = PyList_New(SP_DTYPE_COUNT_);
    for (int i = 0; list && i < SP_DTYPE_COUNT_; i++)
        PyList_SET_ITEM(list, i, PyUnicode_FromString(sp_dtype_numpy_name((sp_dtype)i)));
    return list;
}

/* The layout of sp_pair_params, for a NumPy structured dtype: (itemsize, [(name, descr,
 * count, offset), ...]). */
static PyObject *py_params_layout(PyObject *mod, PyObject *unused)
{
    (void)mod;
    (void)unused;
    return Py_BuildValue(
        "(n[(ssin)(ssin)(ssin)(ssin)(ssin)(ssin)(ssin)(ssin)(ssin)(ssin)(ssin)(ssin)(ssin)(ssin)(ssin)(ssin)])",
        (Py_ssize_t)sizeof(sp_pair_params),
        "seeding_density", "<f4", 1, (Py_ssize_t)offsetof(sp_pair_params, seeding_density), "diameter_range", "<f4", 2,
        (Py_ssize_t)offsetof(sp_pair_params, diameter_range), "intensity_range", "<f4", 2,
        (Py_ssize_t)offsetof(sp_pair_params, intensity_range), "rho_range", "<f4", 2,
        (Py_ssize_t)offsetof(sp_pair_params, rho_range), "diameter_index", "<u4", 1,
        (Py_ssize_t)offsetof(sp_pair_params, diameter_index), "intensity_index", "<u4", 1,
        (Py_ssize_t)offsetof(sp_pair_params, intensity_index), "rho_index", "<u4", 1,
        (Py_ssize_t)offsetof(sp_pair_params, rho_index), "particles", "<u4", 1,
        (Py_ssize_t)offsetof(sp_pair_params, particles), "sheet_profile", "<u4", 1,
        (Py_ssize_t)offsetof(sp_pair_params, sheet_profile), "sheet_thickness", "<f4", 1,
        (Py_ssize_t)offsetof(sp_pair_params, sheet_thickness), "sheet_edge", "<f4", 1,
        (Py_ssize_t)offsetof(sp_pair_params, sheet_edge), "depth", "<f4", 2,
        (Py_ssize_t)offsetof(sp_pair_params, depth), "w", "<f4", 1, (Py_ssize_t)offsetof(sp_pair_params, w),
        "in_sheet", "<u4", SP_MAX_FRAMES, (Py_ssize_t)offsetof(sp_pair_params, in_sheet), "lost", "<f4",
        SP_MAX_FRAMES - 1, (Py_ssize_t)offsetof(sp_pair_params, lost), "gained", "<f4", SP_MAX_FRAMES - 1,
        (Py_ssize_t)offsetof(sp_pair_params, gained));
}

static PyMethodDef module_methods[] = {
    {"_register_exceptions", register_exceptions, METH_VARARGS, "Set the exception classes (synthpix.errors)."},
    {"save_at", (PyCFunction)(void (*)(void))py_save_at, METH_VARARGS | METH_KEYWORDS, "sp_ckpt_save_at"},
    {"restore_at", (PyCFunction)(void (*)(void))py_restore_at, METH_VARARGS | METH_KEYWORDS, "sp_ckpt_restore_at"},
    {"metadata_at", py_metadata_at, METH_VARARGS, "sp_ckpt_metadata_at"},
    {"options_from_flax", py_options_from_flax, METH_VARARGS, "sp_ckpt_options_from_flax"},
    {"generate", (PyCFunction)(void (*)(void))py_generate, METH_VARARGS | METH_KEYWORDS, "sp_generate"},
    {"version", py_version, METH_NOARGS, "sp_version_string"},
    {"features", py_features, METH_NOARGS, "sp_have_feature for every sp_feature_name"},
    {"default_config_yaml", py_default_config_yaml, METH_NOARGS, "sp_config_default_yaml"},
    {"dtypes", py_dtypes, METH_NOARGS, "sp_dtype_numpy_name for every sp_dtype"},
    {"params_layout", py_params_layout, METH_NOARGS, "offsets of sp_pair_params"},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "synthpix._core",
                                       "The C extension under the synthpix package (see synthpix).", -1,
                                       module_methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__core(void);

PyMODINIT_FUNC PyInit__core(void)
{
    PyTypeObject *const types[] = {&ConfigType, &SamplerType, &ManagerType, &MemoryType};
    const char *const names[] = {"Config", "Sampler", "Manager", "Memory"};
    for (int i = 0; i < 4; i++)
        if (PyType_Ready(types[i]) < 0) return NULL;
    PyObject *const m = PyModule_Create(&module_def);
    if (m == NULL) return NULL;
    for (int i = 0; i < 4; i++) {
        Py_INCREF(types[i]);
        if (PyModule_AddObject(m, names[i], (PyObject *)types[i]) < 0) {
            Py_DECREF(types[i]);
            Py_DECREF(m);
            return NULL;
        }
    }
    return m;
}
