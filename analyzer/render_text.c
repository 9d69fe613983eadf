/*
 * render_text.c - the text verdict (DESIGN §2.3):
 *
 *   image X NOT UNLOADED — <why>
 *     <the reason one level down>
 *     [finding-id] <subject>
 *         <verb>  file.c:NN  Func ← Caller ← …
 *         <notes>
 *     fix: <what usually fixes it>
 *
 * Findings not tied to one image follow, then nothing else: a clean run
 * prints one line saying so.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

#include "render.h"

#define MAX_FRAMES 128
#define CHAIN 3

static const char *base_name(const char *path)
{
    const char *s = path ? strrchr(path, '/') : NULL;
    return s ? s + 1 : path;
}

static void frame_location(const struct sym_frame *f, char *buf, size_t len)
{
    if (f->file && f->line)
        snprintf(buf, len, "%s:%u", base_name(f->file), f->line);
    else if (f->module)
        snprintf(buf, len, "%s+0x%" PRIx64, f->module, f->offset);
    else
        snprintf(buf, len, "0x%" PRIx64, f->addr);
}

static void frame_function(const struct sym_frame *f, char *buf, size_t len)
{
    if (f->function)
        snprintf(buf, len, "%s", f->function);
    else
        frame_location(f, buf, len);
}

/*
 * A function inlined into itself (a compiler's partial clone) shows as two
 * frames of one name; whether it does depends on the build: keep one, with
 * the inner (call-site) line.
 */
static int collapse_self_inlined(struct sym_frame *f, int n)
{
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (k && f[k - 1].inlined && f[k - 1].function && f[i].function && !strcmp(f[k - 1].function, f[i].function) &&
            f[k - 1].module == f[i].module) {
            f[k - 1].inlined = f[i].inlined;
            continue;
        }
        f[k++] = f[i];
    }
    return k;
}

int render_stack_frames(struct symbolizer *sym, const struct model *m, uint32_t stack, uint64_t seq,
                        struct sym_frame *out, int max, int *first)
{
    int n = collapse_self_inlined(out, symbolizer_stack(sym, m, stack, seq, out, max));
    *first = 0;
    while (*first < n && out[*first].framework)
        (*first)++;
    if (*first == n)
        *first = 0;
    return n;
}

static bool same_module(const struct sym_frame *a, const struct sym_frame *b)
{
    return a->module == b->module || (a->module && b->module && !strcmp(a->module, b->module));
}

/* The decisive frame and its callers in the same module ("Func ← Caller"), "← …" when more of it is cut. */
static size_t format_chain(const struct sym_frame *frames, int n, int first, char *buf, size_t len, size_t used)
{
    char fn[256];
    int shown = 0, i = first;
    int chain = frames[first].role == ROLE_HOST ? 1 : CHAIN; /* the application: where it acted, not how it got there */
    for (; i < n && shown < chain && used < len; i++) {
        if (i != first && (frames[i].framework || !same_module(&frames[i], &frames[first])))
            continue;
        frame_function(&frames[i], fn, sizeof(fn));
        used += (size_t)snprintf(buf + used, len - used, "%s%s", shown ? " ← " : "", fn);
        shown++;
    }
    bool more = false;
    for (; i < n && chain > 1; i++)
        more = more || (!frames[i].framework && same_module(&frames[i], &frames[first]));
    if (more && used < len)
        used += (size_t)snprintf(buf + used, len - used, " ← …");
    return used;
}

char *render_stack_line(struct symbolizer *sym, const struct model *m, uint32_t stack, uint64_t seq, char *buf,
                        size_t len)
{
    struct sym_frame frames[MAX_FRAMES];
    int first;
    int n = render_stack_frames(sym, m, stack, seq, frames, MAX_FRAMES, &first);
    if (!n) {
        snprintf(buf, len, "(no stack)");
        return buf;
    }
    char loc[256];
    size_t used = 0;
    buf[0] = 0;
    if (frames[first].file && frames[first].line) { /* else the chain's first entry says it all */
        frame_location(&frames[first], loc, sizeof(loc));
        used = (size_t)snprintf(buf, len, "%s  ", loc);
    }
    format_chain(frames, n, first, buf, len, used);
    return buf;
}

/*
 * Which part of the simulated kernel a stack with no driver or host frame
 * speaks for: the outermost kernel routine below the system thread's own
 * loop (pnp_worker.c runs both the PnP manager's requests and the service
 * control manager's) says whose request it is.
 */
static const char *kernel_actor(const struct sym_frame *frames, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        if (frames[i].role != ROLE_KERNEL || !frames[i].file)
            continue;
        const char *file = base_name(frames[i].file);
        if (!strcmp(file, "pnp_worker.c"))
            continue;
        if (!strcmp(file, "ldr_service.c"))
            return "the service control manager";
        if (!strncmp(file, "pnp_", 4))
            return "the PnP manager";
        break;
    }
    return "the kernel";
}

const char *render_stack_actor(struct symbolizer *sym, const struct model *m, uint32_t stack, uint64_t seq,
                               const char *home, char *buf, size_t len)
{
    struct sym_frame frames[MAX_FRAMES];
    int first;
    int n = render_stack_frames(sym, m, stack, seq, frames, MAX_FRAMES, &first);
    if (!n)
        return NULL;
    switch (frames[first].role) {
    case ROLE_DRIVER:
        if (home && frames[first].module && !strcmp(home, frames[first].module))
            return NULL;
        snprintf(buf, len, "driver %s", frames[first].module);
        return buf;
    case ROLE_HOST: return "the application";
    case ROLE_KERNEL:
    case ROLE_SYSTEM: return kernel_actor(frames, n);
    default: return NULL;
    }
}

/* The kernel routine the decisive frame called (the innermost kernel frame above it), into buf. */
static const char *stack_callee(struct symbolizer *sym, const struct model *m, uint32_t stack, uint64_t seq, char *buf,
                                size_t len)
{
    struct sym_frame frames[MAX_FRAMES];
    int first;
    int n = render_stack_frames(sym, m, stack, seq, frames, MAX_FRAMES, &first);
    for (int i = first - 1; i >= 0 && i < n; i--) {
        if (frames[i].role == ROLE_KERNEL && frames[i].function) {
            snprintf(buf, len, "%s, called at", frames[i].function);
            return buf;
        }
    }
    return NULL;
}

/* A routine shown by where it is defined: "file:line  Function" (the same in every build of it). */
static void code_line(struct symbolizer *sym, const struct model *m, uint64_t code, uint64_t seq, char *buf,
                      size_t len)
{
    struct sym_frame f;
    const struct module *mod = model_module_at(m, code, seq);
    symbolizer_function(sym, mod, code, &f);
    char loc[256], fn[256];
    frame_location(&f, loc, sizeof(loc));
    frame_function(&f, fn, sizeof(fn));
    if (f.file && f.line)
        snprintf(buf, len, "%s  %s", loc, fn);
    else
        snprintf(buf, len, "%s", fn);
}

static const char *home_image(const struct model *m, const struct finding *f)
{
    const struct module *mod = f->image ? model_module(m, f->image) : NULL;
    return mod ? model_module_basename(mod) : NULL;
}

/* What labels a site: nothing, a scenario mark, or the host's own request. */
enum action_kind { ACTION_NONE, ACTION_MARK, ACTION_REQUEST };

/* A request's site: the first host frame of its stack ("host.c:46  main"), into line; false when it has none. */
static bool request_line(struct symbolizer *sym, const struct model *m, const struct host_action *a, uint64_t seq,
                         char *line, size_t len)
{
    struct sym_frame frames[MAX_FRAMES];
    int n = symbolizer_stack(sym, m, a->stack, seq, frames, MAX_FRAMES);
    for (int i = 0; i < n; i++) {
        if (frames[i].role != ROLE_HOST)
            continue;
        char loc[256], fn[256];
        frame_location(&frames[i], loc, sizeof(loc));
        frame_function(&frames[i], fn, sizeof(fn));
        if (frames[i].file && frames[i].line)
            snprintf(line, len, "%s  %s", loc, fn);
        else
            snprintf(line, len, "%s", fn);
        return true;
    }
    return false;
}

/*
 * For a call the application made, or the kernel made on its own, the
 * scenario line under way ("scenario.ntsim:14  stop handle_leak") says
 * more than the host's or the kernel's code; for a call the kernel made
 * on its own, so does the host's latest request ("host.c:46  main": the
 * line of the NtsimStopService call). Writes the label into line and says
 * which it is.
 */
static enum action_kind action_line(struct symbolizer *sym, const struct model *m, uint32_t stack, uint64_t seq,
                                    char *line, size_t len)
{
    struct sym_frame frames[MAX_FRAMES];
    int first;
    int n = render_stack_frames(sym, m, stack, seq, frames, MAX_FRAMES, &first);
    const struct host_action *a = model_action_at(m, seq);
    if (!a || (n && frames[first].role != ROLE_HOST && !frames[first].framework))
        return ACTION_NONE;
    if (a->stack) /* a request labels only what the kernel did: the host's own frames say more */
        return n && !frames[first].framework ? ACTION_NONE
               : request_line(sym, m, a, seq, line, len) ? ACTION_REQUEST : ACTION_NONE;
    model_mark_label(m, a, line, len);
    return ACTION_MARK;
}

const char *render_site(struct symbolizer *sym, const struct model *m, const struct finding *f, const struct site *s,
                        char *line, size_t len, char *who, size_t wlen)
{
    if (s->code) {
        code_line(sym, m, s->code, s->seq, line, len);
        return NULL;
    }
    enum action_kind kind = action_line(sym, m, s->stack, s->seq, line, len);
    if (kind == ACTION_NONE)
        render_stack_line(sym, m, s->stack, s->seq, line, len);
    if (kind == ACTION_REQUEST && !s->callee)
        return "the application";
    return s->callee ? stack_callee(sym, m, s->stack, s->seq, who, wlen)
                     : render_stack_actor(sym, m, s->stack, s->seq, home_image(m, f), who, wlen);
}

static void print_site(FILE *out, const struct site *s, const struct finding *f, const struct model *m,
                       struct symbolizer *sym, const char *indent)
{
    char line[1024], tag[16], who[160];
    const char *actor = render_site(sym, m, f, s, line, sizeof(line), who, sizeof(who));
    fputs(indent, out);
    if (s->count && s->of)
        fprintf(out, "%u/%u ", s->count, s->of);
    size_t vlen = strlen(s->verb);
    bool at = vlen > 3 && !strcmp(s->verb + vlen - 3, " at"); /* "references taken at": the actor goes before "at" */
    if (actor)
        fprintf(out, "%.*s by %s%s  %s", (int)(at ? vlen - 3 : vlen), s->verb, actor, at ? " at" : "", line);
    else
        fprintf(out, "%s  %s", s->verb, line);
    if (s->tag)
        fprintf(out, "  (tag %s)", tr_format_tag(s->tag, tag));
    if (s->lock_tag && s->lock_tag <= UINT32_MAX) /* a pointer (an IRP) differs every run: not shown */
        fprintf(out, "  (tag 0x%" PRIx64 ")", s->lock_tag);
    fputc('\n', out);
}

void render_text_finding(FILE *out, const struct finding *f, const struct model *m, struct symbolizer *sym,
                         const char *indent)
{
    char deeper[16];
    snprintf(deeper, sizeof(deeper), "%s    ", indent);
    if (f->suppressed) { /* listed, not explained: it does not count */
        fprintf(out, "%s[%s] (suppressed: %s) %s\n", indent, finding_name(f->id), f->suppressed, f->subject);
        return;
    }
    fprintf(out, "%s[%s] %s%s", indent, finding_name(f->id), f->consequence ? "(consequence) " : "", f->subject);
    if (f->attribution && f->nsites)
        fprintf(out, " [%s]", f->attribution);
    fputc('\n', out);
    for (size_t i = 0; i < f->nsites; i++)
        print_site(out, &f->sites[i], f, m, sym, deeper);
    for (size_t i = 0; i < f->nnotes; i++)
        fprintf(out, "%s%s\n", deeper, f->notes[i]);
    if (!f->consequence && f->fix && f->fix[0])
        fprintf(out, "%sfix: %s\n", indent, f->fix);
}

void render_text_verdict(FILE *out, const struct verdict *v, const struct model *m, struct symbolizer *sym)
{
    fprintf(out, "image %s %s\n", v->image, v->headline);
    if (v->reason)
        fprintf(out, "  %s\n", v->reason);
    for (size_t k = 0; k < v->nfindings; k++)
        render_text_finding(out, &v->findings[k], m, sym, "  ");
}

void render_text(FILE *out, const struct report *r, const struct model *m, struct symbolizer *sym)
{
    for (size_t k = 0; k < r->nglobal; k++) /* what the trace could not show qualifies everything below */
        if (r->global[k].id == F_TRACE_INCOMPLETE)
            render_text_finding(out, &r->global[k], m, sym, "");
    for (size_t i = 0; i < r->nverdicts; i++)
        render_text_verdict(out, &r->verdicts[i], m, sym);
    for (size_t k = 0; k < r->nglobal; k++)
        if (r->global[k].id != F_TRACE_INCOMPLETE)
            render_text_finding(out, &r->global[k], m, sym, "");
    if (!report_count(r) && !r->nverdicts)
        fprintf(out, "no findings: %u driver image%s loaded, %u unloaded\n", r->images_seen,
                r->images_seen == 1 ? "" : "s", r->images_unloaded);
    if (r->nsuppressed || r->nbaselined)
        fprintf(out, "gating: %zu finding%s suppressed, %zu in the baseline (not shown)\n", r->nsuppressed,
                r->nsuppressed == 1 ? "" : "s", r->nbaselined);
}
