/*
 * gate.h - CI gating of a report: suppressions, baselines and the stable
 * fingerprints both rely on (doc/obtrace.md, "CI gating").
 *
 * A fingerprint names a finding independently of addresses, sequence
 * numbers, object ids and counts: the finding id, the image's base name,
 * the object's type and name pattern (ids "#12" read "#*"), and the
 * symbolized decisive site (verb, then up to three functions outside the
 * framework with their source file's base name; no line numbers, so an
 * edit elsewhere in the file keeps it). Its hex form is a 64-bit FNV-1a
 * hash of that canonical text.
 *
 * A suppression file holds lines `finding-id [image-glob] [site-glob]  # reason`;
 * a matching finding stays in the report, marked suppressed, and does not
 * count for the exit code. A baseline file holds fingerprints; a finding
 * whose fingerprint is in it (each baseline line matches one finding) is
 * dropped from the report. `trace-incomplete` is never suppressed nor
 * baselined: missing data always exits 2.
 */
#ifndef OBTRACE_GATE_H
#define OBTRACE_GATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "report.h"
#include "symbolize.h"

#define GATE_BASELINE_HEADER "# obtrace baseline 1"

struct suppression {
    char *id_glob, *image_glob, *site_glob; /* image_glob / site_glob NULL = any */
    char *reason;                          /* the comment, else "FILE:LINE" */
};

struct baseline_entry {
    uint64_t hash;
    bool used;
};

struct gate {
    struct suppression *sups;
    size_t nsups;
    struct baseline_entry *baseline; /* sorted by hash */
    size_t nbaseline;
    bool have_baseline;
};

/* A finding's fingerprint: hex of the hash, and the canonical text it hashes (tab-separated). */
struct fingerprint {
    uint64_t hash;
    char hex[17];
    char *text;
};

/* Initializes an empty gate (suppresses nothing, no baseline). */
void gate_init(struct gate *g);
/* Frees everything the gate holds. */
void gate_release(struct gate *g);

/*
 * Adds the suppressions of the file at path. Returns 0, or -1 with a
 * one-line "PATH:LINE: what" (or "PATH: what") in err for an unreadable
 * file, an unknown finding id or a malformed line.
 */
int gate_load_suppressions(struct gate *g, const char *path, char *err, size_t errlen);
/*
 * Reads the baseline file at path (GATE_BASELINE_HEADER, then one
 * fingerprint a line). Returns 0, or -1 with a one-line error in err.
 */
int gate_load_baseline(struct gate *g, const char *path, char *err, size_t errlen);

/*
 * Marks r's findings that a suppression matches (f->suppressed = its
 * reason) and counts them in r->nsuppressed. Stacks are symbolized with
 * sym against m.
 */
void gate_suppress(struct gate *g, struct report *r, const struct model *m, struct symbolizer *sym);
/*
 * With a baseline loaded: drops r's unsuppressed findings whose
 * fingerprint is in it (each baseline line matches one finding), counts
 * them in r->nbaselined and sets r->baseline_applied. Without one: nothing.
 */
void gate_drop_baselined(struct gate *g, struct report *r, const struct model *m, struct symbolizer *sym);

/*
 * Computes f's fingerprint; image is the verdict's image base name, or
 * NULL for a finding not tied to an image. Release with fingerprint_release.
 */
void fingerprint_of(struct fingerprint *fp, const struct finding *f, const char *image, const struct model *m,
                    struct symbolizer *sym);
void fingerprint_release(struct fingerprint *fp);

/*
 * Writes the fingerprints of r's counted (not suppressed) findings to path
 * as a baseline file. Returns 0, or -1 with "PATH: what" in err.
 */
int gate_write_baseline(const struct report *r, const struct model *m, struct symbolizer *sym, const char *path,
                        char *err, size_t errlen);

#endif /* OBTRACE_GATE_H */
