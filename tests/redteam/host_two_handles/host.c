/*
 * host.c - a "pair monitor" host program for the legacy rtpair driver. It
 * opens the data channel and the event channel, pings both, then tears
 * down and stops the service.
 * Planted fault (in the host): the teardown closes the data-channel handle
 * twice (a copy-paste slip; the second close fails with
 * STATUS_INVALID_HANDLE, which the tool ignores) and never closes the
 * event-channel handle. The stop is accepted but DriverUnload waits for
 * the event channel's file object: rtpair.so stays mapped.
 */
#include "../common/rthost.h"

#define IOCTL_PAIR_PING CTL_CODE(FILE_DEVICE_UNKNOWN, 0xEC0, METHOD_BUFFERED, FILE_ANY_ACCESS)

typedef struct _PAIR_SESSION {
    HANDLE Data;
    HANDLE Events;
} PAIR_SESSION;

static NTSTATUS PairOpen(PAIR_SESSION *Session)
{
    NTSTATUS status = NtsimOpenFile("\\\\.\\RtPairA", GENERIC_READ | GENERIC_WRITE, &Session->Data);
    if (!NT_SUCCESS(status))
        return status;
    status = NtsimOpenFile("\\\\.\\RtPairB", GENERIC_READ, &Session->Events);
    if (!NT_SUCCESS(status))
        NtsimCloseHandle(Session->Data);
    return status;
}

/* Closes the session's handles; the result of each close is not checked. */
static VOID PairClose(PAIR_SESSION *Session)
{
    NtsimCloseHandle(Session->Data);
    NtsimCloseHandle(Session->Data); /* BUG: should close Session->Events */
}

int main(int argc, char **argv)
{
    PAIR_SESSION session;
    RT_CHECK(argc == 2, "usage: host IMAGE-ROOT");
    RT_STATUS(NtsimInitialize(NULL), STATUS_SUCCESS);
    RT_STATUS(NtsimInstallService("rtpair", RtImagePath(argv[1], "host_two_handles/rtpair.so")), STATUS_SUCCESS);
    RT_STATUS(NtsimStartService("rtpair"), STATUS_SUCCESS);

    RT_STATUS(PairOpen(&session), STATUS_SUCCESS);
    RT_STATUS(NtsimDeviceIoControl(session.Data, IOCTL_PAIR_PING, NULL, 0, NULL, 0, NULL), STATUS_SUCCESS);
    RT_STATUS(NtsimDeviceIoControl(session.Events, IOCTL_PAIR_PING, NULL, 0, NULL, 0, NULL), STATUS_SUCCESS);
    PairClose(&session);

    RT_STATUS(NtsimStopService("rtpair"), STATUS_SUCCESS);
    NTSIM_IMAGE_INFO info;
    RT_STATUS(NtsimQueryImage("rtpair", &info), STATUS_SUCCESS);
    RT_CHECK(info.State == NtsimImageUnloadPending && info.Mapped, "the unload waits for the event channel");
    return 0;
}
