/*
 * device_ref_leak_fixed.c - the clean twin of device_ref_leak.c.
 *
 * The same driver as samples/device_ref_leak, built with its fix: the
 * query drops its reference on the device on every path (one exit), so
 * after DriverUnload deletes the device nothing keeps the device or the
 * driver object alive and the image unloads.
 */
#define SAMPLE_FIXED 1
#include "../device_ref_leak/device_ref_leak.c"
