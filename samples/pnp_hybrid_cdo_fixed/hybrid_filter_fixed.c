/*
 * hybrid_filter_fixed.c - the hybrid filter done the way the WDK toaster
 * filter does it.
 *
 * The same filter as samples/pnp_hybrid_cdo, built with its fix: the named
 * control device is created when the first filtered device starts and
 * deleted when the last one is removed (an instance counter under a fast
 * mutex). Once the last device goes, the driver's device list is empty and
 * the PnP manager unloads it.
 */
#define SAMPLE_FIXED 1
#include "../pnp_hybrid_cdo/hybrid_filter.c"
