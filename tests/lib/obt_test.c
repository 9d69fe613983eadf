/*
 * obt_test.c - helpers the analyzer and tracer unit tests share (see
 * obt_test.h): running `obtrace`, reading its output back, finding the
 * test's own image, running a check suite.
 */
#include "obt_test.h"

#include <link.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

void obt_test_obtrace_path(char *buf, size_t len)
{
    snprintf(buf, len, "%s/bin/obtrace", getenv("O") ? getenv("O") : "build");
}

int obt_test_run(const char *obtrace, const char *env, const char *out, const char *fmt, ...)
{
    char args[1024], cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof(cmd), "%s%s%s %s >%s 2>&1", env ? env : "", env ? " " : "", obtrace, args, out);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

char *obt_test_slurp(const char *path)
{
    static char buf[1 << 16];
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    buf[n] = 0;
    if (f)
        fclose(f);
    return buf;
}

static void note_build_id(struct obt_test_image *img, const uint8_t *p, const uint8_t *end)
{
    while (p + sizeof(ElfW(Nhdr)) <= end) {
        const ElfW(Nhdr) *n = (const ElfW(Nhdr) *)p;
        const uint8_t *desc = p + sizeof(*n) + ((n->n_namesz + 3) & ~3u);
        if (n->n_type == NT_GNU_BUILD_ID && n->n_descsz <= sizeof(img->build_id)) {
            memcpy(img->build_id, desc, n->n_descsz);
            img->build_id_len = (uint8_t)n->n_descsz;
        }
        p = desc + ((n->n_descsz + 3) & ~3u);
    }
}

static int find_self(struct dl_phdr_info *info, size_t size, void *ctx)
{
    struct obt_test_image *img = ctx;
    (void)size;
    if (info->dlpi_name[0])
        return 0;
    img->base = info->dlpi_addr;
    img->start = UINT64_MAX;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uint64_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && lo < img->start)
            img->start = lo;
        if (ph->p_type == PT_LOAD && lo + ph->p_memsz > img->end)
            img->end = lo + ph->p_memsz;
        if (ph->p_type == PT_NOTE)
            note_build_id(img, (const uint8_t *)lo, (const uint8_t *)lo + ph->p_memsz);
    }
    return 1;
}

void obt_test_self_image(struct obt_test_image *img)
{
    memset(img, 0, sizeof(*img));
    dl_iterate_phdr(find_self, img);
}

int obt_test_run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
