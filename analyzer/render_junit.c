/*
 * render_junit.c - a report as JUnit XML for CI test dashboards: one
 * testsuite for the trace, one testcase per driver image load the trace
 * saw (named by the image, " (load N)" when the image was loaded more than
 * once), and one testcase "trace" for what is not tied to an image. An
 * image that did not unload fails with a <failure> whose message is the
 * headline and whose body is the image's text verdict; an image whose
 * findings are all suppressed passes, with the verdict in <system-out>.
 * The "trace" testcase errors when the trace is incomplete and fails on
 * counted findings not tied to an image. Text is XML-escaped; control
 * characters and invalid UTF-8 become '?'.
 */
#include <stdlib.h>
#include <string.h>

#include "render.h"
#include "xalloc.h"

/* Length of the valid UTF-8 sequence at p (1-4), or 0 when it is not one. */
static int utf8_len(const unsigned char *p)
{
    int n = p[0] < 0x80 ? 1 : (p[0] & 0xe0) == 0xc0 ? 2 : (p[0] & 0xf0) == 0xe0 ? 3 : (p[0] & 0xf8) == 0xf0 ? 4 : 0;
    if (n == 2 && p[0] < 0xc2)
        return 0;
    for (int i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    return n;
}

/* Writes s escaped for XML text, or for a double-quoted attribute when attr (newlines as &#10;). */
static void xml_put(FILE *out, const char *s, bool attr)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    while (*p) {
        int n = utf8_len(p);
        if (n > 1) {
            fwrite(p, 1, (size_t)n, out);
            p += n;
            continue;
        }
        switch (*p) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&apos;", out); break;
        case '\n': fputs(attr ? "&#10;" : "\n", out); break;
        case '\t': fputs(attr ? "&#9;" : "\t", out); break;
        default: fputc(n == 1 && *p >= 0x20 && *p != 0x7f ? *p : '?', out);
        }
        p++;
    }
}

/* A stream into a string *buf (NULL-initialized here); never fails (out of memory ends the program). */
static FILE *memstream(char **buf, size_t *len)
{
    *buf = NULL;
    FILE *f = open_memstream(buf, len);
    if (!f) {
        fputs("obtrace: out of memory\n", stderr);
        exit(2);
    }
    return f;
}

/* The text verdict of v as a string (caller frees). */
static char *text_of_verdict(const struct verdict *v, const struct model *m, struct symbolizer *sym)
{
    char *buf;
    size_t len;
    FILE *f = memstream(&buf, &len);
    render_text_verdict(f, v, m, sym);
    fclose(f);
    return buf;
}

/* The text of the findings not tied to an image as a string (caller frees). */
static char *text_of_global(const struct report *r, const struct model *m, struct symbolizer *sym)
{
    char *buf;
    size_t len;
    FILE *f = memstream(&buf, &len);
    for (size_t k = 0; k < r->nglobal; k++)
        render_text_finding(f, &r->global[k], m, sym, "");
    fclose(f);
    return buf;
}

/* <tag type="..." message="...">body</tag> */
static void put_outcome(FILE *out, const char *tag, const char *type, const char *message, const char *body)
{
    fprintf(out, "      <%s type=\"", tag);
    xml_put(out, type, true);
    fputs("\" message=\"", out);
    xml_put(out, message, true);
    fputs("\">", out);
    xml_put(out, body, false);
    fprintf(out, "</%s>\n", tag);
}

static void put_system_out(FILE *out, const char *body)
{
    fputs("      <system-out>", out);
    xml_put(out, body, false);
    fputs("</system-out>\n", out);
}

static const char *first_counted_id(const struct finding *list, size_t n, const char *none)
{
    for (size_t k = 0; k < n; k++)
        if (!list[k].suppressed)
            return finding_name(list[k].id);
    return none;
}

/* The testcase name of a driver module: its base name, with " (load N)" when loaded more than once. */
static char *case_name(const struct model *m, const struct module *mod)
{
    const char *name = model_module_basename(mod);
    unsigned loads = 0, ordinal = 0;
    for (size_t i = 0; i < m->nmodules; i++) {
        const struct module *o = &m->modules[i];
        if (!o->is_driver || strcmp(model_module_basename(o), name))
            continue;
        loads++;
        if (o == mod)
            ordinal = loads;
    }
    return loads > 1 ? xasprintf("%s (load %u)", name, ordinal) : xstrdup(name);
}

static const struct verdict *verdict_of(const struct report *r, uint32_t instance)
{
    for (size_t i = 0; i < r->nverdicts; i++)
        if (r->verdicts[i].instance == instance)
            return &r->verdicts[i];
    return NULL;
}

/* The testcase of one driver module; returns 1 when it failed. */
static int image_case(FILE *out, const struct report *r, const struct model *m, struct symbolizer *sym,
                      const struct module *mod)
{
    char *name = case_name(m, mod);
    const struct verdict *v = verdict_of(r, mod->instance);
    fputs("    <testcase classname=\"obtrace\" name=\"", out);
    xml_put(out, name, true);
    free(name);
    if (!v) {
        fputs("\"/>\n", out);
        return 0;
    }
    fputs("\">\n", out);
    char *body = text_of_verdict(v, m, sym);
    bool failed = verdict_counts(v);
    if (failed)
        put_outcome(out, "failure", first_counted_id(v->findings, v->nfindings, v->state), v->headline, body);
    else
        put_system_out(out, body);
    free(body);
    fputs("    </testcase>\n", out);
    return failed;
}

/* The "trace" testcase; sets *errors / returns 1 when it errored / failed. */
static int trace_case(FILE *out, const struct report *r, const struct model *m, struct symbolizer *sym, int *errors)
{
    size_t counted = 0;
    for (size_t k = 0; k < r->nglobal; k++)
        counted += !r->global[k].suppressed;
    fputs("    <testcase classname=\"obtrace\" name=\"trace\"", out);
    if (!r->nglobal) {
        fputs("/>\n", out);
        return 0;
    }
    fputs(">\n", out);
    char *body = text_of_global(r, m, sym), *msg = xasprintf("%zu finding%s not tied to an image", counted,
                                                              counted == 1 ? "" : "s");
    int failed = 0;
    if (r->incomplete) {
        put_outcome(out, "error", finding_name(F_TRACE_INCOMPLETE), "the trace is incomplete", body);
        *errors = 1;
    } else if (counted) {
        put_outcome(out, "failure", first_counted_id(r->global, r->nglobal, ""), msg, body);
        failed = 1;
    } else {
        put_system_out(out, body);
    }
    free(msg);
    free(body);
    fputs("    </testcase>\n", out);
    return failed;
}

void render_junit(FILE *out, const struct report *r, const struct model *m, struct symbolizer *sym)
{
    char *cases;
    size_t len;
    FILE *c = memstream(&cases, &len);
    int tests = 1, failures = 0, errors = 0;
    for (size_t i = 0; i < m->nmodules; i++) {
        if (!m->modules[i].is_driver)
            continue;
        tests++;
        failures += image_case(c, r, m, sym, &m->modules[i]);
    }
    failures += trace_case(c, r, m, sym, &errors);
    fclose(c);
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", out);
    fprintf(out, "<testsuites name=\"obtrace\" tests=\"%d\" failures=\"%d\" errors=\"%d\">\n", tests, failures,
            errors);
    fputs("  <testsuite name=\"", out);
    xml_put(out, r->trace, true);
    fprintf(out, "\" tests=\"%d\" failures=\"%d\" errors=\"%d\" skipped=\"0\">\n", tests, failures, errors);
    fputs(cases, out);
    fputs("  </testsuite>\n</testsuites>\n", out);
    free(cases);
}
