/*
 * rtbroker.c - a legacy "session broker" driver. Its control device
 * \Device\RtBroker (\DosDevices\RtBroker) gives every open a session
 * (FsContext). A client names a peer session by passing the handle of its
 * own second open in an IOCTL; the broker resolves it with
 * ObReferenceObjectByHandle:
 *   IOCTL_BROKER_QUERY_PEER  reads the peer's state, dereferences at once;
 *   IOCTL_BROKER_LINK_PEER   keeps the peer's file object in the session,
 *                            dereferenced when the session is closed;
 *   IOCTL_BROKER_SET_READY   marks the caller's session ready;
 *   IOCTL_BROKER_TRANSFER    moves a counter to the peer if it is ready.
 * Planted fault: IOCTL_BROKER_TRANSFER returns STATUS_DEVICE_NOT_READY
 * without dereferencing the peer's file object when the peer is not ready.
 */
#include <ntddk.h>

#define IOCTL_BROKER_QUERY_PEER CTL_CODE(FILE_DEVICE_UNKNOWN, 0x801, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_BROKER_LINK_PEER CTL_CODE(FILE_DEVICE_UNKNOWN, 0x802, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_BROKER_SET_READY CTL_CODE(FILE_DEVICE_UNKNOWN, 0x803, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_BROKER_TRANSFER CTL_CODE(FILE_DEVICE_UNKNOWN, 0x804, METHOD_BUFFERED, FILE_ANY_ACCESS)

#define BROKER_TAG 'kbTR'

typedef struct _BROKER_SESSION {
    ULONG Id;
    BOOLEAN Ready;
    LONG Credits;
    PFILE_OBJECT LinkedPeer; /* referenced by IOCTL_BROKER_LINK_PEER, released at close */
} BROKER_SESSION, *PBROKER_SESSION;

typedef struct _BROKER_EXTENSION {
    UNICODE_STRING LinkName;
    LONG NextSessionId;
} BROKER_EXTENSION, *PBROKER_EXTENSION;

DRIVER_INITIALIZE DriverEntry;
DRIVER_UNLOAD BrokerUnload;
_Dispatch_type_(IRP_MJ_CREATE) DRIVER_DISPATCH BrokerCreate;
_Dispatch_type_(IRP_MJ_CLOSE) DRIVER_DISPATCH BrokerClose;
_Dispatch_type_(IRP_MJ_CLEANUP) DRIVER_DISPATCH BrokerCleanup;
_Dispatch_type_(IRP_MJ_DEVICE_CONTROL) DRIVER_DISPATCH BrokerDeviceControl;

static NTSTATUS BrokerCompleteIrp(PIRP Irp, NTSTATUS Status, ULONG_PTR Information)
{
    Irp->IoStatus.Status = Status;
    Irp->IoStatus.Information = Information;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

/* The peer handle a request carries in its input buffer. */
static NTSTATUS BrokerGetPeerHandle(PIO_STACK_LOCATION Stack, PIRP Irp, PHANDLE Handle)
{
    if (Stack->Parameters.DeviceIoControl.InputBufferLength < sizeof(HANDLE))
        return STATUS_BUFFER_TOO_SMALL;
    *Handle = *(PHANDLE)Irp->AssociatedIrp.SystemBuffer;
    return STATUS_SUCCESS;
}

/* Resolves a peer handle to its file object and checks it is one of ours. */
static NTSTATUS BrokerReferencePeer(PDEVICE_OBJECT DeviceObject, HANDLE Handle, KPROCESSOR_MODE Mode,
                                    PFILE_OBJECT *Peer)
{
    PFILE_OBJECT file;
    NTSTATUS status = ObReferenceObjectByHandle(Handle, FILE_READ_DATA, *IoFileObjectType, Mode, (PVOID *)&file, NULL);
    if (!NT_SUCCESS(status))
        return status;
    if (file->DeviceObject != DeviceObject || !file->FsContext) {
        ObDereferenceObject(file);
        return STATUS_INVALID_HANDLE;
    }
    *Peer = file;
    return STATUS_SUCCESS;
}

static NTSTATUS BrokerQueryPeer(PDEVICE_OBJECT DeviceObject, PIRP Irp, PIO_STACK_LOCATION Stack, PULONG_PTR Info)
{
    HANDLE handle;
    PFILE_OBJECT peer;
    NTSTATUS status = BrokerGetPeerHandle(Stack, Irp, &handle);
    if (!NT_SUCCESS(status))
        return status;
    status = ObReferenceObjectByHandle(handle, FILE_READ_DATA, *IoFileObjectType, Irp->RequestorMode,
                                       (PVOID *)&peer, NULL);
    if (!NT_SUCCESS(status))
        return status;
    if (peer->DeviceObject == DeviceObject && peer->FsContext &&
        Stack->Parameters.DeviceIoControl.OutputBufferLength >= sizeof(ULONG)) {
        *(PULONG)Irp->AssociatedIrp.SystemBuffer = ((PBROKER_SESSION)peer->FsContext)->Id;
        *Info = sizeof(ULONG);
    }
    ObDereferenceObject(peer);
    return STATUS_SUCCESS;
}

static NTSTATUS BrokerLinkPeer(PDEVICE_OBJECT DeviceObject, PIRP Irp, PIO_STACK_LOCATION Stack)
{
    PBROKER_SESSION session = Stack->FileObject->FsContext;
    HANDLE handle;
    PFILE_OBJECT peer;
    NTSTATUS status = BrokerGetPeerHandle(Stack, Irp, &handle);
    if (!NT_SUCCESS(status))
        return status;
    if (session->LinkedPeer)
        return STATUS_DEVICE_BUSY;
    status = BrokerReferencePeer(DeviceObject, handle, Irp->RequestorMode, &peer);
    if (!NT_SUCCESS(status))
        return status;
    session->LinkedPeer = peer; /* released in BrokerClose */
    return STATUS_SUCCESS;
}

static NTSTATUS BrokerTransfer(PDEVICE_OBJECT DeviceObject, PIRP Irp, PIO_STACK_LOCATION Stack)
{
    PBROKER_SESSION session = Stack->FileObject->FsContext;
    PBROKER_SESSION target;
    HANDLE handle;
    PFILE_OBJECT peer;
    NTSTATUS status = BrokerGetPeerHandle(Stack, Irp, &handle);
    if (!NT_SUCCESS(status))
        return status;
    status = BrokerReferencePeer(DeviceObject, handle, Irp->RequestorMode, &peer);
    if (!NT_SUCCESS(status))
        return status;
    target = peer->FsContext;
    if (!target->Ready)
        return STATUS_DEVICE_NOT_READY; /* BUG: the peer's file object stays referenced */
    InterlockedIncrement(&target->Credits);
    InterlockedDecrement(&session->Credits);
    ObDereferenceObject(peer);
    return STATUS_SUCCESS;
}

NTSTATUS BrokerDeviceControl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    PBROKER_SESSION session = stack->FileObject ? stack->FileObject->FsContext : NULL;
    ULONG_PTR info = 0;
    NTSTATUS status;
    if (!session)
        return BrokerCompleteIrp(Irp, STATUS_INVALID_DEVICE_REQUEST, 0);
    switch (stack->Parameters.DeviceIoControl.IoControlCode) {
    case IOCTL_BROKER_QUERY_PEER:
        status = BrokerQueryPeer(DeviceObject, Irp, stack, &info);
        break;
    case IOCTL_BROKER_LINK_PEER:
        status = BrokerLinkPeer(DeviceObject, Irp, stack);
        break;
    case IOCTL_BROKER_SET_READY:
        session->Ready = TRUE;
        status = STATUS_SUCCESS;
        break;
    case IOCTL_BROKER_TRANSFER:
        status = BrokerTransfer(DeviceObject, Irp, stack);
        break;
    default:
        status = STATUS_INVALID_DEVICE_REQUEST;
        break;
    }
    return BrokerCompleteIrp(Irp, status, info);
}

NTSTATUS BrokerCreate(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PBROKER_EXTENSION ext = DeviceObject->DeviceExtension;
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    PBROKER_SESSION session = ExAllocatePoolZero(NonPagedPoolNx, sizeof(BROKER_SESSION), BROKER_TAG);
    if (!session)
        return BrokerCompleteIrp(Irp, STATUS_INSUFFICIENT_RESOURCES, 0);
    session->Id = (ULONG)InterlockedIncrement(&ext->NextSessionId);
    session->Credits = 16;
    stack->FileObject->FsContext = session;
    return BrokerCompleteIrp(Irp, STATUS_SUCCESS, FILE_OPENED);
}

NTSTATUS BrokerCleanup(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    return BrokerCompleteIrp(Irp, STATUS_SUCCESS, 0);
}

NTSTATUS BrokerClose(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    PBROKER_SESSION session = stack->FileObject->FsContext;
    UNREFERENCED_PARAMETER(DeviceObject);
    if (session) {
        if (session->LinkedPeer)
            ObDereferenceObject(session->LinkedPeer);
        stack->FileObject->FsContext = NULL;
        ExFreePoolWithTag(session, BROKER_TAG);
    }
    return BrokerCompleteIrp(Irp, STATUS_SUCCESS, 0);
}

VOID BrokerUnload(PDRIVER_OBJECT DriverObject)
{
    PDEVICE_OBJECT device = DriverObject->DeviceObject;
    PAGED_CODE();
    if (device) {
        PBROKER_EXTENSION ext = device->DeviceExtension;
        IoDeleteSymbolicLink(&ext->LinkName);
        IoDeleteDevice(device);
    }
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNICODE_STRING deviceName = RTL_CONSTANT_STRING(L"\\Device\\RtBroker");
    UNICODE_STRING linkName = RTL_CONSTANT_STRING(L"\\DosDevices\\RtBroker");
    PDEVICE_OBJECT device;
    NTSTATUS status;
    UNREFERENCED_PARAMETER(RegistryPath);

    status = IoCreateDevice(DriverObject, sizeof(BROKER_EXTENSION), &deviceName, FILE_DEVICE_UNKNOWN,
                            FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    PBROKER_EXTENSION ext = device->DeviceExtension;
    ext->LinkName = linkName;
    status = IoCreateSymbolicLink(&linkName, &deviceName);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(device);
        return status;
    }
    DriverObject->MajorFunction[IRP_MJ_CREATE] = BrokerCreate;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = BrokerClose;
    DriverObject->MajorFunction[IRP_MJ_CLEANUP] = BrokerCleanup;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = BrokerDeviceControl;
    DriverObject->DriverUnload = BrokerUnload;
    device->Flags |= DO_BUFFERED_IO;
    return STATUS_SUCCESS;
}
