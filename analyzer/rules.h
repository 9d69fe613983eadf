/*
 * rules.h - turns the model of a whole trace into a report: for each
 * driver image still mapped at the end (or whose reload failed) the chain
 * of causes (rules_image.c and the files rules_chain.h lists), then what
 * stands on its own: double releases, calls into unmapped images, pool
 * leaks, references unloaded images left on live objects, interfaces that
 * outlived their exporter, whether the trace is complete (rules_global.c),
 * and load/unload cycles that leave something behind (cycles.c).
 */
#ifndef OBTRACE_RULES_H
#define OBTRACE_RULES_H

#include <stddef.h>

#include "model.h"
#include "report.h"

/* Fills r (initialized by the caller) with every finding the model supports, sorted. */
void rules_run(const struct model *m, struct report *r);

/* ---- shared by the rule files ---- */

/* Live objects sorted by id (creation order). */
struct object_list {
    struct object **items;
    size_t n;
};

/* Collects the model's live objects; release with free(list->items). */
void object_list_collect(const struct model *m, struct object_list *list);

/* Bit for enum ref_label in label masks. */
#define LBL_BIT(l) (1u << (l))

/*
 * Adds o's outstanding references whose label is in mask as sites grouped
 * by (stack, tag), most unbalanced first, with "count/of" from the
 * object's per-site totals. Returns the number of references added and
 * sets f->attribution ("exact" when every one was paired by tag).
 */
unsigned rules_add_ref_sites(struct finding *f, const struct object *o, unsigned mask, const char *verb);

/* The image-chain rules: appends verdicts to r. */
void rules_images(const struct model *m, const struct object_list *live, struct report *r);
/* The rules not tied to one image's chain: appends to r->global. */
void rules_global(const struct model *m, const struct object_list *live, struct report *r);

/* KMDF findings not tied to one image's chain (rules_wdf.c): appends to r->global. */
void rules_wdf_global(const struct model *m, const struct object_list *live, struct report *r);
/* "Device", "Driver", ... for an object type. */
const char *rules_type_name(unsigned type);

#endif /* OBTRACE_RULES_H */
