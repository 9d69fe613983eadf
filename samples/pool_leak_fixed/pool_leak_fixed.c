/*
 * pool_leak_fixed.c - the clean twin of pool_leak.c.
 *
 * The same driver as samples/pool_leak, built with its fix: DriverUnload
 * frees the log records and the settings block, so the image unloads with
 * no pool left behind.
 */
#define SAMPLE_FIXED 1
#include "../pool_leak/pool_leak.c"
