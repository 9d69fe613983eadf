/*
 * fileobj_client_fixed.c - the clean twin of fileobj_client.c.
 *
 * The same client driver as samples/fileobj_leak, built with its fix:
 * DriverUnload dereferences the file object IoGetDeviceObjectPointer
 * returned, which sends IRP_MJ_CLOSE to the target and releases its
 * device, so the target can unload after it.
 */
#define SAMPLE_FIXED 1
#include "../fileobj_leak/fileobj_client.c"
