/*
 * host.c - a small "codec tool" host program for the legacy rtcodec
 * driver. It installs and starts the service, opens the codec through a
 * helper that also sets the mode, reads the mode back, then tries an
 * unsupported mode (the helper fails, as the tool expects), and finally
 * stops the service to uninstall it.
 * Planted fault: CodecOpenWithMode returns the IOCTL's failure without
 * closing the handle it opened, so one handle stays open: the stop is
 * accepted but DriverUnload is deferred and rtcodec.so stays mapped.
 */
#include "../common/rthost.h"

#define IOCTL_CODEC_SET_MODE CTL_CODE(FILE_DEVICE_UNKNOWN, 0x810, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_CODEC_GET_MODE CTL_CODE(FILE_DEVICE_UNKNOWN, 0x811, METHOD_BUFFERED, FILE_ANY_ACCESS)

/* Opens the codec and sets Mode; on success *Codec is an open handle the caller closes. */
static NTSTATUS CodecOpenWithMode(ULONG Mode, PHANDLE Codec)
{
    HANDLE handle;
    NTSTATUS status = NtsimOpenFile("\\\\.\\RtCodec", GENERIC_READ | GENERIC_WRITE, &handle);
    if (!NT_SUCCESS(status))
        return status;
    status = NtsimDeviceIoControl(handle, IOCTL_CODEC_SET_MODE, &Mode, sizeof Mode, NULL, 0, NULL);
    if (!NT_SUCCESS(status))
        return status; /* BUG: the handle is not closed on this path */
    *Codec = handle;
    return STATUS_SUCCESS;
}

int main(int argc, char **argv)
{
    HANDLE codec;
    ULONG mode = 0, got = 0;
    RT_CHECK(argc == 2, "usage: host IMAGE-ROOT");
    RT_STATUS(NtsimInitialize(NULL), STATUS_SUCCESS);
    RT_STATUS(NtsimInstallService("rtcodec", RtImagePath(argv[1], "host_helper_leak/rtcodec.so")), STATUS_SUCCESS);
    RT_STATUS(NtsimStartService("rtcodec"), STATUS_SUCCESS);

    RT_STATUS(CodecOpenWithMode(2, &codec), STATUS_SUCCESS);
    RT_STATUS(NtsimDeviceIoControl(codec, IOCTL_CODEC_GET_MODE, NULL, 0, &mode, sizeof mode, &got), STATUS_SUCCESS);
    RT_CHECK(got == sizeof mode && mode == 2, "the codec reports mode 2");
    RT_STATUS(NtsimCloseHandle(codec), STATUS_SUCCESS);

    /* mode 9 is not supported: the tool reports it and goes on */
    RT_STATUS(CodecOpenWithMode(9, &codec), STATUS_INVALID_PARAMETER);

    RT_STATUS(NtsimStopService("rtcodec"), STATUS_SUCCESS);
    NTSIM_IMAGE_INFO info;
    RT_STATUS(NtsimQueryImage("rtcodec", &info), STATUS_SUCCESS);
    RT_CHECK(info.State == NtsimImageUnloadPending && info.Mapped, "the unload waits for the leaked handle");
    return 0;
}
