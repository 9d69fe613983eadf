/*
 * rthost.h - helpers shared by the red-team C host programs
 * (tests/redteam/<case>/host.c): the path of a red-team driver image under
 * the image root the test script passes as argv[1], and a check that
 * prints what the host expected and ends the program with exit 1 when it
 * does not hold (exit 0 means every check of the host held).
 */
#ifndef RTHOST_H
#define RTHOST_H

#include <stdio.h>
#include <stdlib.h>

#include <ntsim.h>

/* ROOT/REL in a static buffer (one path at a time: the caller copies or uses it at once). */
static inline const char *RtImagePath(const char *Root, const char *Rel)
{
    static char path[1024];
    snprintf(path, sizeof path, "%s/%s", Root, Rel);
    return path;
}

/* Ends the host (exit 1) when Cond is false. */
#define RT_CHECK(Cond, What)                                                             \
    do {                                                                                 \
        if (!(Cond)) {                                                                   \
            fprintf(stderr, "%s:%d: host check failed: %s\n", __FILE__, __LINE__, What); \
            exit(1);                                                                     \
        }                                                                                \
    } while (0)

/* Ends the host (exit 1) when Status is not Want. */
#define RT_STATUS(Status, Want)                                                                      \
    do {                                                                                             \
        NTSTATUS rt_s_ = (Status);                                                                   \
        if (rt_s_ != (Want)) {                                                                       \
            fprintf(stderr, "%s:%d: %s returned %s, expected %s\n", __FILE__, __LINE__, #Status,    \
                    NtsimStatusName(rt_s_), NtsimStatusName(Want));                                  \
            exit(1);                                                                                 \
        }                                                                                            \
    } while (0)

#endif /* RTHOST_H */
