/*
 * symbolize.h - offline symbolization of the raw return addresses in a
 * trace with libdwfl (elfutils): function, file:line and inlined frames,
 * against the module instance mapped at the event (MODULE_LOAD records:
 * path, load bias, range, GNU build-id).
 *
 * A module's file is found at its recorded path (under --sysroot when
 * given) or in the --debug-path directories (by build-id, then by name),
 * and is refused with a note when its build-id differs from the recorded
 * one. Functions come from a sorted symbol index built once per module
 * (dwfl_module_addrinfo alone scans the symbol table on every call), lines
 * from dwfl_module_getsrc, and every address is cached, so symbolization
 * is not the bottleneck of a report.
 *
 * Source paths are printed relative to the current directory when they
 * lie below it, so output does not depend on where the tree is checked out.
 */
#ifndef OBTRACE_SYMBOLIZE_H
#define OBTRACE_SYMBOLIZE_H

#include <stdbool.h>
#include <stdint.h>

#include "model.h"

struct symbolizer;

struct sym_options {
    const char *const *debug_paths; /* NULL-terminated, may be NULL */
    const char *sysroot;            /* may be NULL */
};

/* One symbolized frame. Strings are owned by the symbolizer and live as long as it. */
struct sym_frame {
    uint64_t addr;        /* the return address as recorded */
    const char *function; /* NULL when unknown */
    const char *file;     /* NULL when unknown; relative to the cwd when below it */
    unsigned line;        /* 0 when unknown */
    const char *module;   /* module base name, NULL when the address is in no known module */
    uint64_t offset;      /* addr - module load bias, for unknown functions */
    bool inlined;         /* an inlined call inside the next frame's function */
    bool framework;       /* role kernel or system: never the decisive frame */
    uint8_t role;         /* enum module_role of the module */
};

/* Creates a symbolizer; opts may be NULL. */
struct symbolizer *symbolizer_new(const struct sym_options *opts);
/* Frees it and everything it returned. NULL is fine. */
void symbolizer_free(struct symbolizer *s);

/*
 * Symbolizes one return address in module mod (NULL when unknown). Writes
 * up to max frames to out: with max > 1 the inlined calls at the address
 * first (innermost first), then the containing function. Returns the
 * number written (at least 1 when max >= 1).
 */
int symbolizer_lookup(struct symbolizer *s, const struct module *mod, uint64_t addr, struct sym_frame *out, int max);

/*
 * The function whose code starts at or contains addr (a routine's address,
 * not a return address) in module mod: its name, and the file and line of
 * its definition (DW_AT_decl_*), which do not change with the build's
 * optimization; the line of addr when DWARF names no definition.
 */
void symbolizer_function(struct symbolizer *s, const struct module *mod, uint64_t addr, struct sym_frame *out);

/*
 * Symbolizes a whole stack of the model as seen at seq, with inlined
 * frames; writes up to max frames and returns the count.
 */
int symbolizer_stack(struct symbolizer *s, const struct model *m, uint32_t stack, uint64_t seq,
                     struct sym_frame *out, int max);

/* Why a module could not be used ("build-id mismatch: ..."), or NULL when it was fine or not tried. */
const char *symbolizer_module_note(struct symbolizer *s, const struct module *mod);

/*
 * Who a module's code speaks for. The decisive frame of a stack is its
 * first frame that is neither kernel nor system: a driver's, or the host's
 * (the application: the ntsim scenario runner or a test program).
 */
enum module_role {
    ROLE_UNKNOWN, /* an address in no known module */
    ROLE_SYSTEM,  /* libobtrace, the C library, the loader, other system libraries */
    ROLE_KERNEL,  /* libntsim: the simulated kernel */
    ROLE_HOST,    /* the program and its own libraries: the application */
    ROLE_DRIVER,  /* a driver image */
};

/* The role of module mod (NULL: unknown). */
enum module_role sym_module_role(const struct module *mod);
/* True when a module base name belongs to the simulated kernel, the tracer, libc or the loader. */
bool sym_module_is_framework(const char *basename);

#endif /* OBTRACE_SYMBOLIZE_H */
