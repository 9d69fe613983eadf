/*
 * report.c - building, ordering and freeing verdicts (see report.h).
 */
#include "report.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *s;
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    if (!s) {
        fputs("obtrace: out of memory\n", stderr);
        exit(2);
    }
    return s;
}

void report_init(struct report *r, const char *trace)
{
    memset(r, 0, sizeof(*r));
    r->trace = xstrdup(trace);
}

static void finding_release(struct finding *f)
{
    free(f->subject);
    for (size_t i = 0; i < f->nnotes; i++)
        free(f->notes[i]);
    free(f->notes);
    free(f->sites);
    free(f->object_name);
    free(f->object_type);
    free(f->fix);
    free(f->suppressed);
}

static void verdict_release(struct verdict *v)
{
    for (size_t j = 0; j < v->nfindings; j++)
        finding_release(&v->findings[j]);
    free(v->findings);
    free(v->image);
    free(v->path);
    free(v->driver);
    free(v->state);
    free(v->headline);
    free(v->reason);
}

void report_release(struct report *r)
{
    for (size_t i = 0; i < r->nverdicts; i++)
        verdict_release(&r->verdicts[i]);
    free(r->verdicts);
    for (size_t i = 0; i < r->nglobal; i++)
        finding_release(&r->global[i]);
    free(r->global);
    free(r->trace);
    memset(r, 0, sizeof(*r));
}

struct verdict *report_add_verdict(struct report *r)
{
    r->verdicts = xrealloc(r->verdicts, (r->nverdicts + 1) * sizeof(*r->verdicts));
    struct verdict *v = &r->verdicts[r->nverdicts++];
    memset(v, 0, sizeof(*v));
    return v;
}

static struct finding *add_finding(struct finding **list, size_t *n, enum finding_id id)
{
    *list = xrealloc(*list, (*n + 1) * sizeof(**list));
    struct finding *f = &(*list)[(*n)++];
    memset(f, 0, sizeof(*f));
    f->id = id;
    f->fix = xstrdup(finding_fix(id));
    return f;
}

struct finding *verdict_add_finding(struct verdict *v, enum finding_id id)
{
    struct finding *f = add_finding(&v->findings, &v->nfindings, id);
    f->image = v->instance;
    return f;
}

struct finding *report_add_global(struct report *r, enum finding_id id)
{
    return add_finding(&r->global, &r->nglobal, id);
}

void finding_subject(struct finding *f, const char *fmt, ...)
{
    va_list ap;
    free(f->subject);
    va_start(ap, fmt);
    if (vasprintf(&f->subject, fmt, ap) < 0)
        f->subject = xstrdup("");
    va_end(ap);
}

void finding_set_fix(struct finding *f, const char *fmt, ...)
{
    va_list ap;
    free(f->fix);
    va_start(ap, fmt);
    if (vasprintf(&f->fix, fmt, ap) < 0)
        f->fix = xstrdup("");
    va_end(ap);
}

void finding_note(struct finding *f, const char *fmt, ...)
{
    va_list ap;
    char *s;
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        s = xstrdup("");
    va_end(ap);
    f->notes = xrealloc(f->notes, (f->nnotes + 1) * sizeof(*f->notes));
    f->notes[f->nnotes++] = s;
}

struct site *finding_add_site(struct finding *f, const char *verb, uint32_t stack, uint64_t seq, uint32_t tid)
{
    f->sites = xrealloc(f->sites, (f->nsites + 1) * sizeof(*f->sites));
    struct site *s = &f->sites[f->nsites++];
    memset(s, 0, sizeof(*s));
    s->verb = verb;
    s->stack = stack;
    s->seq = seq;
    s->tid = tid;
    return s;
}

struct site *finding_add_code_site(struct finding *f, const char *verb, uint64_t code, uint64_t seq)
{
    struct site *s = finding_add_site(f, verb, 0, seq, 0);
    s->code = code;
    return s;
}

void finding_object(struct finding *f, uint32_t id, const char *name, const char *type)
{
    f->object = id;
    free(f->object_name);
    free(f->object_type);
    f->object_name = xstrdup(name ? name : "");
    f->object_type = xstrdup(type ? type : "");
}

static int cmp_finding(const void *a, const void *b)
{
    const struct finding *x = a, *y = b;
    if (x->consequence != y->consequence)
        return x->consequence ? 1 : -1;
    if (finding_rank(x->id) != finding_rank(y->id))
        return finding_rank(x->id) - finding_rank(y->id);
    return x->object < y->object ? -1 : x->object > y->object;
}

void report_sort(struct report *r)
{
    for (size_t i = 0; i < r->nverdicts; i++)
        if (r->verdicts[i].nfindings > 1)
            qsort(r->verdicts[i].findings, r->verdicts[i].nfindings, sizeof(struct finding), cmp_finding);
    if (r->nglobal > 1)
        qsort(r->global, r->nglobal, sizeof(struct finding), cmp_finding);
}

size_t report_count(const struct report *r)
{
    size_t n = r->nglobal;
    for (size_t i = 0; i < r->nverdicts; i++)
        n += r->verdicts[i].nfindings;
    return n;
}

size_t report_counted(const struct report *r)
{
    size_t n = 0;
    for (size_t k = 0; k < r->nglobal; k++)
        n += !r->global[k].suppressed;
    for (size_t i = 0; i < r->nverdicts; i++)
        for (size_t k = 0; k < r->verdicts[i].nfindings; k++)
            n += !r->verdicts[i].findings[k].suppressed;
    return n;
}

bool verdict_counts(const struct verdict *v)
{
    for (size_t k = 0; k < v->nfindings; k++)
        if (!v->findings[k].suppressed)
            return true;
    return v->nfindings == 0;
}

int report_exit_code(const struct report *r)
{
    if (r->incomplete)
        return 2;
    for (size_t i = 0; i < r->nverdicts; i++)
        if (verdict_counts(&r->verdicts[i]))
            return 1;
    return report_counted(r) ? 1 : 0;
}

/* Drops the findings of list[*n] that drop() selects; returns how many. */
static size_t drop_findings(struct finding *list, size_t *n, const struct verdict *v,
                            bool (*drop)(const struct verdict *, const struct finding *, void *), void *ctx)
{
    size_t kept = 0, dropped = 0;
    for (size_t k = 0; k < *n; k++) {
        if (drop(v, &list[k], ctx)) {
            finding_release(&list[k]);
            dropped++;
        } else {
            list[kept++] = list[k];
        }
    }
    *n = kept;
    return dropped;
}

size_t report_drop(struct report *r, bool (*drop)(const struct verdict *v, const struct finding *f, void *ctx),
                   void *ctx)
{
    size_t dropped = drop_findings(r->global, &r->nglobal, NULL, drop, ctx), kept = 0;
    for (size_t i = 0; i < r->nverdicts; i++) {
        struct verdict *v = &r->verdicts[i];
        size_t n = drop_findings(v->findings, &v->nfindings, v, drop, ctx);
        dropped += n;
        if (n && !v->nfindings)
            verdict_release(v);
        else
            r->verdicts[kept++] = *v;
    }
    r->nverdicts = kept;
    return dropped;
}
