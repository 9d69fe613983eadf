/*
 * gate.c - suppressions, baselines and finding fingerprints (gate.h): the
 * file parsers, the matching of a finding against a suppression (globs on
 * the id, the image and the decisive frames), the multiset match against a
 * baseline, and the baseline writer.
 */
#include "gate.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render.h"
#include "xalloc.h"

#define MAX_FRAMES 128
#define SITE_CHAIN 3

void gate_init(struct gate *g)
{
    memset(g, 0, sizeof(*g));
}

void gate_release(struct gate *g)
{
    for (size_t i = 0; i < g->nsups; i++) {
        free(g->sups[i].id_glob);
        free(g->sups[i].image_glob);
        free(g->sups[i].site_glob);
        free(g->sups[i].reason);
    }
    free(g->sups);
    free(g->baseline);
    memset(g, 0, sizeof(*g));
}

/* ---- fingerprints ------------------------------------------------------------------------------- */

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
    return h;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* Appends s to the stream, control characters (tabs, newlines) as '?', so the text stays one tab-separated line. */
static void put_clean(FILE *out, const char *s)
{
    for (; *s; s++)
        fputc((unsigned char)*s < 0x20 ? '?' : *s, out);
}

/* An object's name with its ids ("#12") as "#*": names of unnamed objects differ between runs only there. */
static void put_name_pattern(FILE *out, const char *name)
{
    for (const char *p = name; *p; p++) {
        if (*p == '#' && isdigit((unsigned char)p[1])) {
            fputs("#*", out);
            while (isdigit((unsigned char)p[1]))
                p++;
        } else {
            fputc((unsigned char)*p < 0x20 ? '?' : *p, out);
        }
    }
}

/* One decisive frame as the fingerprint names it: "Func (file.c)", "Func" or "module+0xoff". */
static void put_frame(FILE *out, const struct sym_frame *f)
{
    if (f->function) {
        put_clean(out, f->function);
        if (f->file)
            fprintf(out, " (%s)", base_name(f->file));
    } else if (f->module) {
        fprintf(out, "%s+0x%" PRIx64, f->module, f->offset);
    } else {
        fputc('?', out);
    }
}

static void put_site(FILE *out, const struct site *s, const struct model *m, struct symbolizer *sym)
{
    struct sym_frame fr[MAX_FRAMES];
    int first, n = render_stack_frames(sym, m, s->stack, s->seq, fr, MAX_FRAMES, &first);
    fputs(s->verb, out);
    for (int i = first, shown = 0; i < n && shown < SITE_CHAIN; i++) {
        if (fr[i].framework && i != first)
            continue;
        fputs(shown++ ? " ← " : " ", out);
        put_frame(out, &fr[i]);
    }
}

void fingerprint_of(struct fingerprint *fp, const struct finding *f, const char *image, const struct model *m,
                    struct symbolizer *sym)
{
    size_t len;
    FILE *out = open_memstream(&fp->text, &len);
    if (!out) {
        fputs("obtrace: out of memory\n", stderr);
        exit(2);
    }
    fprintf(out, "%s\t", finding_name(f->id));
    put_clean(out, image && image[0] ? image : "-");
    fputc('\t', out);
    if (f->object) {
        fprintf(out, "%s ", f->object_type ? f->object_type : "");
        put_name_pattern(out, f->object_name ? f->object_name : "");
    } else {
        fputc('-', out);
    }
    fputc('\t', out);
    if (f->nsites)
        put_site(out, &f->sites[0], m, sym);
    else
        fputc('-', out);
    fclose(out);
    fp->hash = fnv1a(fp->text);
    snprintf(fp->hex, sizeof(fp->hex), "%016" PRIx64, fp->hash);
}

void fingerprint_release(struct fingerprint *fp)
{
    free(fp->text);
    fp->text = NULL;
}

/* ---- suppression files -------------------------------------------------------------------------- */

static bool id_glob_known(const char *glob)
{
    for (int id = 0; id < F_COUNT; id++)
        if (id != F_TRACE_INCOMPLETE && !fnmatch(glob, finding_name(id), 0))
            return true;
    return false;
}

/* Parses one line (comment cut off at '#'); 0 = added or blank, -1 = error in err. */
static int parse_suppression(struct gate *g, char *line, const char *where, char *err, size_t errlen)
{
    char *hash = strchr(line, '#'), *reason = NULL;
    if (hash) {
        *hash = 0;
        reason = hash + 1;
        while (isspace((unsigned char)*reason))
            reason++;
        reason[strcspn(reason, "\r\n")] = 0;
    }
    char *tok[4], *save = NULL;
    int n = 0;
    for (char *t = strtok_r(line, " \t\r\n", &save); t; t = strtok_r(NULL, " \t\r\n", &save))
        if (n < 4)
            tok[n++] = t;
        else
            n = 5;
    if (!n)
        return 0;
    if (n > 3) {
        snprintf(err, errlen, "%s: expected 'finding-id [image-glob] [site-glob]  # reason'", where);
        return -1;
    }
    if (!id_glob_known(tok[0])) {
        snprintf(err, errlen, "%s: '%s' matches no finding id that can be suppressed (doc/findings.md)", where,
                 tok[0]);
        return -1;
    }
    g->sups = xrealloc(g->sups, (g->nsups + 1) * sizeof(*g->sups));
    g->sups[g->nsups++] = (struct suppression){
        .id_glob = xstrdup(tok[0]),
        .image_glob = n > 1 ? xstrdup(tok[1]) : NULL,
        .site_glob = n > 2 ? xstrdup(tok[2]) : NULL,
        .reason = xstrdup(reason && reason[0] ? reason : where),
    };
    return 0;
}

/* Calls fn(g, line, "PATH:N", N, err) for each line of path; stops at the first error. *lines = lines read. */
static int each_line(struct gate *g, const char *path, char *err, size_t errlen,
                     int (*fn)(struct gate *, char *, const char *, unsigned, char *, size_t), unsigned *lines)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL, where[512];
    size_t cap = 0;
    unsigned no = 0;
    int rc = 0;
    while (!rc && getline(&line, &cap, f) >= 0) {
        snprintf(where, sizeof(where), "%s:%u", path, ++no);
        rc = fn(g, line, where, no, err, errlen);
    }
    *lines = no;
    free(line);
    fclose(f);
    return rc;
}

static int suppression_line(struct gate *g, char *line, const char *where, unsigned no, char *err, size_t errlen)
{
    (void)no;
    return parse_suppression(g, line, where, err, errlen);
}

int gate_load_suppressions(struct gate *g, const char *path, char *err, size_t errlen)
{
    unsigned lines;
    return each_line(g, path, err, errlen, suppression_line, &lines);
}

/* ---- baseline files ----------------------------------------------------------------------------- */

static int baseline_line(struct gate *g, char *line, const char *where, unsigned no, char *err, size_t errlen)
{
    line[strcspn(line, "\r\n")] = 0;
    if (no == 1) {
        if (strcmp(line, GATE_BASELINE_HEADER)) {
            snprintf(err, errlen, "%s: not an obtrace baseline (the first line must be '%s')", where,
                     GATE_BASELINE_HEADER);
            return -1;
        }
        return 0;
    }
    const char *p = line + strspn(line, " \t");
    if (!*p || *p == '#')
        return 0;
    size_t hexlen = strspn(p, "0123456789abcdef");
    if (hexlen != 16 || (p[16] && p[16] != '\t' && p[16] != ' ')) {
        snprintf(err, errlen, "%s: expected a 16-digit fingerprint, as --write-baseline writes", where);
        return -1;
    }
    g->baseline = xrealloc(g->baseline, (g->nbaseline + 1) * sizeof(*g->baseline));
    g->baseline[g->nbaseline++] = (struct baseline_entry){ .hash = strtoull(p, NULL, 16) };
    return 0;
}

static int cmp_entry(const void *a, const void *b)
{
    const struct baseline_entry *x = a, *y = b;
    return x->hash < y->hash ? -1 : x->hash > y->hash;
}

int gate_load_baseline(struct gate *g, const char *path, char *err, size_t errlen)
{
    unsigned lines;
    if (each_line(g, path, err, errlen, baseline_line, &lines) < 0)
        return -1;
    if (!lines) {
        snprintf(err, errlen, "%s: not an obtrace baseline (the file is empty)", path);
        return -1;
    }
    qsort(g->baseline, g->nbaseline, sizeof(*g->baseline), cmp_entry);
    g->have_baseline = true;
    return 0;
}

/* Takes one unused baseline entry with this hash; false when there is none. */
static bool baseline_take(struct gate *g, uint64_t hash)
{
    size_t lo = 0, hi = g->nbaseline;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (g->baseline[mid].hash < hash)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < g->nbaseline && g->baseline[lo].hash == hash; lo++)
        if (!g->baseline[lo].used)
            return g->baseline[lo].used = true;
    return false;
}

/* ---- applying the gate ------------------------------------------------------------------------ */

struct gate_ctx {
    struct gate *g;
    const struct model *m;
    struct symbolizer *sym;
};

static bool frame_matches(const char *glob, const struct sym_frame *f)
{
    char buf[1024];
    if (f->function && !fnmatch(glob, f->function, 0))
        return true;
    if (f->file && f->line) {
        snprintf(buf, sizeof(buf), "%s:%u", f->file, f->line);
        if (!fnmatch(glob, buf, 0))
            return true;
        snprintf(buf, sizeof(buf), "%s:%u", base_name(f->file), f->line);
        if (!fnmatch(glob, buf, 0))
            return true;
    }
    if (!f->function && f->module) {
        snprintf(buf, sizeof(buf), "%s+0x%" PRIx64, f->module, f->offset);
        return !fnmatch(glob, buf, 0);
    }
    return false;
}

/* True when a decisive frame of any site of f matches glob. */
static bool sites_match(const char *glob, const struct finding *f, const struct gate_ctx *c)
{
    struct sym_frame fr[MAX_FRAMES];
    for (size_t k = 0; k < f->nsites; k++) {
        int first, n = render_stack_frames(c->sym, c->m, f->sites[k].stack, f->sites[k].seq, fr, MAX_FRAMES, &first);
        for (int i = first; i < n; i++)
            if ((!fr[i].framework || i == first) && frame_matches(glob, &fr[i]))
                return true;
    }
    return false;
}

static const struct suppression *suppression_for(const struct gate_ctx *c, const struct finding *f,
                                                 const char *image)
{
    for (size_t i = 0; i < c->g->nsups; i++) {
        const struct suppression *s = &c->g->sups[i];
        if (fnmatch(s->id_glob, finding_name(f->id), 0))
            continue;
        if (s->image_glob && fnmatch(s->image_glob, image ? image : "", 0))
            continue;
        if (s->site_glob && !sites_match(s->site_glob, f, c))
            continue;
        return s;
    }
    return NULL;
}

static void suppress_list(const struct gate_ctx *c, struct finding *list, size_t n, const char *image,
                          struct report *r)
{
    for (size_t k = 0; k < n; k++) {
        if (list[k].id == F_TRACE_INCOMPLETE || list[k].suppressed)
            continue;
        const struct suppression *s = suppression_for(c, &list[k], image);
        if (s) {
            list[k].suppressed = xstrdup(s->reason);
            r->nsuppressed++;
        }
    }
}

static bool in_baseline(const struct verdict *v, const struct finding *f, void *ctx)
{
    struct gate_ctx *c = ctx;
    if (f->id == F_TRACE_INCOMPLETE || f->suppressed)
        return false;
    struct fingerprint fp;
    fingerprint_of(&fp, f, v ? v->image : NULL, c->m, c->sym);
    bool taken = baseline_take(c->g, fp.hash);
    fingerprint_release(&fp);
    return taken;
}

void gate_suppress(struct gate *g, struct report *r, const struct model *m, struct symbolizer *sym)
{
    struct gate_ctx c = { g, m, sym };
    for (size_t i = 0; i < r->nverdicts; i++)
        suppress_list(&c, r->verdicts[i].findings, r->verdicts[i].nfindings, r->verdicts[i].image, r);
    suppress_list(&c, r->global, r->nglobal, NULL, r);
}

void gate_drop_baselined(struct gate *g, struct report *r, const struct model *m, struct symbolizer *sym)
{
    struct gate_ctx c = { g, m, sym };
    if (!g->have_baseline)
        return;
    for (size_t i = 0; i < g->nbaseline; i++)
        g->baseline[i].used = false;
    r->baseline_applied = true;
    r->nbaselined += report_drop(r, in_baseline, &c);
}

/* ---- writing a baseline ----------------------------------------------------------------------- */

static void write_fingerprints(FILE *out, const struct finding *list, size_t n, const char *image,
                               const struct model *m, struct symbolizer *sym)
{
    for (size_t k = 0; k < n; k++) {
        if (list[k].id == F_TRACE_INCOMPLETE || list[k].suppressed)
            continue;
        struct fingerprint fp;
        fingerprint_of(&fp, &list[k], image, m, sym);
        fprintf(out, "%s\t%s\n", fp.hex, fp.text);
        fingerprint_release(&fp);
    }
}

int gate_write_baseline(const struct report *r, const struct model *m, struct symbolizer *sym, const char *path,
                        char *err, size_t errlen)
{
    FILE *out = fopen(path, "w");
    if (!out) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    fprintf(out, "%s\n# fingerprint\tfinding\timage\tobject\tdecisive site\n", GATE_BASELINE_HEADER);
    for (size_t i = 0; i < r->nverdicts; i++)
        write_fingerprints(out, r->verdicts[i].findings, r->verdicts[i].nfindings, r->verdicts[i].image, m, sym);
    write_fingerprints(out, r->global, r->nglobal, NULL, m, sym);
    if (fclose(out) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}
