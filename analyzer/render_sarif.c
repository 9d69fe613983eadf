/*
 * render_sarif.c - a report as a SARIF 2.1.0 log, so GitHub code scanning
 * (and other SARIF viewers) annotate the leaking line. One run; its tool
 * driver lists every finding id as a rule (descriptions and help from the
 * findings table); each finding is a result located at its decisive
 * source line: the first frame outside the framework, with a file and a
 * line, of the finding's first site. The other decisive frames of every
 * site are relatedLocations. Levels: "error" for root causes, "note" for
 * consequences, "warning" for trace-incomplete (the analysis, not the
 * code). partialFingerprints carries the gate.h fingerprint, stable across
 * runs. doc/obtrace.md describes the mapping.
 */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "gate.h"
#include "render.h"
#include "xalloc.h"

#define SARIF_SCHEMA "https://json.schemastore.org/sarif-2.1.0.json"
#define MAX_FRAMES 128
#define MAX_RELATED 64

static json_object *jstr(const char *s)
{
    return json_object_new_string(s ? s : "");
}

static json_object *text_obj(const char *text)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "text", jstr(text));
    return o;
}

static const char *rule_level(enum finding_id id)
{
    return id == F_TRACE_INCOMPLETE ? "warning" : "error";
}

static const char *result_level(const struct finding *f)
{
    if (f->id == F_TRACE_INCOMPLETE)
        return "warning";
    return f->consequence ? "note" : "error";
}

static json_object *rules_json(void)
{
    json_object *rules = json_object_new_array();
    for (int id = 0; id < F_COUNT; id++) {
        json_object *rule = json_object_new_object(), *cfg = json_object_new_object();
        char *full = xasprintf("%s. See doc/findings.md, %s.", finding_meaning(id), finding_name(id));
        char *help = xasprintf("Usual fix: %s.", finding_fix(id));
        json_object_object_add(rule, "id", jstr(finding_name(id)));
        json_object_object_add(rule, "shortDescription", text_obj(finding_meaning(id)));
        json_object_object_add(rule, "fullDescription", text_obj(full));
        json_object_object_add(rule, "help", text_obj(help));
        json_object_object_add(cfg, "level", jstr(rule_level(id)));
        json_object_object_add(rule, "defaultConfiguration", cfg);
        json_object_array_add(rules, rule);
        free(full);
        free(help);
    }
    return rules;
}

/* Percent-encodes what a URI reference cannot hold verbatim (RFC 3986); '/' stays. */
static char *uri_encode(const char *path)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = xmalloc(strlen(path) * 3 + 8), *o = out;
    if (path[0] == '/')
        o += sprintf(o, "file://");
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~/+@", *p)) {
            *o++ = (char)*p;
        } else {
            *o++ = '%';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 15];
        }
    }
    *o = 0;
    return out;
}

/* {"artifactLocation": {"uri", "uriBaseId"}, "region": {"startLine"}}; a relative path is under %SRCROOT%. */
static json_object *physical_json(const char *file, unsigned line)
{
    json_object *phys = json_object_new_object(), *art = json_object_new_object();
    char *uri = uri_encode(file);
    json_object_object_add(art, "uri", jstr(uri));
    free(uri);
    if (file[0] != '/')
        json_object_object_add(art, "uriBaseId", jstr("%SRCROOT%"));
    json_object_object_add(phys, "artifactLocation", art);
    if (line) {
        json_object *region = json_object_new_object();
        json_object_object_add(region, "startLine", json_object_new_int((int)line));
        json_object_object_add(phys, "region", region);
    }
    return phys;
}

static json_object *logical_json(const char *name, const char *kind)
{
    json_object *arr = json_object_new_array(), *l = json_object_new_object();
    json_object_object_add(l, "name", jstr(name));
    json_object_object_add(l, "kind", jstr(kind));
    json_object_array_add(arr, l);
    return arr;
}

/* A location of one symbolized frame with a source line. */
static json_object *frame_location(const struct sym_frame *f)
{
    json_object *loc = json_object_new_object();
    json_object_object_add(loc, "physicalLocation", physical_json(f->file, f->line));
    if (f->function)
        json_object_object_add(loc, "logicalLocations", logical_json(f->function, "function"));
    return loc;
}

/* A result's locations: the first decisive frame with a source line, then the others as related ones. */
struct locations {
    json_object *primary;
    json_object *related;
    int nrelated;
};

static void add_related(struct locations *l, const struct sym_frame *f, const char *verb)
{
    if (l->nrelated == MAX_RELATED)
        return;
    json_object *loc = frame_location(f);
    char *msg = xasprintf("%s: %s", verb, f->function ? f->function : "?");
    json_object_object_add(loc, "id", json_object_new_int(++l->nrelated));
    json_object_object_add(loc, "message", text_obj(msg));
    free(msg);
    json_object_array_add(l->related, loc);
}

static void site_locations(struct locations *l, const struct site *s, const struct model *m, struct symbolizer *sym)
{
    struct sym_frame fr[MAX_FRAMES];
    int first, n = render_stack_frames(sym, m, s->stack, s->seq, fr, MAX_FRAMES, &first);
    for (int i = first; i < n; i++) {
        if ((fr[i].framework && i != first) || !fr[i].file || !fr[i].line)
            continue;
        if (!l->primary)
            l->primary = frame_location(&fr[i]);
        else
            add_related(l, &fr[i], s->verb);
    }
}

/* Without a source line: the trace file, named with the object or image the finding is about. */
static json_object *fallback_location(const struct report *r, const struct finding *f, const char *image)
{
    json_object *loc = json_object_new_object();
    json_object_object_add(loc, "physicalLocation", physical_json(r->trace, 0));
    if (f->object)
        json_object_object_add(loc, "logicalLocations", logical_json(f->object_name, "object"));
    else if (image)
        json_object_object_add(loc, "logicalLocations", logical_json(image, "module"));
    return loc;
}

static json_object *properties_json(const struct finding *f, const struct verdict *v)
{
    json_object *p = json_object_new_object();
    json_object_object_add(p, "image", v ? jstr(v->image) : NULL);
    json_object_object_add(p, "driver", v ? jstr(v->driver) : NULL);
    json_object_object_add(p, "rootCause", json_object_new_boolean(!f->consequence));
    json_object_object_add(p, "object", f->object ? jstr(f->object_name) : NULL);
    json_object_object_add(p, "attribution", f->attribution ? jstr(f->attribution) : NULL);
    return p;
}

static json_object *message_json(const struct finding *f, const struct verdict *v)
{
    char *text = v ? xasprintf("image %s %s: %s. Fix: %s.", v->image, v->headline, f->subject, f->fix ? f->fix : "")
                   : xasprintf("%s. Fix: %s.", f->subject, f->fix ? f->fix : "");
    json_object *o = text_obj(text);
    free(text);
    return o;
}

static json_object *result_json(const struct report *r, const struct finding *f, const struct verdict *v,
                                const struct model *m, struct symbolizer *sym)
{
    json_object *res = json_object_new_object(), *locs = json_object_new_array(), *fps = json_object_new_object();
    struct locations l = { .related = json_object_new_array() };
    for (size_t k = 0; k < f->nsites; k++)
        site_locations(&l, &f->sites[k], m, sym);
    json_object_array_add(locs, l.primary ? l.primary : fallback_location(r, f, v ? v->image : NULL));
    struct fingerprint fp;
    fingerprint_of(&fp, f, v ? v->image : NULL, m, sym);
    json_object_object_add(fps, "obtrace/v1", jstr(fp.hex));
    fingerprint_release(&fp);
    json_object_object_add(res, "ruleId", jstr(finding_name(f->id)));
    json_object_object_add(res, "ruleIndex", json_object_new_int((int)f->id));
    json_object_object_add(res, "level", jstr(result_level(f)));
    json_object_object_add(res, "message", message_json(f, v));
    json_object_object_add(res, "locations", locs);
    if (l.nrelated)
        json_object_object_add(res, "relatedLocations", l.related);
    else
        json_object_put(l.related);
    json_object_object_add(res, "partialFingerprints", fps);
    if (r->baseline_applied)
        json_object_object_add(res, "baselineState", jstr("new"));
    if (f->suppressed) {
        json_object *sups = json_object_new_array(), *s = json_object_new_object();
        json_object_object_add(s, "kind", jstr("external"));
        json_object_object_add(s, "justification", jstr(f->suppressed));
        json_object_array_add(sups, s);
        json_object_object_add(res, "suppressions", sups);
    }
    json_object_object_add(res, "properties", properties_json(f, v));
    return res;
}

static json_object *run_json(const struct report *r, const struct model *m, struct symbolizer *sym)
{
    json_object *run = json_object_new_object(), *tool = json_object_new_object(), *drv = json_object_new_object();
    json_object_object_add(drv, "name", jstr("obtrace"));
    json_object_object_add(drv, "version", jstr(OBTRACE_VERSION));
    json_object_object_add(drv, "rules", rules_json());
    json_object_object_add(tool, "driver", drv);
    json_object_object_add(run, "tool", tool);
    json_object *inv = json_object_new_array(), *one = json_object_new_object();
    json_object_object_add(one, "executionSuccessful", json_object_new_boolean(!r->incomplete));
    json_object_object_add(one, "exitCode", json_object_new_int(report_exit_code(r)));
    json_object_array_add(inv, one);
    json_object_object_add(run, "invocations", inv);
    json_object *results = json_object_new_array();
    for (size_t i = 0; i < r->nverdicts; i++)
        for (size_t k = 0; k < r->verdicts[i].nfindings; k++)
            json_object_array_add(results, result_json(r, &r->verdicts[i].findings[k], &r->verdicts[i], m, sym));
    for (size_t k = 0; k < r->nglobal; k++)
        json_object_array_add(results, result_json(r, &r->global[k], NULL, m, sym));
    json_object_object_add(run, "results", results);
    return run;
}

void render_sarif(FILE *out, const struct report *r, const struct model *m, struct symbolizer *sym)
{
    json_object *root = json_object_new_object(), *runs = json_object_new_array();
    json_object_object_add(root, "$schema", jstr(SARIF_SCHEMA));
    json_object_object_add(root, "version", jstr("2.1.0"));
    json_object_array_add(runs, run_json(r, m, sym));
    json_object_object_add(root, "runs", runs);
    fputs(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                   JSON_C_TO_STRING_NOSLASHESCAPE),
          out);
    fputc('\n', out);
    json_object_put(root);
}
