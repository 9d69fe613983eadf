/*
 * graph.c - the object graph in DOT (graph.h): which objects are shown,
 * their labels and edges, the holders of their outstanding references
 * (grouped by rules_add_ref_sites, labelled by render_stack_line), the red
 * marking of what the findings name and what lies between it and its
 * image, and the `dot -Tsvg` pipe.
 *
 * Node ids are stable: img<instance>, obj<id>, obj<id>_h<k> for the k-th
 * holder of an object; objects come in id (creation) order.
 */
#include "graph.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "render.h"
#include "rules.h"
#include "xalloc.h"

#define RED_ATTRS ", color=red, fontcolor=red"
#define MARK ((void *)1)

struct graph {
    FILE *out;
    const struct model *m;
    const struct report *r;
    struct symbolizer *sym;
    struct idmap red_objects; /* id -> MARK */
    struct idmap red_images;  /* instance -> MARK */
};

/* Writes s as the inside of a DOT string: quotes and backslashes escaped, newlines as \n. */
static void dot_put(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', out);
        if (*s == '\n')
            fputs("\\n", out);
        else
            fputc(*s, out);
    }
}

static bool is_red(const struct graph *g, uint32_t id)
{
    return id && idmap_get(&g->red_objects, id);
}

/* ---- red marking ----------------------------------------------------------------------------------- */

/* The object that holds o in the graph (a file's device, a device's driver, a registration's driver), or 0. */
static uint32_t parent_of(const struct object *o)
{
    switch (o->type) {
    case OBT_OBJ_FILE: return o->file_device;
    case OBT_OBJ_DEVICE: return o->owner;
    case OBT_OBJ_NOTIFY: return o->notify_driver;
    }
    return 0;
}

/* Marks id red, then what lies above it up to the image. */
static void mark_red(struct graph *g, uint32_t id)
{
    for (const struct object *o = model_object(g->m, id); o && !is_red(g, o->id); o = model_object(g->m, parent_of(o))) {
        idmap_put(&g->red_objects, o->id, MARK);
        const struct driver *d = o->type == OBT_OBJ_DRIVER ? model_driver(g->m, o->id) : NULL;
        if (d && d->image)
            idmap_put(&g->red_images, d->image, MARK);
    }
}

static void mark_findings(struct graph *g, const struct finding *list, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (!list[k].suppressed && list[k].object)
            mark_red(g, list[k].object);
}

static void mark_report(struct graph *g)
{
    if (!g->r)
        return;
    for (size_t i = 0; i < g->r->nverdicts; i++) {
        const struct verdict *v = &g->r->verdicts[i];
        if (verdict_counts(v))
            idmap_put(&g->red_images, v->instance, MARK);
        mark_findings(g, v->findings, v->nfindings);
    }
    mark_findings(g, g->r->global, g->r->nglobal);
}

/* ---- nodes and edges ------------------------------------------------------------------------------------ */

static void edge(struct graph *g, const char *from, const char *to, const char *label, bool red, const char *extra)
{
    fprintf(g->out, "  %s -> %s [label=\"%s\"%s%s];\n", from, to, label, extra, red ? RED_ATTRS : "");
}

static const struct verdict *verdict_of(const struct report *r, uint32_t instance)
{
    for (size_t i = 0; r && i < r->nverdicts; i++)
        if (r->verdicts[i].instance == instance)
            return &r->verdicts[i];
    return NULL;
}

static void image_nodes(struct graph *g)
{
    for (size_t i = 0; i < g->m->nmodules; i++) {
        const struct module *mod = &g->m->modules[i];
        const struct verdict *v = verdict_of(g->r, mod->instance);
        if (!mod->is_driver || (mod->unload_seq && !v))
            continue;
        fprintf(g->out, "  img%u [label=\"", mod->instance);
        dot_put(g->out, model_module_basename(mod));
        fprintf(g->out, "\\n%s\", shape=folder%s];\n", v ? v->state : "mapped",
                idmap_get(&g->red_images, mod->instance) ? RED_ATTRS : "");
    }
}

/* "Device #10, 2 refs, 1 handle, deleted" */
static void object_details(FILE *out, const struct object *o)
{
    fprintf(out, "%s #%u, %zu ref%s", rules_type_name(o->type), o->id, o->nrefs, o->nrefs == 1 ? "" : "s");
    if (o->handles > 0)
        fprintf(out, ", %d handle%s", o->handles, o->handles == 1 ? "" : "s");
    if (o->delete_called)
        fputs(", deleted", out);
    if (o->removed)
        fputs(", removed", out);
}

static const char *shape_of(const struct object *o)
{
    switch (o->type) {
    case OBT_OBJ_DRIVER: return ", shape=component";
    case OBT_OBJ_FILE: return ", shape=note";
    case OBT_OBJ_NOTIFY: return ", shape=hexagon";
    }
    return "";
}

static void object_node(struct graph *g, const struct object *o)
{
    char name[256];
    fprintf(g->out, "  obj%u [label=\"", o->id);
    dot_put(g->out, model_object_label(g->m, o->id, name, sizeof(name)));
    fputs("\\n", g->out);
    object_details(g->out, o);
    fprintf(g->out, "\"%s%s];\n", shape_of(o), is_red(g, o->id) ? RED_ATTRS : "");
}

/* The edges into o from what holds it. */
static void object_edges(struct graph *g, const struct object *o)
{
    char from[32], to[32];
    snprintf(to, sizeof(to), "obj%u", o->id);
    bool red = is_red(g, o->id);
    if (o->type == OBT_OBJ_DRIVER) {
        const struct driver *d = model_driver(g->m, o->id);
        const struct module *mod = d && d->image ? model_module(g->m, d->image) : NULL;
        if (mod && (!mod->unload_seq || verdict_of(g->r, mod->instance))) {
            snprintf(from, sizeof(from), "img%u", mod->instance);
            edge(g, from, to, "driver", red, "");
        }
        return;
    }
    uint32_t parent = parent_of(o);
    if (parent && model_object(g->m, parent)) {
        snprintf(from, sizeof(from), "obj%u", parent);
        const char *label = o->type == OBT_OBJ_DEVICE ? (o->is_unlinked ? "deleted device" : "device")
                            : o->type == OBT_OBJ_FILE ? "file" : "registration";
        edge(g, from, to, label, red && is_red(g, parent), o->is_unlinked ? ", style=dashed" : "");
    }
    if (o->type == OBT_OBJ_DEVICE && o->attached_to && model_object(g->m, o->attached_to)) {
        snprintf(from, sizeof(from), "obj%u", o->attached_to);
        edge(g, from, to, "attached above", red && is_red(g, o->attached_to), "");
    }
    if (o->type == OBT_OBJ_NOTIFY && o->notify_target && model_object(g->m, o->notify_target)) {
        snprintf(from, sizeof(from), "obj%u", o->notify_target);
        edge(g, from, to, "target", red && is_red(g, o->notify_target), "");
    }
}

/* Which outstanding references of o are shown as holders (the others are edges already). */
static unsigned holder_mask(const struct object *o)
{
    switch (o->type) {
    case OBT_OBJ_FILE: return LBL_BIT(LBL_HANDLE) | LBL_BIT(LBL_REF) | LBL_BIT(LBL_CREATE);
    case OBT_OBJ_DEVICE:
        return LBL_BIT(LBL_REF) | (o->is_unlinked ? LBL_BIT(LBL_CREATE) | LBL_BIT(LBL_HANDLE) : 0);
    case OBT_OBJ_DRIVER: return LBL_BIT(LBL_REF);
    }
    return 0;
}

static void holder_node(struct graph *g, const struct object *o, const struct site *s, unsigned k)
{
    char line[1024], tag[16], from[32], to[48];
    bool red = is_red(g, o->id);
    snprintf(from, sizeof(from), "obj%u", o->id);
    snprintf(to, sizeof(to), "obj%u_h%u", o->id, k);
    fprintf(g->out, "  %s [label=\"%u/%u %s\\n", to, s->count, s->of, s->verb);
    dot_put(g->out, render_stack_line(g->sym, g->m, s->stack, s->seq, line, sizeof(line)));
    if (s->tag)
        fprintf(g->out, "\\ntag %s", tr_format_tag(s->tag, tag));
    fprintf(g->out, "\\nthread %u\", shape=ellipse%s];\n", s->tid, red ? RED_ATTRS : "");
    edge(g, from, to, "held by", red, "");
}

static void holders(struct graph *g, const struct object *o)
{
    unsigned mask = holder_mask(o);
    if (!mask)
        return;
    struct finding tmp = { 0 };
    if (mask & LBL_BIT(LBL_HANDLE))
        rules_add_ref_sites(&tmp, o, LBL_BIT(LBL_HANDLE), "handles opened at");
    rules_add_ref_sites(&tmp, o, mask & ~LBL_BIT(LBL_HANDLE), "references taken at");
    for (size_t k = 0; k < tmp.nsites; k++)
        holder_node(g, o, &tmp.sites[k], (unsigned)k + 1);
    free(tmp.sites);
}

static bool shown(const struct model *m, const struct object *o)
{
    switch (o->type) {
    case OBT_OBJ_DRIVER:
    case OBT_OBJ_DEVICE:
    case OBT_OBJ_NOTIFY: return true;
    case OBT_OBJ_FILE: return o->file_device && model_object(m, o->file_device);
    }
    return false;
}

void graph_write_dot(FILE *out, const struct model *m, const struct report *r, struct symbolizer *sym)
{
    struct graph g = { .out = out, .m = m, .r = r, .sym = sym };
    idmap_init(&g.red_objects);
    idmap_init(&g.red_images);
    mark_report(&g);
    struct object_list live;
    object_list_collect(m, &live);
    fputs("digraph obtrace {\n", out);
    fprintf(out, "  graph [rankdir=LR, labelloc=t, fontname=\"Helvetica\", label=\"as of seq %llu\"];\n",
            (unsigned long long)m->last_seq);
    fputs("  node [shape=box, fontname=\"Helvetica\", fontsize=10];\n", out);
    fputs("  edge [fontname=\"Helvetica\", fontsize=9];\n", out);
    image_nodes(&g);
    for (size_t i = 0; i < live.n; i++) {
        if (!shown(m, live.items[i]))
            continue;
        object_node(&g, live.items[i]);
        object_edges(&g, live.items[i]);
        holders(&g, live.items[i]);
    }
    fputs("}\n", out);
    free(live.items);
    idmap_release(&g.red_objects);
    idmap_release(&g.red_images);
}

/* ---- SVG through Graphviz --------------------------------------------------------------------------------- */

/* The path of `dot` on PATH into buf; false when there is none. */
static bool find_dot(char *buf, size_t len)
{
    const char *path = getenv("PATH");
    while (path && *path) {
        size_t n = strcspn(path, ":");
        snprintf(buf, len, "%.*s/dot", (int)n, path);
        if (n && access(buf, X_OK) == 0)
            return true;
        path += n + (path[n] == ':');
    }
    return false;
}

/* Writes all of buf to fd; false on a write error (EPIPE when dot exited early). */
static bool write_all(int fd, const char *buf, size_t len)
{
    while (len) {
        ssize_t w = write(fd, buf, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        buf += w;
        len -= (size_t)w;
    }
    return true;
}

int graph_dot_to_svg(const char *dot, size_t len, FILE *out, char *err, size_t errlen)
{
    char exe[4096];
    if (!find_dot(exe, sizeof(exe))) {
        snprintf(err, errlen, "--format svg needs Graphviz's dot on PATH (install graphviz, or use --format dot)");
        return -1;
    }
    int fds[2];
    fflush(out);
    if (pipe(fds) < 0) {
        snprintf(err, errlen, "cannot run dot: %s", strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[1]);
        dup2(fds[0], 0);
        dup2(fileno(out), 1);
        execl(exe, "dot", "-Tsvg", (char *)NULL);
        _exit(127);
    }
    close(fds[0]);
    void (*old)(int) = signal(SIGPIPE, SIG_IGN);
    bool wrote = pid > 0 && write_all(fds[1], dot, len);
    close(fds[1]);
    signal(SIGPIPE, old);
    int status = -1;
    while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (pid < 0 || !wrote || !WIFEXITED(status) || WEXITSTATUS(status)) {
        snprintf(err, errlen, "dot -Tsvg failed (%s)", pid < 0 ? strerror(errno) : "see its message above");
        return -1;
    }
    return 0;
}
