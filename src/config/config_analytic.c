/* config_analytic.c: the analytic_flow extension (docs/configuration.md, docs/flows.md).
 *
 * YAML accepted:
 *   analytic_flow: {kind: lamb_oseen, circulation: 2.0, core_radius: 0.2}   # one flow
 *   analytic_flow:                                                          # or a list
 *     - {kind: uniform, u: 1.0, v: -0.5}
 *     - kind: kinematic
 *       max_displacement_range: [0.5, 2.0]
 * Each entry needs `kind` (a name of sp_analytic_kind_parse) and may set the parameters of
 * the param table below; the others keep sp_analytic_params_init's defaults. A scalar
 * parameter (and each component of center) may instead be a range [lo, hi]: it is then
 * drawn per record (sp_analytic_draw, docs/flows.md). A uniform flow is given by u and v, or
 * by speed (>= 0) and angle (degrees), not both. A parameter the
 * kind does not use is stored but warned about. Every kind takes w (units/s, the constant
 * out-of-plane velocity of docs/realism.md, drawn per record when a range); kind kinematic
 * takes scale_mode (peak or literal). Validation: core_radius, wavelength and
 * half_width > 0 (half_width and center may be null = "derived from the domain"), ranges
 * ordered and >= 0 (filter_sigma_range <= 1e5, the Gaussian filter's limit), grid entries in [2, 100000] (or null = derived by the sampler), every
 * other number finite. At most SP_CONFIG_MAX_ANALYTIC entries.
 */
#include "config_keys.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sp_internal.h"

typedef enum param_type {
    P_NUM = 0,
    P_NONNEG,
    P_POS,
    P_POS_OR_NULL,
    P_CENTER,
    P_SIGMA,
    P_RANGE,
    P_GRID,
    P_SCALE /* sp_kinematic_scale, by name */
} param_type;

#define KB(k) (1u << (k))
#define ALL_KINDS (KB(SP_FLOW_KIND_COUNT_) - 1u)
#define VORTEX (KB(SP_FLOW_LAMB_OSEEN) | KB(SP_FLOW_RANKINE))

typedef struct param_desc {
    const char *name;
    param_type type;
    size_t off;
    unsigned kinds; /* kinds that use it; others warn */
    int ap;         /* its sp_analytic_param when it may be a per-record range [lo, hi], else -1
                     * (center: the y component; x is the next one) */
} param_desc;

static const param_desc params[] = {
    {"u", P_NUM, offsetof(sp_analytic_params, u), KB(SP_FLOW_UNIFORM), SP_AP_U},
    {"v", P_NUM, offsetof(sp_analytic_params, v), KB(SP_FLOW_UNIFORM), SP_AP_V},
    {"speed", P_NONNEG, offsetof(sp_analytic_params, speed), KB(SP_FLOW_UNIFORM), SP_AP_SPEED},
    {"angle", P_NUM, offsetof(sp_analytic_params, angle), KB(SP_FLOW_UNIFORM), SP_AP_ANGLE},
    {"center", P_CENTER, offsetof(sp_analytic_params, center),
     ALL_KINDS & ~(KB(SP_FLOW_UNIFORM) | KB(SP_FLOW_TAYLOR_GREEN) | KB(SP_FLOW_KINEMATIC)), SP_AP_CENTER_Y},
    {"circulation", P_NUM, offsetof(sp_analytic_params, circulation), VORTEX, SP_AP_CIRCULATION},
    {"core_radius", P_POS, offsetof(sp_analytic_params, core_radius), VORTEX, SP_AP_CORE_RADIUS},
    {"amplitude", P_NUM, offsetof(sp_analytic_params, amplitude), KB(SP_FLOW_TAYLOR_GREEN) | KB(SP_FLOW_POISEUILLE),
     SP_AP_AMPLITUDE},
    {"wavelength", P_POS, offsetof(sp_analytic_params, wavelength), KB(SP_FLOW_TAYLOR_GREEN), SP_AP_WAVELENGTH},
    {"rate", P_NUM, offsetof(sp_analytic_params, rate), KB(SP_FLOW_SHEAR) | KB(SP_FLOW_STAGNATION), SP_AP_RATE},
    {"half_width", P_POS_OR_NULL, offsetof(sp_analytic_params, half_width), KB(SP_FLOW_POISEUILLE),
     SP_AP_HALF_WIDTH},
    {"filter_sigma_range", P_SIGMA, offsetof(sp_analytic_params, filter_sigma_range), KB(SP_FLOW_KINEMATIC), -1},
    {"max_displacement_range", P_RANGE, offsetof(sp_analytic_params, max_displacement_range),
     KB(SP_FLOW_KINEMATIC), -1},
    {"grid", P_GRID, offsetof(sp_analytic_params, grid), ALL_KINDS, -1},
    {"w", P_NUM, offsetof(sp_analytic_params, w), ALL_KINDS, SP_AP_W},
    {"scale_mode", P_SCALE, offsetof(sp_analytic_params, scale_mode), KB(SP_FLOW_KINEMATIC), -1},
};
#define NPARAMS (sizeof params / sizeof params[0])
_Static_assert(SP_FLOW_KIND_COUNT_ <= 31, "kind masks are unsigned bit sets");

static double *dfield(sp_analytic_params *p, const param_desc *d)
{
    return (double *)(void *)((char *)p + d->off);
}

static const double *cdfield(const sp_analytic_params *p, const param_desc *d)
{
    return (const double *)(const void *)((const char *)p + d->off);
}

static void kind_list(char *buf, size_t cap)
{
    buf[0] = '\0';
    for (int k = 0; k < SP_FLOW_KIND_COUNT_; k++) {
        size_t const len = strlen(buf);
        snprintf(buf + len, cap - len, "%s%s", k ? ", " : "", sp_analytic_kind_name((sp_analytic_kind)k));
    }
}

/* A number, or null (NaN) when allow_null. */
static int num_or_null(sp__cfg_ctx *x, const char *key, const sp__cfg_node *n, const sp__bounds *b,
                       int allow_null, double *out)
{
    if (allow_null && sp__cfg_is_null(n)) return *out = (double)NAN, 1;
    return sp__cfg_get_number(x, key, n, b, out);
}

/* A per-record range [lo, hi] (lo <= hi, each within b) for parameter ap: sets the bit and
 * the range, and the value to lo (a placeholder: every record draws its own). */
static int read_range_param(sp__cfg_ctx *x, const char *key, const sp__cfg_node *n, const sp__bounds *b, int ap,
                            double *value, sp_analytic_params *p)
{
    double r[2];
    if (!sp__cfg_get_range(x, key, n, b, r)) return 0;
    p->random |= 1u << ap;
    p->range[ap][0] = r[0];
    p->range[ap][1] = r[1];
    *value = r[0];
    return 1;
}

static int is_pair(const sp__cfg_node *n)
{
    return n != NULL && n->type == SP_CFG_SEQ && n->n == 2;
}

static int read_center(sp__cfg_ctx *x, const char *key, const sp__cfg_node *n, double out[2],
                       sp_analytic_params *p)
{
    if (sp__cfg_is_null(n)) return out[0] = out[1] = (double)NAN, 1;
    if (n->type != SP_CFG_SEQ || n->n != 2) {
        char v[100];
        sp__cfg_render(n, v, sizeof v);
        sp__cfg_error(x, key, n, "%s: %s is not a [y, x] pair of numbers (or null for the domain centre)", key, v);
        return 0;
    }
    double c[2];
    int ok = 1;
    for (int i = 0; i < 2; i++) {
        char k[160];
        snprintf(k, sizeof k, "%s[%d]", key, i);
        if (is_pair(n->items[i])) ok &= read_range_param(x, k, n->items[i], NULL, SP_AP_CENTER_Y + i, &c[i], p);
        else ok &= num_or_null(x, k, n->items[i], NULL, 1, &c[i]);
    }
    if (ok) out[0] = c[0], out[1] = c[1];
    return ok;
}

static int read_grid(sp__cfg_ctx *x, const char *key, const sp__cfg_node *n, size_t out[2])
{
    if (sp__cfg_is_null(n)) return out[0] = out[1] = 0, 1;
    if (n->type != SP_CFG_SEQ || n->n != 2) {
        char v[100];
        sp__cfg_render(n, v, sizeof v);
        sp__cfg_error(x, key, n, "%s: %s is not a list of two integers [Hf, Wf] (or null)", key, v);
        return 0;
    }
    long long g[2];
    int ok = 1;
    for (int i = 0; i < 2; i++) {
        char k[160];
        snprintf(k, sizeof k, "%s[%d]", key, i);
        ok &= sp__cfg_get_int(x, k, n->items[i], 2, SP_CFG_MAX_IMAGE_DIM, &g[i]);
    }
    if (ok) out[0] = (size_t)g[0], out[1] = (size_t)g[1];
    return ok;
}

static const char *const scale_names[] = {"peak", "literal"};

static void read_scale(sp__cfg_ctx *x, const char *key, const sp__cfg_node *n, sp_analytic_params *p)
{
    for (size_t i = 0; n != NULL && n->type == SP_CFG_SCALAR && i < SP_ARRAY_LEN(scale_names); i++) {
        if (strcmp(n->value, scale_names[i]) != 0) continue;
        p->scale_mode = (sp_kinematic_scale)i;
        return;
    }
    char v[100];
    sp__cfg_render(n, v, sizeof v);
    sp__cfg_error(x, key, n, "%s: %s is not allowed; expected one of \"peak\", \"literal\"", key, v);
}

static void read_param(sp__cfg_ctx *x, const char *key, const param_desc *d, const sp__cfg_node *n,
                       sp_analytic_params *p)
{
    static const sp__bounds positive = {0, 0, 2, 0};
    /* The limits of the flow module's Gaussian filter and of float32 velocities. */
    static const sp__bounds sigma = {0, SP_CFG_MAX_SIGMA, 1, 1}, disp = {0, SP_CFG_MAX_DISPLACEMENT, 1, 1};
    static const sp__bounds nonneg = {0, 0, 1, 0};
    double *const f = dfield(p, d);
    const sp__bounds *const b = d->type == P_POS || d->type == P_POS_OR_NULL ? &positive
                                : d->type == P_NONNEG                        ? &nonneg
                                                                             : NULL;
    if (d->ap >= 0 && d->type != P_CENTER && is_pair(n)) {
        read_range_param(x, key, n, b, d->ap, f, p);
        return;
    }
    switch (d->type) {
    case P_NUM:
    case P_NONNEG:
    case P_POS: sp__cfg_get_number(x, key, n, b, f); return;
    case P_POS_OR_NULL: num_or_null(x, key, n, b, 1, f); return;
    case P_CENTER: read_center(x, key, n, f, p); return;
    case P_SIGMA: sp__cfg_get_range(x, key, n, &sigma, f); return;
    case P_RANGE: sp__cfg_get_range(x, key, n, &disp, f); return;
    case P_GRID: read_grid(x, key, n, (size_t *)(void *)((char *)p + d->off)); return;
    case P_SCALE: read_scale(x, key, n, p); return;
    }
}

static const sp__cfg_node *find_key(const sp__cfg_node *map, const char *name)
{
    const sp__cfg_node *found = NULL;
    for (size_t i = 0; i + 1 < map->n; i += 2)
        if (map->items[i]->type == SP_CFG_SCALAR && strcmp(map->items[i]->value, name) == 0)
            found = map->items[i + 1]; /* the last one wins, as at the top level */
    return found;
}

static int read_kind(sp__cfg_ctx *x, const char *path, const sp__cfg_node *entry, sp_analytic_kind *kind)
{
    char key[128], kinds[200], v[100];
    snprintf(key, sizeof key, "%s.kind", path);
    kind_list(kinds, sizeof kinds);
    const sp__cfg_node *const n = find_key(entry, "kind");
    if (n == NULL) {
        sp__cfg_error(x, key, entry, "%s: missing; expected one of %s", key, kinds);
        return 0;
    }
    if (n->type == SP_CFG_SCALAR && sp_analytic_kind_parse(n->value, kind) == SP_OK) return 1;
    sp__cfg_render(n, v, sizeof v);
    sp__cfg_error(x, key, n, "%s: %s is not allowed; expected one of %s", key, v, kinds);
    return 0;
}

static void unknown_param(sp__cfg_ctx *x, const char *path, const sp__cfg_node *k)
{
    const char *cands[NPARAMS + 1];
    for (size_t i = 0; i < NPARAMS; i++) cands[i] = params[i].name;
    cands[NPARAMS] = "kind";
    char v[100];
    sp__cfg_render(k, v, sizeof v);
    const char *const near = k->type == SP_CFG_SCALAR ? sp__cfg_suggest(k->value, cands, NPARAMS + 1) : NULL;
    if (near)
        sp__cfg_warn(x, path, k, "%s: unknown parameter %s; did you mean '%s'?", path, v, near);
    else
        sp__cfg_warn(x, path, k, "%s: unknown parameter %s; it is ignored", path, v);
}

static void load_entry(sp__cfg_ctx *x, const char *path, const sp__cfg_node *entry, sp_analytic_params *p)
{
    sp_analytic_kind kind = SP_FLOW_UNIFORM;
    if (entry->type != SP_CFG_MAP) {
        char v[100];
        sp__cfg_render(entry, v, sizeof v);
        sp__cfg_error(x, path, entry, "%s: %s is not a mapping with a 'kind' key", path, v);
        return;
    }
    if (!read_kind(x, path, entry, &kind)) return;
    sp_analytic_params_init(p, kind);
    int polar = 0; /* bit 1: speed/angle given; bit 2: u/v given */
    for (size_t i = 0; i + 1 < entry->n; i += 2) {
        const sp__cfg_node *const k = entry->items[i];
        const param_desc *d = NULL;
        for (size_t j = 0; k->type == SP_CFG_SCALAR && j < NPARAMS; j++)
            if (strcmp(k->value, params[j].name) == 0) d = &params[j];
        if (k->type == SP_CFG_SCALAR && strcmp(k->value, "kind") == 0) continue;
        if (d == NULL) {
            unknown_param(x, path, k);
            continue;
        }
        char key[128];
        snprintf(key, sizeof key, "%s.%s", path, d->name);
        if (!(d->kinds & KB(kind)))
            sp__cfg_warn(x, key, k, "%s: not used by kind '%s'; ignored", key, sp_analytic_kind_name(kind));
        read_param(x, key, d, entry->items[i + 1], p);
        polar |= d->ap == SP_AP_SPEED || d->ap == SP_AP_ANGLE ? 1 : d->ap == SP_AP_U || d->ap == SP_AP_V ? 2 : 0;
    }
    if (polar == 3)
        sp__cfg_error(x, path, entry, "%s: give the uniform velocity as u and v, or as speed and angle, not both", path);
    p->polar = polar == 1;
}

void sp__cfg_load_analytic(sp__cfg_ctx *x, const sp__cfg_node *n)
{
    char v[100];
    int const single = n != NULL && n->type == SP_CFG_MAP;
    if (!single && (n == NULL || n->type != SP_CFG_SEQ || n->n == 0)) {
        sp__cfg_render(n, v, sizeof v);
        sp__cfg_error(x, "analytic_flow", n,
                      "analytic_flow: %s is not a flow mapping or a non-empty list of flow mappings", v);
        return;
    }
    size_t const count = single ? 1 : n->n;
    if (count > SP_CONFIG_MAX_ANALYTIC) {
        sp__cfg_error(x, "analytic_flow", n, "analytic_flow: has %zu flows; at most %d are supported", count,
                      SP_CONFIG_MAX_ANALYTIC);
        return;
    }
    size_t const before = x->errors;
    for (size_t i = 0; i < count; i++) {
        char path[64];
        snprintf(path, sizeof path, "analytic_flow[%zu]", i);
        load_entry(x, path, single ? n : n->items[i], &x->c->analytic[i]);
    }
    x->c->n_analytic = x->errors == before ? count : 0;
}

/* ---- writing and comparing ---- */

static int same_double(double a, double b)
{
    return a == b || (isnan(a) && isnan(b));
}

static void put_num(char *buf, size_t cap, double v)
{
    if (isnan(v)) snprintf(buf, cap, "null");
    else sp__cfg_format_double(v, buf, cap);
}

/* One value, or its per-record range "[lo, hi]". */
static void value_text(const sp_analytic_params *p, int ap, double v, char *buf, size_t cap)
{
    if (ap < 0 || !(p->random & (1u << ap))) {
        put_num(buf, cap, v);
        return;
    }
    char a[40], b[40];
    put_num(a, sizeof a, p->range[ap][0]);
    put_num(b, sizeof b, p->range[ap][1]);
    snprintf(buf, cap, "[%s, %s]", a, b);
}

static void param_text(const sp_analytic_params *p, const param_desc *d, char *buf, size_t cap)
{
    const double *const f = cdfield(p, d);
    char a[100], b[100];
    int const cy = SP_AP_CENTER_Y, cx = SP_AP_CENTER_X;
    switch (d->type) {
    case P_NUM:
    case P_NONNEG:
    case P_POS:
    case P_POS_OR_NULL: value_text(p, d->ap, f[0], buf, cap); return;
    case P_CENTER:
        value_text(p, cy, f[0], a, sizeof a);
        value_text(p, cx, f[1], b, sizeof b);
        if (isnan(f[0]) && isnan(f[1]) && !(p->random & (1u << cy | 1u << cx))) snprintf(buf, cap, "null");
        else snprintf(buf, cap, "[%s, %s]", a, b);
        return;
    case P_SIGMA:
    case P_RANGE:
        put_num(a, sizeof a, f[0]);
        put_num(b, sizeof b, f[1]);
        snprintf(buf, cap, "[%s, %s]", a, b);
        return;
    case P_GRID: {
        const size_t *const g = (const size_t *)(const void *)((const char *)p + d->off);
        if (g[0] == 0 && g[1] == 0) snprintf(buf, cap, "null");
        else snprintf(buf, cap, "[%zu, %zu]", g[0], g[1]);
        return;
    }
    case P_SCALE:
        snprintf(buf, cap, "%s", (unsigned)p->scale_mode < SP_ARRAY_LEN(scale_names) ? scale_names[p->scale_mode] : "?");
        return;
    }
}

/* Same random bit and, when set, the same range. */
static int same_draw(const sp_analytic_params *p, const sp_analytic_params *q, int ap)
{
    if (ap < 0) return 1;
    unsigned const bit = 1u << ap;
    if ((p->random & bit) != (q->random & bit)) return 0;
    return !(p->random & bit) || (same_double(p->range[ap][0], q->range[ap][0]) &&
                                  same_double(p->range[ap][1], q->range[ap][1]));
}

static int param_is_default(const sp_analytic_params *p, const sp_analytic_params *def, const param_desc *d)
{
    if (d->type == P_GRID) return p->grid[0] == def->grid[0] && p->grid[1] == def->grid[1];
    if (d->type == P_SCALE) return p->scale_mode == def->scale_mode;
    int const two = d->type == P_CENTER || d->type == P_RANGE || d->type == P_SIGMA;
    const double *const a = cdfield(p, d), *const b = cdfield(def, d);
    int const draws = same_draw(p, def, d->ap) && (d->type != P_CENTER || same_draw(p, def, d->ap + 1));
    return draws && same_double(a[0], b[0]) && (!two || same_double(a[1], b[1]));
}

/* Polar uniform flows write speed and angle, others u and v. */
static int param_shown(const sp_analytic_params *p, const param_desc *d)
{
    if (p->kind != SP_FLOW_UNIFORM) return 1;
    if (d->ap == SP_AP_SPEED || d->ap == SP_AP_ANGLE) return p->polar;
    if (d->ap == SP_AP_U || d->ap == SP_AP_V) return !p->polar;
    return 1;
}

void sp__cfg_analytic_write(const sp_analytic_params *p, char *buf, size_t cap)
{
    sp_analytic_params def;
    sp_analytic_params_init(&def, p->kind);
    const char *const name = sp_analytic_kind_name(p->kind);
    size_t len = (size_t)snprintf(buf, cap, "{kind: %s", name ? name : "uniform");
    for (size_t i = 0; i < NPARAMS && len < cap; i++) {
        const param_desc *const d = &params[i];
        /* grid, w and scale_mode are written only when set, so a configuration that does
         * not use them reads as it did before they existed */
        int const optional = d->type == P_GRID || d->type == P_SCALE || d->ap == SP_AP_W;
        int const used = (d->kinds & KB(p->kind)) && !optional && param_shown(p, d);
        if (!used && param_is_default(p, &def, d)) continue;
        char v[256];
        param_text(p, d, v, sizeof v);
        len += (size_t)snprintf(buf + len, cap - len, ", %s: %s", d->name, v);
    }
    if (len < cap) snprintf(buf + len, cap - len, "}");
}

int sp__cfg_analytic_equal(const sp_analytic_params *a, const sp_analytic_params *b)
{
    if (a->kind != b->kind || a->polar != b->polar) return 0;
    for (size_t i = 0; i < NPARAMS; i++)
        if (!param_is_default(a, b, &params[i])) return 0;
    return 1;
}
