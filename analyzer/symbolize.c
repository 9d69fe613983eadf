/*
 * symbolize.c - libdwfl-based offline symbolizer (see symbolize.h).
 *
 * One Dwfl session per module instance (instances of a reloaded image may
 * share addresses, so they cannot share a session). Per instance: a
 * symbol index sorted by address, built once from dwfl_module_getsym_info;
 * per address: a cache entry with function, file and line.
 */
#include "symbolize.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xalloc.h"

/* Paths are cut at PATH_MAX on purpose; a truncated note is still a note. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

struct sym_entry {
    uint64_t start, end;
    const char *name;
    int global;
};

struct sym_module {
    uint32_t instance;
    Dwfl *dwfl;
    Dwfl_Module *dm;
    char *note;               /* why it is unusable */
    const char *basename;
    uint64_t bias;
    struct sym_entry *syms;
    size_t nsyms;
};

/* One frame of an address's inline chain: function, and the line it was at. */
struct inline_frame {
    const char *function;
    const char *file;
    unsigned line;
};

/* Inlined frames kept per address; a deeper chain is cut (its outermost inlined calls dropped). */
#define MAX_INLINE 16

struct cache_entry {
    uint64_t addr;            /* 0 = empty */
    uint32_t instance;
    const char *function;
    const char *file;
    unsigned line;
    int ninline;              /* -1 = the inline chain is not computed yet */
    struct inline_frame *inl; /* ninline frames (inlined calls innermost first, then the container) */
};

struct symbolizer {
    char **debug_paths;
    char *sysroot;
    char *debuginfo_path;     /* for dwfl_standard_find_debuginfo */
    Dwfl_Callbacks callbacks;
    struct idmap modules;     /* instance -> struct sym_module */
    struct cache_entry *cache;
    size_t cache_cap, cache_len;
    char cwd[PATH_MAX];
    size_t cwd_len;
};

static bool has_prefix(const char *s, const char *const *prefixes, size_t n)
{
    for (size_t i = 0; s && i < n; i++)
        if (!strncmp(s, prefixes[i], strlen(prefixes[i])))
            return true;
    return false;
}

static bool is_system_library(const char *base, const char *path)
{
    static const char *const names[] = {
        "libobtrace", "libc.so", "libc-", "ld-linux", "ld64.so", "libpthread", "libdl.so", "libdl-", "libunwind",
        "libasan", "libubsan", "liblzma", "libgcc_s", "linux-vdso", "linux-gate", "libm.so", "libstdc++",
    };
    static const char *const dirs[] = { "/lib/", "/lib64/", "/usr/lib/", "/usr/lib64/", "/usr/local/lib/" };
    return has_prefix(base, names, sizeof(names) / sizeof(names[0])) ||
           has_prefix(path, dirs, sizeof(dirs) / sizeof(dirs[0]));
}

enum module_role sym_module_role(const struct module *mod)
{
    if (!mod)
        return ROLE_UNKNOWN;
    const char *base = model_module_basename(mod);
    if (mod->is_driver)
        return ROLE_DRIVER;
    if (!strncmp(base, "libntsim", 8))
        return ROLE_KERNEL;
    return is_system_library(base, mod->path) ? ROLE_SYSTEM : ROLE_HOST;
}

bool sym_module_is_framework(const char *b)
{
    return b && (!strncmp(b, "libntsim", 8) || is_system_library(b, NULL));
}

struct symbolizer *symbolizer_new(const struct sym_options *opts)
{
    struct symbolizer *s = xcalloc(1, sizeof(*s));
    size_t n = 0;
    while (opts && opts->debug_paths && opts->debug_paths[n])
        n++;
    s->debug_paths = xcalloc(n + 1, sizeof(char *));
    size_t len = strlen("-:.debug:/usr/lib/debug") + 1;
    for (size_t i = 0; i < n; i++) {
        s->debug_paths[i] = xstrdup(opts->debug_paths[i]);
        len += strlen(opts->debug_paths[i]) + 1;
    }
    s->debuginfo_path = xmalloc(len);
    strcpy(s->debuginfo_path, "-:.debug:/usr/lib/debug");
    for (size_t i = 0; i < n; i++) {
        strcat(s->debuginfo_path, ":");
        strcat(s->debuginfo_path, s->debug_paths[i]);
    }
    s->sysroot = opts && opts->sysroot ? xstrdup(opts->sysroot) : NULL;
    s->callbacks = (Dwfl_Callbacks){
        .find_elf = dwfl_build_id_find_elf,
        .find_debuginfo = dwfl_standard_find_debuginfo,
        .section_address = dwfl_offline_section_address,
        .debuginfo_path = &s->debuginfo_path,
    };
    idmap_init(&s->modules);
    if (getcwd(s->cwd, sizeof(s->cwd))) {
        s->cwd_len = strlen(s->cwd);
        if (s->cwd_len == 1) /* "/" */
            s->cwd_len = 0;
    }
    return s;
}

static void free_module(void *v, void *ctx)
{
    (void)ctx;
    struct sym_module *sm = v;
    if (sm->dwfl)
        dwfl_end(sm->dwfl);
    free(sm->syms);
    free(sm->note);
    free(sm);
}

void symbolizer_free(struct symbolizer *s)
{
    if (!s)
        return;
    idmap_each(&s->modules, free_module, NULL);
    idmap_release(&s->modules);
    for (size_t i = 0; s->debug_paths[i]; i++)
        free(s->debug_paths[i]);
    free(s->debug_paths);
    free(s->sysroot);
    free(s->debuginfo_path);
    for (size_t i = 0; i < s->cache_cap; i++)
        free(s->cache[i].inl);
    free(s->cache);
    free(s);
}

/* ---- finding and opening a module's file -------------------------------------------------------- */

static char *hex(const uint8_t *p, size_t n, char *buf)
{
    for (size_t i = 0; i < n; i++)
        sprintf(buf + 2 * i, "%02x", p[i]);
    buf[2 * n] = 0;
    return buf;
}

/* Candidate file names for a module, in search order; returns how many were written. */
static int candidates(const struct symbolizer *s, const struct module *mod, char out[][PATH_MAX], int max)
{
    int n = 0;
    const char *base = model_module_basename(mod);
    char id[130];
    hex(mod->build_id, mod->build_id_len, id);
    if (s->sysroot && n < max)
        snprintf(out[n++], PATH_MAX, "%s%s", s->sysroot, mod->path);
    else if (n < max)
        snprintf(out[n++], PATH_MAX, "%s", mod->path);
    for (size_t i = 0; s->debug_paths[i] && n + 2 <= max; i++) {
        if (mod->build_id_len > 1)
            snprintf(out[n++], PATH_MAX, "%s/.build-id/%.2s/%s.debug", s->debug_paths[i], id, id + 2);
        snprintf(out[n++], PATH_MAX, "%s/%s", s->debug_paths[i], base);
    }
    return n;
}

/* Reports file into a new session; returns the Dwfl_Module or NULL (with *why set). */
static Dwfl_Module *report_file(struct symbolizer *s, struct sym_module *sm, const struct module *mod,
                                const char *file, char *why, size_t whylen)
{
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    Dwfl *dwfl = dwfl_begin(&s->callbacks);
    dwfl_report_begin(dwfl);
    Dwfl_Module *dm = dwfl_report_elf(dwfl, sm->basename, file, fd, mod->base, false);
    dwfl_report_end(dwfl, NULL, NULL);
    if (!dm) {
        snprintf(why, whylen, "%s: %s", file, dwfl_errmsg(-1));
        dwfl_end(dwfl);
        return NULL;
    }
    const unsigned char *bits;
    GElf_Addr vaddr;
    int len = dwfl_module_build_id(dm, &bits, &vaddr);
    if (mod->build_id_len && (len != mod->build_id_len || memcmp(bits, mod->build_id, (size_t)len))) {
        char want[130], got[130];
        snprintf(why, whylen, "build-id mismatch: %s has %s, the trace recorded %s", file,
                 len > 0 ? hex(bits, (size_t)len, got) : "none", hex(mod->build_id, mod->build_id_len, want));
        dwfl_end(dwfl);
        return NULL;
    }
    sm->dwfl = dwfl;
    return dm;
}

static int cmp_sym(const void *a, const void *b)
{
    const struct sym_entry *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return y->global - x->global; /* globals first at the same address */
}

/* The sorted function-symbol index of a module (one pass over its symbol table). */
static void build_index(struct sym_module *sm)
{
    int n = dwfl_module_getsymtab(sm->dm);
    size_t cap = 0;
    for (int i = 1; i < n; i++) {
        GElf_Sym sym;
        GElf_Addr addr;
        const char *name = dwfl_module_getsym_info(sm->dm, i, &sym, &addr, NULL, NULL, NULL);
        if (!name || !*name || sym.st_shndx == SHN_UNDEF)
            continue;
        int type = GELF_ST_TYPE(sym.st_info);
        if (type != STT_FUNC && type != STT_GNU_IFUNC)
            continue;
        xgrow(&sm->syms, &cap, sm->nsyms + 1, sizeof(*sm->syms));
        sm->syms[sm->nsyms++] = (struct sym_entry){
            .start = addr, .end = addr + sym.st_size, .name = name,
            .global = GELF_ST_BIND(sym.st_info) != STB_LOCAL,
        };
    }
    if (sm->nsyms > 1)
        qsort(sm->syms, sm->nsyms, sizeof(*sm->syms), cmp_sym);
    /* drop aliases at the same address; give size-0 symbols the gap up to the next one */
    size_t k = 0;
    for (size_t i = 0; i < sm->nsyms; i++)
        if (!k || sm->syms[i].start != sm->syms[k - 1].start)
            sm->syms[k++] = sm->syms[i];
    sm->nsyms = k;
    for (size_t i = 0; i < k; i++)
        if (sm->syms[i].end == sm->syms[i].start)
            sm->syms[i].end = i + 1 < k ? sm->syms[i + 1].start : sm->syms[i].start + 1;
}

static struct sym_module *module_state(struct symbolizer *s, const struct module *mod)
{
    struct sym_module *sm = idmap_get(&s->modules, mod->instance);
    if (sm)
        return sm;
    sm = xcalloc(1, sizeof(*sm));
    sm->instance = mod->instance;
    sm->basename = model_module_basename(mod);
    sm->bias = mod->base;
    idmap_put(&s->modules, mod->instance, sm);
    char files[16][PATH_MAX];
    int n = candidates(s, mod, files, 16);
    char why[PATH_MAX + 300] = "";
    for (int i = 0; i < n && !sm->dm; i++)
        sm->dm = report_file(s, sm, mod, files[i], why, sizeof(why));
    if (!sm->dm) {
        if (!why[0])
            snprintf(why, sizeof(why), "%s not found (use --debug-path or --sysroot)", mod->path);
        sm->note = xstrdup(why);
        return sm;
    }
    build_index(sm);
    return sm;
}

const char *symbolizer_module_note(struct symbolizer *s, const struct module *mod)
{
    return mod ? module_state(s, mod)->note : NULL;
}

/* ---- lookups ----------------------------------------------------------------------------------------- */

static const char *relative(const struct symbolizer *s, const char *file)
{
    if (file && s->cwd_len && !strncmp(file, s->cwd, s->cwd_len) && file[s->cwd_len] == '/')
        return file + s->cwd_len + 1;
    return file;
}

static const struct sym_entry *find_sym(const struct sym_module *sm, uint64_t addr)
{
    size_t lo = 0, hi = sm->nsyms;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (sm->syms[mid].start <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (!lo || addr >= sm->syms[lo - 1].end)
        return NULL;
    return &sm->syms[lo - 1];
}

static size_t cache_slot(uint64_t addr, uint32_t instance, size_t cap)
{
    uint64_t k = (addr ^ ((uint64_t)instance << 47)) * 0x9E3779B97F4A7C15ull;
    return (size_t)(k >> 20) & (cap - 1);
}

static void cache_grow(struct symbolizer *s)
{
    struct cache_entry *old = s->cache;
    size_t oldcap = s->cache_cap;
    s->cache_cap = oldcap ? oldcap * 2 : 4096;
    s->cache = xcalloc(s->cache_cap, sizeof(*s->cache));
    for (size_t i = 0; i < oldcap; i++) {
        if (!old[i].addr)
            continue;
        size_t j = cache_slot(old[i].addr, old[i].instance, s->cache_cap);
        while (s->cache[j].addr)
            j = (j + 1) & (s->cache_cap - 1);
        s->cache[j] = old[i];
    }
    free(old);
}

/* The cached (function, file, line) of addr in sm, computing it on a miss. */
static struct cache_entry *lookup_cached(struct symbolizer *s, struct sym_module *sm, uint64_t addr)
{
    if ((s->cache_len + 1) * 2 > s->cache_cap)
        cache_grow(s);
    size_t j = cache_slot(addr, sm->instance, s->cache_cap);
    while (s->cache[j].addr) {
        if (s->cache[j].addr == addr && s->cache[j].instance == sm->instance)
            return &s->cache[j];
        j = (j + 1) & (s->cache_cap - 1);
    }
    struct cache_entry *e = &s->cache[j];
    e->addr = addr;
    e->instance = sm->instance;
    e->ninline = -1;
    s->cache_len++;
    uint64_t pc = addr - 1; /* a return address: look up the call instruction */
    const struct sym_entry *sym = find_sym(sm, pc);
    e->function = sym ? sym->name : NULL;
    Dwfl_Line *line = dwfl_module_getsrc(sm->dm, pc);
    if (line) {
        int lineno = 0;
        e->file = relative(s, dwfl_lineinfo(line, NULL, &lineno, NULL, NULL, NULL));
        e->line = lineno > 0 ? (unsigned)lineno : 0;
    }
    return e;
}

static const char *die_name(Dwarf_Die *die)
{
    Dwarf_Attribute attr;
    if (dwarf_attr_integrate(die, DW_AT_name, &attr))
        return dwarf_formstring(&attr);
    return NULL;
}

/* The DW_AT_call_file / DW_AT_call_line of an inlined-subroutine DIE into *file / *line (kept when absent). */
static void call_site(struct symbolizer *s, Dwarf_Die *die, Dwarf_Files *files, size_t nfiles, const char **file,
                      unsigned *line)
{
    Dwarf_Attribute attr;
    Dwarf_Word v;
    if (dwarf_attr(die, DW_AT_call_file, &attr) && !dwarf_formudata(&attr, &v) && files && v < nfiles)
        *file = relative(s, dwarf_filesrc(files, v, NULL, NULL));
    if (dwarf_attr(die, DW_AT_call_line, &attr) && !dwarf_formudata(&attr, &v))
        *line = (unsigned)v;
}

/*
 * The scopes containing pc in cu along the concrete DIE tree, innermost
 * first, into *out (malloc'd); returns the count. dwarf_getscopes alone
 * continues past the innermost inlined subroutine with its abstract
 * origin's parents, which would lose every outer inlined call: the chain
 * is re-read from the innermost scope's own parents (dwarf_getscopes_die).
 */
static int concrete_scopes(Dwarf_Die *cu, Dwarf_Addr pc, Dwarf_Die **out)
{
    Dwarf_Die *scopes = NULL;
    *out = NULL;
    int n = dwarf_getscopes(cu, pc, &scopes);
    if (n <= 0) {
        free(scopes);
        return 0;
    }
    Dwarf_Die innermost = scopes[0];
    free(scopes);
    n = dwarf_getscopes_die(&innermost, out);
    return n > 0 ? n : 0;
}

/*
 * Computes e's inline chain at pc: each inlined call innermost first (at
 * the line-table location for the innermost, else at the call site the
 * inner call's DIE records), then the function that contains them. Sets
 * e->ninline to 0 when nothing is inlined at pc.
 */
static void compute_inline_chain(struct symbolizer *s, struct sym_module *sm, uint64_t pc, struct cache_entry *e)
{
    Dwarf_Addr bias;
    Dwarf_Die *cu = dwfl_module_addrdie(sm->dm, pc, &bias);
    Dwarf_Die *scopes = NULL;
    int n = cu ? concrete_scopes(cu, pc - bias, &scopes) : 0;
    struct inline_frame chain[MAX_INLINE + 1];
    int written = 0;
    const char *file = e->file;
    unsigned line = e->line;
    Dwarf_Files *files = NULL;
    size_t nfiles = 0;
    if (n > 0)
        dwarf_getsrcfiles(cu, &files, &nfiles);
    for (int i = 0; i < n && written < MAX_INLINE; i++) {
        if (dwarf_tag(&scopes[i]) != DW_TAG_inlined_subroutine)
            continue;
        chain[written++] = (struct inline_frame){ .function = die_name(&scopes[i]), .file = file, .line = line };
        call_site(s, &scopes[i], files, nfiles, &file, &line);
    }
    if (written) /* the function that contains the inlined calls */
        chain[written++] = (struct inline_frame){ .function = e->function, .file = file, .line = line };
    free(scopes);
    e->ninline = written;
    if (written) {
        e->inl = xmalloc((size_t)written * sizeof(*e->inl));
        memcpy(e->inl, chain, (size_t)written * sizeof(*e->inl));
    }
}

/*
 * The inlined calls at the return address addr, innermost first, then the
 * containing function, into out (at most max); computed once per address
 * and cached (max only cuts the copy). Returns the count written (0 when
 * nothing is inlined there).
 */
static int inline_chain(struct symbolizer *s, struct sym_module *sm, uint64_t addr, struct cache_entry *e,
                        struct sym_frame *out, int max)
{
    if (e->ninline < 0)
        compute_inline_chain(s, sm, addr - 1, e);
    int n = e->ninline < max ? e->ninline : max; /* cut short: the innermost calls */
    for (int i = 0; i < n; i++)
        out[i] = (struct sym_frame){ .function = e->inl[i].function, .file = e->inl[i].file,
                                     .line = e->inl[i].line };
    return n;
}

int symbolizer_lookup(struct symbolizer *s, const struct module *mod, uint64_t addr, struct sym_frame *out, int max)
{
    if (max < 1)
        return 0;
    const char *base = mod ? model_module_basename(mod) : NULL;
    enum module_role role = sym_module_role(mod);
    struct sym_frame f = { .addr = addr, .module = base, .offset = mod ? addr - mod->base : addr,
                           .framework = role == ROLE_KERNEL || role == ROLE_SYSTEM, .role = (uint8_t)role };
    struct sym_module *sm = mod ? module_state(s, mod) : NULL;
    if (!sm || !sm->dm) {
        out[0] = f;
        return 1;
    }
    struct cache_entry *e = lookup_cached(s, sm, addr);
    int n = max > 1 ? inline_chain(s, sm, addr, e, out, max) : 0;
    if (!n) {
        f.function = e->function;
        f.file = e->file;
        f.line = e->line;
        out[0] = f;
        return 1;
    }
    for (int i = 0; i < n; i++) {
        out[i].addr = addr;
        out[i].module = base;
        out[i].offset = f.offset;
        out[i].framework = f.framework;
        out[i].role = f.role;
        out[i].inlined = i + 1 < n;
    }
    return n;
}

/* The subprogram DIE containing pc (bias-adjusted) in cu: its definition's file and line into f. */
static bool decl_of(struct symbolizer *s, Dwarf_Die *cu, Dwarf_Addr pc, struct sym_frame *f)
{
    Dwarf_Die *scopes = NULL;
    int n = dwarf_getscopes(cu, pc, &scopes);
    bool found = false;
    for (int i = 0; i < n && !found; i++) {
        if (dwarf_tag(&scopes[i]) != DW_TAG_subprogram)
            continue;
        int line = 0;
        const char *file = dwarf_decl_file(&scopes[i]);
        if (file && dwarf_decl_line(&scopes[i], &line) == 0 && line > 0) {
            f->file = relative(s, file);
            f->line = (unsigned)line;
            found = true;
        }
    }
    free(scopes);
    return found;
}

void symbolizer_function(struct symbolizer *s, const struct module *mod, uint64_t addr, struct sym_frame *out)
{
    symbolizer_lookup(s, mod, addr + 1, out, 1); /* +1: the lookup expects a return address */
    struct sym_module *sm = mod ? module_state(s, mod) : NULL;
    if (!sm || !sm->dm)
        return;
    Dwarf_Addr bias;
    Dwarf_Die *cu = dwfl_module_addrdie(sm->dm, addr, &bias);
    if (cu)
        decl_of(s, cu, addr - bias, out);
}

int symbolizer_stack(struct symbolizer *s, const struct model *m, uint32_t stack, uint64_t seq,
                     struct sym_frame *out, int max)
{
    const struct stack *st = model_stack(m, stack);
    int n = 0;
    for (uint32_t i = 0; st && i < st->depth && n < max; i++) {
        const struct module *mod = model_module_at(m, st->frames[i], seq);
        n += symbolizer_lookup(s, mod, st->frames[i], out + n, max - n);
    }
    return n;
}
