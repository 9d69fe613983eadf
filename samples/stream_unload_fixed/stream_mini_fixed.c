/*
 * stream_mini_fixed.c - the stream minidriver done right (the advice of
 * seed 002).
 *
 * The same minidriver as samples/stream_unload_overwritten, built with its
 * fix: it registers with the stream class first, then stores the unload
 * routine the class installed and sets its own, which frees the
 * driver-wide context and chains to the class's routine.
 */
#define SAMPLE_FIXED 1
#include "../stream_unload_overwritten/stream_mini.c"
