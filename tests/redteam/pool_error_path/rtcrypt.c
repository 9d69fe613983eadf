/*
 * rtcrypt.c - a legacy "crypto offload" driver with a control device
 * \Device\RtCrypt. DriverEntry allocates the key schedule (freed in
 * DriverUnload), every open gets a per-handle context (freed at close), and
 * IOCTL_CRYPT_TRANSFORM allocates a bounce buffer per request, transforms
 * the input into it and copies the result out.
 * Planted fault: the bounce buffer is freed only on the success path; a
 * request whose length is not a multiple of the block size returns
 * STATUS_INVALID_BUFFER_SIZE with the buffer still allocated. The image
 * unloads, with one pool block per failed request leaked.
 */
#include <ntddk.h>

#define IOCTL_CRYPT_TRANSFORM CTL_CODE(FILE_DEVICE_UNKNOWN, 0xD00, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_CRYPT_SET_KEY CTL_CODE(FILE_DEVICE_UNKNOWN, 0xD01, METHOD_BUFFERED, FILE_ANY_ACCESS)

#define TAG_KEYS 'yKcR'
#define TAG_CONTEXT 'xCcR'
#define TAG_BOUNCE 'bBcR'
#define CRYPT_BLOCK 4

typedef struct _CRYPT_KEYS {
    UCHAR Schedule[64];
} CRYPT_KEYS, *PCRYPT_KEYS;

typedef struct _CRYPT_CONTEXT {
    ULONG Transforms;
    UCHAR Key;
} CRYPT_CONTEXT, *PCRYPT_CONTEXT;

static PCRYPT_KEYS CryptKeys;
static UNICODE_STRING CryptLink = RTL_CONSTANT_STRING(L"\\DosDevices\\RtCrypt");

DRIVER_INITIALIZE DriverEntry;
DRIVER_UNLOAD CryptUnload;
DRIVER_DISPATCH CryptCreate, CryptClose, CryptDeviceControl;

static NTSTATUS CryptComplete(PIRP Irp, NTSTATUS Status, ULONG_PTR Information)
{
    Irp->IoStatus.Status = Status;
    Irp->IoStatus.Information = Information;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

static NTSTATUS CryptTransform(PCRYPT_CONTEXT Ctx, PIRP Irp, PIO_STACK_LOCATION Stack, PULONG_PTR Info)
{
    ULONG inLen = Stack->Parameters.DeviceIoControl.InputBufferLength;
    ULONG outLen = Stack->Parameters.DeviceIoControl.OutputBufferLength;
    PUCHAR data = Irp->AssociatedIrp.SystemBuffer;
    PUCHAR bounce;
    if (inLen == 0 || outLen < inLen)
        return STATUS_BUFFER_TOO_SMALL;
    bounce = ExAllocatePool2(POOL_FLAG_NON_PAGED, inLen, TAG_BOUNCE);
    if (!bounce)
        return STATUS_INSUFFICIENT_RESOURCES;
    if (inLen % CRYPT_BLOCK)
        return STATUS_INVALID_BUFFER_SIZE; /* BUG: 'bounce' is leaked */
    for (ULONG i = 0; i < inLen; i++)
        bounce[i] = data[i] ^ CryptKeys->Schedule[i % sizeof(CryptKeys->Schedule)] ^ Ctx->Key;
    RtlCopyMemory(data, bounce, inLen);
    ExFreePoolWithTag(bounce, TAG_BOUNCE);
    Ctx->Transforms++;
    *Info = inLen;
    return STATUS_SUCCESS;
}

NTSTATUS CryptDeviceControl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    PCRYPT_CONTEXT ctx = stack->FileObject->FsContext;
    ULONG_PTR info = 0;
    NTSTATUS status;
    UNREFERENCED_PARAMETER(DeviceObject);
    switch (stack->Parameters.DeviceIoControl.IoControlCode) {
    case IOCTL_CRYPT_TRANSFORM:
        status = CryptTransform(ctx, Irp, stack, &info);
        break;
    case IOCTL_CRYPT_SET_KEY:
        if (stack->Parameters.DeviceIoControl.InputBufferLength < 1) {
            status = STATUS_BUFFER_TOO_SMALL;
            break;
        }
        ctx->Key = *(PUCHAR)Irp->AssociatedIrp.SystemBuffer;
        status = STATUS_SUCCESS;
        break;
    default:
        status = STATUS_INVALID_DEVICE_REQUEST;
        break;
    }
    return CryptComplete(Irp, status, info);
}

NTSTATUS CryptCreate(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PCRYPT_CONTEXT ctx = ExAllocatePool2(POOL_FLAG_NON_PAGED, sizeof(CRYPT_CONTEXT), TAG_CONTEXT);
    UNREFERENCED_PARAMETER(DeviceObject);
    if (!ctx)
        return CryptComplete(Irp, STATUS_INSUFFICIENT_RESOURCES, 0);
    IoGetCurrentIrpStackLocation(Irp)->FileObject->FsContext = ctx;
    return CryptComplete(Irp, STATUS_SUCCESS, FILE_OPENED);
}

NTSTATUS CryptClose(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PFILE_OBJECT file = IoGetCurrentIrpStackLocation(Irp)->FileObject;
    UNREFERENCED_PARAMETER(DeviceObject);
    if (file->FsContext) {
        ExFreePoolWithTag(file->FsContext, TAG_CONTEXT);
        file->FsContext = NULL;
    }
    return CryptComplete(Irp, STATUS_SUCCESS, 0);
}

VOID CryptUnload(PDRIVER_OBJECT DriverObject)
{
    PAGED_CODE();
    IoDeleteSymbolicLink(&CryptLink);
    if (DriverObject->DeviceObject)
        IoDeleteDevice(DriverObject->DeviceObject);
    if (CryptKeys) {
        ExFreePoolWithTag(CryptKeys, TAG_KEYS);
        CryptKeys = NULL;
    }
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNICODE_STRING name = RTL_CONSTANT_STRING(L"\\Device\\RtCrypt");
    PDEVICE_OBJECT device;
    NTSTATUS status;
    UNREFERENCED_PARAMETER(RegistryPath);
    CryptKeys = ExAllocatePool2(POOL_FLAG_NON_PAGED, sizeof(CRYPT_KEYS), TAG_KEYS);
    if (!CryptKeys)
        return STATUS_INSUFFICIENT_RESOURCES;
    for (ULONG i = 0; i < sizeof(CryptKeys->Schedule); i++)
        CryptKeys->Schedule[i] = (UCHAR)(i * 37 + 11);
    status = IoCreateDevice(DriverObject, 0, &name, FILE_DEVICE_UNKNOWN, FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status)) {
        ExFreePoolWithTag(CryptKeys, TAG_KEYS);
        return status;
    }
    status = IoCreateSymbolicLink(&CryptLink, &name);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(device);
        ExFreePoolWithTag(CryptKeys, TAG_KEYS);
        return status;
    }
    device->Flags |= DO_BUFFERED_IO;
    DriverObject->MajorFunction[IRP_MJ_CREATE] = CryptCreate;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = CryptClose;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = CryptDeviceControl;
    DriverObject->DriverUnload = CryptUnload;
    return STATUS_SUCCESS;
}
