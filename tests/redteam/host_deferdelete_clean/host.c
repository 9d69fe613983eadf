/*
 * host.c - a clean host for the rtdefer event-source driver: it starts the
 * service, subscribes through one handle, kicks the device three times
 * (each kick runs a work item holding a device reference), closes the
 * handle (the driver drops its file-object reference with
 * ObDereferenceObjectDeferDelete in IRP_MJ_CLEANUP), waits for the worker
 * threads, stops the service and checks the image is gone and can be
 * loaded again. No fault is planted: the trace must get no finding.
 */
#include "../common/rthost.h"

#define IOCTL_DEFER_SUBSCRIBE CTL_CODE(FILE_DEVICE_UNKNOWN, 0x820, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_DEFER_KICK CTL_CODE(FILE_DEVICE_UNKNOWN, 0x821, METHOD_BUFFERED, FILE_ANY_ACCESS)

static void Exercise(void)
{
    HANDLE source;
    RT_STATUS(NtsimOpenFile("\\\\.\\RtDefer", GENERIC_READ, &source), STATUS_SUCCESS);
    RT_STATUS(NtsimDeviceIoControl(source, IOCTL_DEFER_SUBSCRIBE, NULL, 0, NULL, 0, NULL), STATUS_SUCCESS);
    RT_STATUS(NtsimDeviceIoControl(source, IOCTL_DEFER_SUBSCRIBE, NULL, 0, NULL, 0, NULL), STATUS_DEVICE_BUSY);
    for (int i = 0; i < 3; i++)
        RT_STATUS(NtsimDeviceIoControl(source, IOCTL_DEFER_KICK, NULL, 0, NULL, 0, NULL), STATUS_SUCCESS);
    RT_STATUS(NtsimCloseHandle(source), STATUS_SUCCESS);
}

int main(int argc, char **argv)
{
    NTSIM_IMAGE_INFO info;
    RT_CHECK(argc == 2, "usage: host IMAGE-ROOT");
    RT_STATUS(NtsimInitialize(NULL), STATUS_SUCCESS);
    RT_STATUS(NtsimInstallService("rtdefer", RtImagePath(argv[1], "host_deferdelete_clean/rtdefer.so")),
              STATUS_SUCCESS);
    RT_STATUS(NtsimStartService("rtdefer"), STATUS_SUCCESS);
    Exercise();
    NtsimWaitIdle(); /* the deferred deletes and the kicks' work items run */
    RT_STATUS(NtsimStopService("rtdefer"), STATUS_SUCCESS);
    NtsimWaitIdle();
    RT_STATUS(NtsimQueryImage("rtdefer", &info), STATUS_SUCCESS);
    RT_CHECK(!info.Mapped && info.UnloadCalled && info.PoolAllocations == 0, "rtdefer unloaded with no pool left");
    RT_STATUS(NtsimStartService("rtdefer"), STATUS_SUCCESS);
    RT_STATUS(NtsimStopService("rtdefer"), STATUS_SUCCESS);
    NtsimWaitIdle();
    RT_STATUS(NtsimQueryImage("rtdefer", &info), STATUS_SUCCESS);
    RT_CHECK(!info.Mapped, "the second instance unloaded too");
    return 0;
}
