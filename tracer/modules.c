/*
 * modules.c - module instances from dl_iterate_phdr (see modules.h).
 */
#include "modules.h"

#include <elf.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OBT_BUILD_ID_MAX 64u

struct scan_ctx {
    struct obt_modules *m;
    struct obt_writer *w;
    struct obt_tbuf *tb;
    int written;
};

void obt_modules_init(struct obt_modules *m)
{
    memset(m, 0, sizeof(*m));
    pthread_mutex_init(&m->lock, NULL);
    m->next_instance = 1;
}

void obt_modules_release(struct obt_modules *m)
{
    for (unsigned i = 0; i < m->n; i++)
        free(m->mods[i].path);
    m->n = 0;
}

static size_t build_id_of(const struct dl_phdr_info *info, unsigned char *out)
{
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE)
            continue;
        const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr);
        const char *end = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
            const char *name = p + sizeof(*nh);
            const unsigned char *desc = (const unsigned char *)name + ((nh->n_namesz + 3) & ~3u);
            const char *next = (const char *)desc + ((nh->n_descsz + 3) & ~3u);
            if (next > end)
                break;
            if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && !memcmp(name, "GNU", 4)) {
                size_t len = nh->n_descsz < OBT_BUILD_ID_MAX ? nh->n_descsz : OBT_BUILD_ID_MAX;
                memcpy(out, desc, len);
                return len;
            }
            p = next;
        }
    }
    return 0;
}

static void range_of(const struct dl_phdr_info *info, uint64_t *start, uint64_t *end)
{
    uint64_t lo = UINT64_MAX, hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD)
            continue;
        uint64_t s = info->dlpi_addr + ph->p_vaddr, e = s + ph->p_memsz;
        if (s < lo)
            lo = s;
        if (e > hi)
            hi = e;
    }
    *start = lo == UINT64_MAX ? info->dlpi_addr : lo;
    *end = hi ? hi : info->dlpi_addr;
}

static const char *path_of(const struct dl_phdr_info *info, char *buf, size_t len)
{
    if (info->dlpi_name && info->dlpi_name[0])
        return info->dlpi_name;
    ssize_t n = readlink("/proc/self/exe", buf, len - 1);
    buf[n > 0 ? n : 0] = 0;
    return buf;
}

static void write_load(struct scan_ctx *c, const struct obt_module *mod, const unsigned char *bid, size_t bid_len)
{
    char rec[sizeof(struct obt_module_load) + OBT_BUILD_ID_MAX + 4096 + 4];
    struct obt_module_load ml;
    size_t plen = strlen(mod->path);
    if (plen > 4096)
        plen = 4096;
    uint32_t size = (uint32_t)((sizeof(ml) + bid_len + plen + 3) & ~3u);

    memset(&ml, 0, sizeof(ml));
    ml.instance = mod->instance;
    ml.base = mod->base;
    ml.start = mod->start;
    ml.end = mod->end;
    ml.build_id_len = (uint8_t)bid_len;
    ml.path_len = (uint32_t)plen;
    memset(rec, 0, size);
    memcpy(rec, &ml, sizeof(ml));
    memcpy(rec + sizeof(ml), bid, bid_len);
    memcpy(rec + sizeof(ml) + bid_len, mod->path, plen);
    if (obt_tbuf_write_timed(c->w, c->tb, OBT_REC_MODULE_LOAD, rec, size) == 0)
        c->written++;
}

static int scan_one(struct dl_phdr_info *info, size_t size, void *arg)
{
    struct scan_ctx *c = arg;
    struct obt_modules *m = c->m;
    char exe[4096];
    const char *path = path_of(info, exe, sizeof(exe));
    uint64_t start, end;

    if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof(info->dlpi_subs)) {
        m->adds = info->dlpi_adds;
        m->subs = info->dlpi_subs;
    }
    range_of(info, &start, &end);
    for (unsigned i = 0; i < m->n; i++) {
        struct obt_module *mod = &m->mods[i];
        if (mod->base == info->dlpi_addr && mod->start == start && !strcmp(mod->path, path)) {
            mod->seen = 1;
            return 0;
        }
    }
    if (m->n == OBT_MAX_MODULES)
        return 0;
    struct obt_module *mod = &m->mods[m->n];
    mod->path = strdup(path);
    if (!mod->path)
        return 0;
    mod->base = info->dlpi_addr;
    mod->start = start;
    mod->end = end;
    mod->instance = m->next_instance++;
    mod->seen = 1;
    m->n++;
    unsigned char bid[OBT_BUILD_ID_MAX];
    size_t bid_len = build_id_of(info, bid);
    write_load(c, mod, bid, bid_len);
    return 0;
}

static void write_unload(struct scan_ctx *c, const struct obt_module *mod)
{
    struct obt_module_unload mu;
    memset(&mu, 0, sizeof(mu));
    mu.instance = mod->instance;
    if (obt_tbuf_write_timed(c->w, c->tb, OBT_REC_MODULE_UNLOAD, &mu, sizeof(mu)) == 0)
        c->written++;
}

static int scan_locked(struct obt_modules *m, struct obt_writer *w, struct obt_tbuf *tb)
{
    struct scan_ctx c = { m, w, tb, 0 };
    for (unsigned i = 0; i < m->n; i++)
        m->mods[i].seen = 0;
    dl_iterate_phdr(scan_one, &c);
    unsigned keep = 0;
    for (unsigned i = 0; i < m->n; i++) {
        if (m->mods[i].seen) {
            m->mods[keep++] = m->mods[i];
            continue;
        }
        write_unload(&c, &m->mods[i]);
        free(m->mods[i].path);
    }
    m->n = keep;
    return c.written;
}

int obt_modules_scan(struct obt_modules *m, struct obt_writer *w, struct obt_tbuf *tb)
{
    pthread_mutex_lock(&m->lock);
    int n = scan_locked(m, w, tb);
    pthread_mutex_unlock(&m->lock);
    return n;
}

static int read_counters(struct dl_phdr_info *info, size_t size, void *arg)
{
    unsigned long long *ctr = arg;
    if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof(info->dlpi_subs)) {
        ctr[0] = info->dlpi_adds;
        ctr[1] = info->dlpi_subs;
    }
    return 1; /* the counters are the same in every callback: stop at the first */
}

int obt_modules_scan_if_changed(struct obt_modules *m, struct obt_writer *w, struct obt_tbuf *tb)
{
    unsigned long long ctr[2] = { 0, 0 };
    int n = 0;
    dl_iterate_phdr(read_counters, ctr);
    pthread_mutex_lock(&m->lock);
    if (ctr[0] != m->adds || ctr[1] != m->subs)
        n = scan_locked(m, w, tb);
    pthread_mutex_unlock(&m->lock);
    return n;
}

static const struct obt_module *module_at(const struct obt_modules *m, uint64_t addr)
{
    for (unsigned i = 0; i < m->n; i++)
        if (addr >= m->mods[i].start && addr < m->mods[i].end)
            return &m->mods[i];
    return NULL;
}

uint32_t obt_modules_instance_at(struct obt_modules *m, uint64_t addr)
{
    pthread_mutex_lock(&m->lock);
    const struct obt_module *mod = module_at(m, addr);
    uint32_t id = mod ? mod->instance : 0;
    pthread_mutex_unlock(&m->lock);
    return id;
}

int obt_modules_path_at(struct obt_modules *m, uint64_t addr, char *buf, size_t len)
{
    int rc = -1;
    pthread_mutex_lock(&m->lock);
    const struct obt_module *mod = module_at(m, addr);
    if (mod && strlen(mod->path) < len) {
        strcpy(buf, mod->path);
        rc = 0;
    }
    pthread_mutex_unlock(&m->lock);
    return rc;
}
