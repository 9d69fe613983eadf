/*
 * render_json.c - the JSON form of a report (schema version
 * OBTRACE_JSON_VERSION, documented in doc/obtrace.md). Keys are added in
 * a fixed order, and json-c keeps insertion order, so output is stable.
 */
#include <json-c/json.h>
#include <string.h>

#include "render.h"

#include "cycles.h"

#define MAX_FRAMES 128

static json_object *jstr(const char *s)
{
    return s ? json_object_new_string(s) : NULL;
}

/* The decisive frames of a stack: the decisive one and its callers in the same module (as the text shows). */
static json_object *frames_json(struct symbolizer *sym, const struct model *m, uint32_t stack, uint64_t seq)
{
    struct sym_frame fr[MAX_FRAMES];
    int first;
    int n = render_stack_frames(sym, m, stack, seq, fr, MAX_FRAMES, &first);
    json_object *a = json_object_new_array();
    for (int i = first; i < n; i++) {
        if (i != first && (fr[i].framework || !fr[i].module || !fr[first].module || strcmp(fr[i].module, fr[first].module)))
            continue;
        json_object *f = json_object_new_object();
        json_object_object_add(f, "function", jstr(fr[i].function));
        json_object_object_add(f, "file", jstr(fr[i].file));
        json_object_object_add(f, "line", fr[i].line ? json_object_new_int((int)fr[i].line) : NULL);
        json_object_object_add(f, "module", jstr(fr[i].module));
        /* the offset only where no line says it: it changes with every build */
        json_object_object_add(f, "offset", fr[i].line ? NULL : json_object_new_int64((int64_t)fr[i].offset));
        json_object_object_add(f, "inlined", json_object_new_boolean(fr[i].inlined));
        json_object_array_add(a, f);
        if (fr[first].role == ROLE_HOST)
            break;
    }
    return a;
}

static json_object *site_json(const struct finding *f, const struct site *s, struct symbolizer *sym,
                              const struct model *m)
{
    char line[1024], tag[16], who[160];
    const char *actor = render_site(sym, m, f, s, line, sizeof(line), who, sizeof(who));
    json_object *o = json_object_new_object();
    json_object_object_add(o, "what", jstr(s->verb));
    json_object_object_add(o, "by", jstr(actor));
    json_object_object_add(o, "count", json_object_new_int((int)(s->count ? s->count : 1)));
    json_object_object_add(o, "of", json_object_new_int((int)(s->of ? s->of : 1)));
    json_object_object_add(o, "tag", s->tag ? jstr(tr_format_tag(s->tag, tag)) : NULL);
    if (s->lock_tag && s->lock_tag <= UINT32_MAX) { /* a pointer (an IRP) differs every run */
        char t[32];
        snprintf(t, sizeof(t), "0x%llx", (unsigned long long)s->lock_tag);
        json_object_object_add(o, "lock_tag", jstr(t));
    } else {
        json_object_object_add(o, "lock_tag", NULL);
    }
    json_object_object_add(o, "location", jstr(line));
    json_object_object_add(o, "frames", s->code ? json_object_new_array() : frames_json(sym, m, s->stack, s->seq));
    return o;
}

static json_object *finding_json(const struct finding *f, struct symbolizer *sym, const struct model *m)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", jstr(finding_name(f->id)));
    json_object_object_add(o, "root_cause", json_object_new_boolean(!f->consequence));
    json_object_object_add(o, "subject", jstr(f->subject));
    if (f->object) {
        json_object *obj = json_object_new_object();
        json_object_object_add(obj, "id", json_object_new_int64(f->object));
        json_object_object_add(obj, "name", jstr(f->object_name));
        json_object_object_add(obj, "type", jstr(f->object_type));
        json_object_object_add(o, "object", obj);
    } else {
        json_object_object_add(o, "object", NULL);
    }
    json_object_object_add(o, "attribution", jstr(f->attribution));
    json_object *sites = json_object_new_array();
    for (size_t i = 0; i < f->nsites; i++)
        json_object_array_add(sites, site_json(f, &f->sites[i], sym, m));
    json_object_object_add(o, "sites", sites);
    json_object *notes = json_object_new_array();
    for (size_t i = 0; i < f->nnotes; i++)
        json_object_array_add(notes, jstr(f->notes[i]));
    json_object_object_add(o, "notes", notes);
    json_object_object_add(o, "fix", jstr(f->fix));
    json_object_object_add(o, "suppressed", jstr(f->suppressed));
    return o;
}

static json_object *leftovers_json(const struct leftovers *l)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "references", json_object_new_int64(l->refs));
    json_object_object_add(o, "handles", json_object_new_int64(l->handles));
    json_object_object_add(o, "pool", json_object_new_int64(l->pool));
    json_object_object_add(o, "links", json_object_new_int64(l->links));
    return o;
}

/* Every load/unload cycle of every driver image, in unload order: what each left and what was outstanding. */
static json_object *cycles_json(const struct model *m)
{
    json_object *list = json_object_new_array();
    for (size_t i = 0; i < m->ncycles; i++) {
        const struct cycle *c = &m->cycles[i];
        json_object *o = json_object_new_object();
        json_object_object_add(o, "image", jstr(model_module_basename(model_module(m, c->instance))));
        json_object_object_add(o, "cycle", json_object_new_int64(c->number));
        json_object_object_add(o, "left", leftovers_json(&c->left));
        json_object_object_add(o, "outstanding", leftovers_json(&c->total));
        json_object_array_add(list, o);
    }
    return list;
}

void render_json(FILE *out, const struct report *r, const struct model *m, struct symbolizer *sym)
{
    json_object *root = json_object_new_object();
    json_object_object_add(root, "format", jstr("obtrace-report"));
    json_object_object_add(root, "version", json_object_new_int(OBTRACE_JSON_VERSION));
    json_object_object_add(root, "complete", json_object_new_boolean(!r->incomplete));
    json_object_object_add(root, "exit", json_object_new_int(report_exit_code(r)));
    json_object_object_add(root, "events", json_object_new_int64((int64_t)r->events));
    json_object_object_add(root, "images_seen", json_object_new_int((int)r->images_seen));
    json_object_object_add(root, "images_unloaded", json_object_new_int((int)r->images_unloaded));
    json_object *images = json_object_new_array();
    for (size_t i = 0; i < r->nverdicts; i++) {
        const struct verdict *v = &r->verdicts[i];
        json_object *img = json_object_new_object();
        json_object_object_add(img, "image", jstr(v->image));
        json_object_object_add(img, "driver", jstr(v->driver));
        json_object_object_add(img, "state", jstr(v->state));
        json_object_object_add(img, "headline", jstr(v->headline));
        json_object_object_add(img, "reason", jstr(v->reason));
        json_object *fs = json_object_new_array();
        for (size_t k = 0; k < v->nfindings; k++)
            json_object_array_add(fs, finding_json(&v->findings[k], sym, m));
        json_object_object_add(img, "findings", fs);
        json_object_array_add(images, img);
    }
    json_object_object_add(root, "images", images);
    json_object *global = json_object_new_array();
    for (size_t k = 0; k < r->nglobal; k++)
        json_object_array_add(global, finding_json(&r->global[k], sym, m));
    json_object_object_add(root, "findings", global);
    if (cycles_repeated(m))
        json_object_object_add(root, "cycles", cycles_json(m));
    json_object_object_add(root, "suppressed", json_object_new_int64((int64_t)r->nsuppressed));
    json_object_object_add(root, "baselined", json_object_new_int64((int64_t)r->nbaselined));
    fputs(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                   JSON_C_TO_STRING_NOSLASHESCAPE),
          out);
    fputc('\n', out);
    json_object_put(root);
}
