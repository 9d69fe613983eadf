/*
 * config.c - parsing of the OBTRACE_* environment, the trace file's name,
 * and the announcement of that name to `obtrace record` (see config.h).
 */
#include "config.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "obtrace/trace.h"

int obt_config_parse_unwind(const char *s)
{
    if (!strcmp(s, "auto"))
        return OBT_UNWIND_AUTO;
    if (!strcmp(s, "fp"))
        return OBT_UNWIND_FP;
    if (!strcmp(s, "dwarf") || !strcmp(s, "libunwind"))
        return OBT_UNWIND_DWARF;
    return -1;
}

static int type_bit(const char *name, size_t len)
{
#define OBT_TYPE_NAME_(sym, value, text) \
    if (strlen(text) == len && !strncasecmp(name, text, len)) \
        return value;
    OBT_OBJ_TYPES(OBT_TYPE_NAME_)
#undef OBT_TYPE_NAME_
    return -1;
}

int obt_config_parse_types(const char *s, uint32_t *mask)
{
    uint32_t m = 0;
    while (*s) {
        size_t len = strcspn(s, ",: ");
        if (len) {
            int bit = type_bit(s, len);
            if (bit < 0)
                return -1;
            m |= 1u << bit;
        }
        s += len;
        if (*s)
            s++;
    }
    *mask = m ? m : ~0u;
    return 0;
}

int obt_glob_list_match(const char *globs, const char *text)
{
    char one[1024];
    while (*globs) {
        size_t len = strcspn(globs, ",");
        if (len && len < sizeof(one)) {
            memcpy(one, globs, len);
            one[len] = 0;
            if (fnmatch(one, text, FNM_NOESCAPE) == 0)
                return 1;
        }
        globs += len;
        if (*globs)
            globs++;
    }
    return 0;
}

int obt_config_expand_path(const char *pattern, int pid, unsigned attempt, char *out, size_t outlen)
{
    size_t n = 0;
    char num[32];

    for (const char *p = pattern; *p; p++) {
        const char *piece = p;
        size_t len = 1;
        if (p[0] == '%' && p[1] == 'p') {
            snprintf(num, sizeof(num), "%d", pid);
            piece = num;
            len = strlen(num);
            p++;
        } else if (p[0] == '%' && p[1] == '%') {
            p++;
        }
        if (n + len >= outlen)
            return -1;
        memcpy(out + n, piece, len);
        n += len;
    }
    out[n] = 0;
    if (attempt) {
        char tail[32];
        size_t ext = (n >= 4 && !strcmp(out + n - 4, ".obt")) ? 4 : 0;
        int k = snprintf(tail, sizeof(tail), ".%u%s", attempt, ext ? ".obt" : "");
        if (n - ext + (size_t)k >= outlen)
            return -1;
        memcpy(out + n - ext, tail, (size_t)k + 1);
    }
    return 0;
}

static void set_default(struct obt_config *c)
{
    memset(c, 0, sizeof(*c));
    strcpy(c->output, OBT_DEFAULT_OUTPUT);
    c->depth = OBT_DEFAULT_DEPTH;
    c->unwind = OBT_UNWIND_AUTO;
    c->type_mask = ~0u;
    c->follow_exec = 1;
    c->report_fd = -1;
}

static void copy_env(char *dst, size_t len, const char *name)
{
    const char *v = getenv(name);
    if (v && strlen(v) < len)
        strcpy(dst, v);
}

int obt_config_from_env(struct obt_config *c, char *err, size_t errlen)
{
    const char *v;
    int rc = 0;

    set_default(c);
    err[0] = 0;
    v = getenv("OBTRACE_OUTPUT");
    if (v && *v) {
        if (strlen(v) >= sizeof(c->output)) {
            snprintf(err, errlen, "OBTRACE_OUTPUT is too long");
            rc = -1;
        } else {
            strcpy(c->output, v);
        }
    }
    v = getenv("OBTRACE_DEPTH");
    if (v && *v) {
        char *end;
        unsigned long d = strtoul(v, &end, 10);
        if (*end || d > OBT_MAX_DEPTH_CONFIG) {
            snprintf(err, errlen, "OBTRACE_DEPTH must be 0..%u", OBT_MAX_DEPTH_CONFIG);
            rc = -1;
        } else {
            c->depth = (unsigned)d;
        }
    }
    v = getenv("OBTRACE_UNWIND");
    if (v && *v) {
        int m = obt_config_parse_unwind(v);
        if (m < 0) {
            snprintf(err, errlen, "OBTRACE_UNWIND must be auto, fp or dwarf");
            rc = -1;
        } else {
            c->unwind = (enum obt_unwind_mode)m;
        }
    }
    v = getenv("OBTRACE_TYPES");
    if (v && *v && obt_config_parse_types(v, &c->type_mask)) {
        snprintf(err, errlen, "OBTRACE_TYPES: unknown object type in '%s'", v);
        c->type_mask = ~0u;
        rc = -1;
    }
    copy_env(c->names, sizeof(c->names), "OBTRACE_NAMES");
    copy_env(c->images, sizeof(c->images), "OBTRACE_IMAGES");
    v = getenv("OBTRACE_FOLLOW_EXEC");
    if (v && *v)
        c->follow_exec = strcmp(v, "0") != 0;
    v = getenv("OBTRACE_CHUNK_SIZE");
    if (v && *v) {
        char *end;
        unsigned long size = strtoul(v, &end, 10);
        if (*end || size < 4096 || size > (16ul << 20)) {
            snprintf(err, errlen, "OBTRACE_CHUNK_SIZE must be 4096..16777216");
            rc = -1;
        } else {
            c->chunk_size = (uint32_t)size;
        }
    }
    v = getenv("OBTRACE_REPORT_FD");
    if (v && *v) {
        char *end;
        long fd = strtol(v, &end, 10);
        if (*end || fd < 0 || fd > INT_MAX) {
            snprintf(err, errlen, "OBTRACE_REPORT_FD must be a file descriptor number");
            rc = -1;
        } else {
            c->report_fd = (int)fd;
        }
    }
    return rc;
}

/* TRUE when fd is a regular file open for appending: a channel, not a descriptor that happens to have that number. */
static int is_report_channel(int fd)
{
    struct stat st;
    int fl = fcntl(fd, F_GETFL);
    return fl >= 0 && (fl & O_APPEND) && (fl & O_ACCMODE) != O_RDONLY && fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

/* path made absolute (against the current directory) into out, NUL included; its length with the NUL, 0 if too long. */
static size_t absolute_path(const char *path, char *out, size_t outlen)
{
    size_t dir = 0;
    if (path[0] != '/') {
        if (!getcwd(out, outlen))
            return 0;
        dir = strlen(out);
        if (dir > 1)
            out[dir++] = '/';
    }
    size_t len = strlen(path) + 1;
    if (dir + len > outlen)
        return 0;
    memcpy(out + dir, path, len);
    return dir + len;
}

int obt_config_report_trace(const struct obt_config *c, const char *path)
{
    char abs[PATH_MAX + 4096];
    if (c->report_fd < 0 || !is_report_channel(c->report_fd))
        return -1;
    size_t len = absolute_path(path, abs, sizeof(abs));
    return len && write(c->report_fd, abs, len) == (ssize_t)len ? 0 : -1;
}
