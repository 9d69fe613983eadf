/*
 * tdrv.h - what the core's test drivers and unit tests share: the IOCTL
 * codes the test drivers answer and the layout of the IRP log each driver
 * image exports as TdLog (read by tests through the mapped image).
 */
#ifndef TDRV_H
#define TDRV_H

#include <wdm.h>

#define TD_LOG_MAX 256

/* One IRP seen by a dispatch routine of the image: major function and device. */
typedef struct _TD_LOG_ENTRY {
    UCHAR MajorFunction;
    PDEVICE_OBJECT DeviceObject;
    PFILE_OBJECT FileObject;
} TD_LOG_ENTRY;

typedef struct _TD_LOG {
    volatile LONG Count;
    TD_LOG_ENTRY Entries[TD_LOG_MAX];
    volatile LONG UnloadCalls;
    volatile LONG WorkItemsRun;
} TD_LOG;

#define TD_IOCTL(n) CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800 + (n), METHOD_BUFFERED, FILE_ANY_ACCESS)
#define TD_IOCTL_ECHO TD_IOCTL(0)           /* output = input */
#define TD_IOCTL_POOL_ALLOC TD_IOCTL(1)     /* in: TD_POOL_REQUEST (Size, Tag); out: PVOID */
#define TD_IOCTL_POOL_FREE TD_IOCTL(2)      /* in: TD_POOL_REQUEST (Pointer, Tag) */
#define TD_IOCTL_PEND TD_IOCTL(3)           /* pended, completed by a work item with Information = 7 */
#define TD_IOCTL_COMPLETE_TWICE TD_IOCTL(4) /* completes the IRP twice: bug check */
#define TD_IOCTL_FAIL TD_IOCTL(5)           /* fails with STATUS_NOT_SUPPORTED */

typedef struct _TD_POOL_REQUEST {
    PVOID Pointer;
    ULONG Size;
    ULONG Tag;
} TD_POOL_REQUEST;

#define TD_WORK_INFORMATION 7

#endif
