/*
 * host.c - a host that opens one widget handle per worker "session"
 * (three sessions), sends each a status request, closes the sessions, and
 * then surprise-removes the widget (the cable is pulled). Windows sends
 * IRP_MN_REMOVE_DEVICE only once every handle on the stack is closed; the
 * host waits for the PnP manager and checks where the devnode stands.
 * Planted fault: CloseSessions starts its loop at 1, so session 0's handle
 * stays open: after the surprise removal the devnode of the departed
 * device waits for that close (DeviceNodeDeletePendingCloses), REMOVE
 * never comes and rtwidget.so is never unloaded.
 */
#include "../common/rthost.h"

#define IOCTL_WIDGET_STATUS CTL_CODE(FILE_DEVICE_UNKNOWN, 0xA00, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define WIDGET_INSTANCE "ROOT\\RTWIDGET\\0000"
#define WIDGET_LINK "\\??\\ROOT#RTWIDGET#0000#{6c1c2e3a-0b57-4f4e-9d1b-5a3c7e2f9a10}"
#define SESSIONS 3

static HANDLE Sessions[SESSIONS];

static void OpenSessions(void)
{
    for (int i = 0; i < SESSIONS; i++)
        RT_STATUS(NtsimOpenFile(WIDGET_LINK, GENERIC_READ | GENERIC_WRITE, &Sessions[i]), STATUS_SUCCESS);
}

static void PollSessions(void)
{
    for (int i = 0; i < SESSIONS; i++) {
        ULONG requests = 0;
        RT_STATUS(NtsimDeviceIoControl(Sessions[i], IOCTL_WIDGET_STATUS, NULL, 0, &requests, sizeof requests, NULL),
                  STATUS_SUCCESS);
        RT_CHECK(requests == (ULONG)i + 1, "requests are counted per device");
    }
}

static void CloseSessions(void)
{
    for (int i = 1; i < SESSIONS; i++) /* BUG: must start at 0 */
        RT_STATUS(NtsimCloseHandle(Sessions[i]), STATUS_SUCCESS);
}

int main(int argc, char **argv)
{
    NTSIM_DEVNODE_INFO node;
    RT_CHECK(argc == 2, "usage: host IMAGE-ROOT");
    RT_STATUS(NtsimInitialize(NULL), STATUS_SUCCESS);
    RT_STATUS(NtsimInstallService("rtwidget", RtImagePath(argv[1], "common/rtwidget.so")), STATUS_SUCCESS);
    RT_STATUS(NtsimDefineHardware("RTWIDGET", "rtwidget", NULL, NULL), STATUS_SUCCESS);
    RT_STATUS(NtsimPlugDevice("RTWIDGET", WIDGET_INSTANCE), STATUS_SUCCESS);

    OpenSessions();
    PollSessions();
    CloseSessions();

    RT_STATUS(NtsimUnplugDevice(WIDGET_INSTANCE), STATUS_SUCCESS);
    NtsimWaitIdle();
    RT_STATUS(NtsimQueryDevnode(WIDGET_INSTANCE, &node), STATUS_SUCCESS);
    RT_CHECK(node.State == DeviceNodeDeletePendingCloses, "the removal waits for the last close");
    NTSIM_IMAGE_INFO info;
    RT_STATUS(NtsimQueryImage("rtwidget", &info), STATUS_SUCCESS);
    RT_CHECK(info.Mapped && !info.UnloadCalled && info.DeviceCount == 1, "rtwidget keeps its FDO");
    return 0;
}
