/*
 * workitem_unload_fixed.c - the clean twin of workitem_unload.c.
 *
 * The same driver as samples/workitem_unload, built with its fix: the
 * driver counts its queued flushes, and DriverUnload waits until none is
 * pending before it deletes the device, so the stop leaves nothing running
 * in the image.
 */
#define SAMPLE_FIXED 1
#include "../workitem_unload/workitem_unload.c"
