/*
 * host.c - an installer/uninstaller host for the PnP widget driver. It
 * installs the service, describes the hardware, plugs a widget, checks it
 * works, closes its handle and then "uninstalls" the driver the way one
 * uninstalls a legacy driver: it stops the service and deletes it. The
 * host checks what Windows answers: the stop of a PnP driver is refused
 * (STATUS_INVALID_DEVICE_REQUEST) and the image stays loaded.
 * The host labels its service-control calls with NtsimNoteHostAction (the
 * host API's hook that lets a tracer mark where a host action began): a
 * stop runs on the system thread, so without the label no frame of the
 * host would be in the trace.
 * Planted fault: the uninstall path stops the service instead of removing
 * the widget's devnode (disable or eject); rtwidget.so is never unloaded.
 */
#include "../common/rthost.h"

#define IOCTL_WIDGET_STATUS CTL_CODE(FILE_DEVICE_UNKNOWN, 0xA00, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define WIDGET_LINK "\\??\\ROOT#RTWIDGET#0000#{6c1c2e3a-0b57-4f4e-9d1b-5a3c7e2f9a10}"
#define RT_STR_(x) #x
#define RT_STR(x) RT_STR_(x)
#define RT_HERE __FILE__ ":" RT_STR(__LINE__)

static int Install(const char *Root)
{
    RT_STATUS(NtsimInstallService("rtwidget", RtImagePath(Root, "common/rtwidget.so")), STATUS_SUCCESS);
    RT_STATUS(NtsimDefineHardware("RTWIDGET", "rtwidget", NULL, NULL), STATUS_SUCCESS);
    RT_STATUS(NtsimPlugDevice("RTWIDGET", "ROOT\\RTWIDGET\\0000"), STATUS_SUCCESS);
    return 0;
}

static int SelfTest(void)
{
    HANDLE widget;
    ULONG requests = 0;
    RT_STATUS(NtsimOpenFile(WIDGET_LINK, GENERIC_READ, &widget), STATUS_SUCCESS);
    RT_STATUS(NtsimDeviceIoControl(widget, IOCTL_WIDGET_STATUS, NULL, 0, &requests, sizeof requests, NULL),
              STATUS_SUCCESS);
    RT_CHECK(requests == 1, "first request counted");
    RT_STATUS(NtsimCloseHandle(widget), STATUS_SUCCESS);
    return 0;
}

/* BUG: a PnP driver is unloaded by removing its devices, not by a service stop. */
static NTSTATUS Uninstall(void)
{
    NtsimNoteHostAction(RT_HERE, "stop rtwidget");
    NTSTATUS status = NtsimStopService("rtwidget");
    NtsimDeleteService("rtwidget");
    return status;
}

int main(int argc, char **argv)
{
    RT_CHECK(argc == 2, "usage: host IMAGE-ROOT");
    RT_STATUS(NtsimInitialize(NULL), STATUS_SUCCESS);
    Install(argv[1]);
    SelfTest();
    RT_STATUS(Uninstall(), STATUS_INVALID_DEVICE_REQUEST);
    return 0;
}
