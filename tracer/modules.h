/*
 * modules.h - the loaded-object table of libobtrace.
 *
 * Every object mapped in the process (program, libraries, driver images)
 * gets a module instance id per mapping and an OBT_REC_MODULE_LOAD record
 * (path, load bias, address range, GNU build-id); a mapping that goes away
 * gets OBT_REC_MODULE_UNLOAD. A scan compares dl_iterate_phdr's list with
 * the table, so an image unloaded and another (or a rebuilt one) mapped at
 * the same address are two instances. Scans run at start, around each
 * MmLoadSystemImage / MmUnloadSystemImage, and whenever a new stack is
 * interned after the loader's add/remove counters moved.
 */
#ifndef OBTRACE_MODULES_H
#define OBTRACE_MODULES_H

#include <pthread.h>
#include <stdint.h>

#include "writer.h"

#define OBT_MAX_MODULES 1024u

struct obt_module {
    uint64_t base, start, end;
    uint32_t instance;
    int seen;
    char *path;
};

struct obt_modules {
    pthread_mutex_t lock;
    struct obt_module mods[OBT_MAX_MODULES];
    unsigned n;
    uint32_t next_instance;
    unsigned long long adds, subs;
};

/* Empties m. */
void obt_modules_init(struct obt_modules *m);
/* Frees the paths; m is empty afterwards. */
void obt_modules_release(struct obt_modules *m);
/*
 * Brings the table in line with the loaded objects, writing a MODULE_LOAD
 * or MODULE_UNLOAD record through tb for each difference. Returns the
 * number of records written.
 */
int obt_modules_scan(struct obt_modules *m, struct obt_writer *w, struct obt_tbuf *tb);
/* Scans only if the loader's add/remove counters changed since the last scan. */
int obt_modules_scan_if_changed(struct obt_modules *m, struct obt_writer *w, struct obt_tbuf *tb);
/* The instance of the live module containing addr, 0 if none. */
uint32_t obt_modules_instance_at(struct obt_modules *m, uint64_t addr);
/* Copies the path of the live module containing addr into buf; 0 or -1. */
int obt_modules_path_at(struct obt_modules *m, uint64_t addr, char *buf, size_t len);

#endif /* OBTRACE_MODULES_H */
