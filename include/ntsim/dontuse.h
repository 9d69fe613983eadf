/*
 * dontuse.h - in the WDK, marks the C runtime's unbounded string routines
 * deprecated so that drivers use ntstrsafe.h. The simulation's compiler
 * already warns about the worst of them; this header adds nothing and
 * exists so drivers that include it build unchanged.
 */
#ifndef NTSIM_DONTUSE_H
#define NTSIM_DONTUSE_H
#endif /* NTSIM_DONTUSE_H */
