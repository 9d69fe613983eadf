/*
 * um_handles.c - the user-mode side of the host API: CreateFile-like opens
 * that return a handle owning the file object, CloseHandle, and
 * DeviceIoControl as NtDeviceIoControlFile does it (the file object
 * referenced for the IRP's lifetime, buffered I/O for every method, a wait
 * for completion that a stuck driver turns into a report, never a hang).
 */
#include <string.h>

#include "ntsim_internal.h"

NTSTATUS NtsimOpenFile(const char *Path, ACCESS_MASK DesiredAccess, PHANDLE Handle)
{
    if (!Path || !Handle)
        return STATUS_INVALID_PARAMETER;
    return IopOpenPathWithHandle(Path, DesiredAccess, Handle);
}

NTSTATUS NtsimCloseHandle(HANDLE Handle)
{
    return ZwClose(Handle);
}

/* An I/O request's user-side state, on the heap: left behind if a stuck wait gives up on it. */
typedef struct _UMP_REQUEST {
    KEVENT Event;
    IO_STATUS_BLOCK Iosb;
    UCHAR Output[];
} UMP_REQUEST;

/* Builds the DEVICE_CONTROL IRP for File's stack (buffered); NULL when out of memory. */
static PIRP UmpBuildIoctl(PFILE_OBJECT File, PDEVICE_OBJECT Top, UMP_REQUEST *Request, ULONG IoControlCode,
                          const void *InputBuffer, ULONG InputBufferLength, ULONG OutputBufferLength)
{
    PIRP irp = IoBuildDeviceIoControlRequest(IoControlCode & ~(ULONG)METHOD_NEITHER, Top, (PVOID)InputBuffer,
                                             InputBufferLength, Request->Output, OutputBufferLength, FALSE,
                                             &Request->Event, &Request->Iosb);
    if (!irp)
        return NULL;
    PIO_STACK_LOCATION sp = IoGetNextIrpStackLocation(irp);
    sp->Parameters.DeviceIoControl.IoControlCode = IoControlCode;
    sp->FileObject = File;
    irp->Tail.Overlay.OriginalFileObject = File;
    irp->RequestorMode = UserMode;
    ((IOP_IRP_HEADER *)irp - 1)->ReferencedFile = File;
    return irp;
}

NTSTATUS NtsimDeviceIoControl(HANDLE Handle, ULONG IoControlCode, const void *InputBuffer, ULONG InputBufferLength,
                              void *OutputBuffer, ULONG OutputBufferLength, ULONG *BytesReturned)
{
    if (BytesReturned)
        *BytesReturned = 0;
    if ((InputBufferLength && !InputBuffer) || (OutputBufferLength && !OutputBuffer))
        return STATUS_INVALID_PARAMETER;
    PVOID object;
    NTSTATUS status = ObReferenceObjectByHandle(Handle, 0, *IoFileObjectType, UserMode, &object, NULL);
    if (!NT_SUCCESS(status))
        return status;
    PFILE_OBJECT file = object;
    PDEVICE_OBJECT top = IoGetRelatedDeviceObject(file);
    UMP_REQUEST *request = RtlpAllocZero(sizeof(UMP_REQUEST) + OutputBufferLength);
    KeInitializeEvent(&request->Event, NotificationEvent, FALSE);
    PIRP irp = UmpBuildIoctl(file, top, request, IoControlCode, InputBuffer, InputBufferLength, OutputBufferLength);
    if (!irp) {
        free(request);
        ObfDereferenceObject(file);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    IofCallDriver(top, irp); /* the file reference is released when the IRP completes */
    if (KipWaitForEvent(&request->Event, NULL, top, "completion of a DeviceIoControl sent to") != STATUS_SUCCESS)
        return STATUS_TIMEOUT;
    ULONG_PTR n = request->Iosb.Information;
    if (n > OutputBufferLength)
        n = OutputBufferLength;
    if (n)
        memcpy(OutputBuffer, request->Output, n);
    if (BytesReturned)
        *BytesReturned = (ULONG)n;
    status = request->Iosb.Status;
    free(request);
    return status;
}
