/*
 * above_filter.c - a second, unrelated upper filter installed above the
 * toaster filter of pnp_filter_stop.
 *
 * Its code is that of the clean toaster filter (samples/pnp_filter_stop/
 * filter.c: the WDK toaster filter without its control device), built as
 * an image of its own so that it is a different driver in the stack.
 */
#include "../pnp_filter_stop/filter.c"
