/*
 * devobj.c - conformance driver: what DriverEntry and dispatch routines may
 * rely on about driver and device objects.
 *
 * DriverEntry checks its environment (RegistryPath, DriverName,
 * DriverExtension->ServiceKeyName, PASSIVE_LEVEL, MajorFunction preset,
 * no DriverUnload yet), creates \Device\ConfDevobjA and then the exclusive
 * \Device\ConfDevobjB (checking head insertion into the device list, the
 * new device's StackSize, DeviceType, Characteristics and
 * DO_DEVICE_INITIALIZING, and that a second device or link of the same
 * name collides), with links in \DosDevices. It handles only IRP_MJ_CREATE
 * and IRP_MJ_DEVICE_CONTROL (cleanup and close get the I/O manager's
 * default). IOCTL_DEVOBJ_REPORT returns the DriverEntry checks plus checks
 * made in the dispatch routine (flags cleared after DriverEntry, IRQL,
 * RequestorMode, FileObject->DeviceObject, stack location bookkeeping,
 * ExAllocatePool2 zeroing). IOCTL_DEVOBJ_CREATE_LATE creates a third device
 * outside DriverEntry and leaves DO_DEVICE_INITIALIZING set until
 * IOCTL_DEVOBJ_READY_LATE clears it. DriverUnload deletes the links and
 * walks DriverObject->DeviceObject deleting every device.
 */
#include <ntddk.h>

#define DEVOBJ_TAG 'bOvD'
#define DEVOBJ_SERVICE L"devobj"

#define IOCTL_DEVOBJ_REPORT CTL_CODE(FILE_DEVICE_UNKNOWN, 0xD00, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_DEVOBJ_CREATE_LATE CTL_CODE(FILE_DEVICE_UNKNOWN, 0xD01, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_DEVOBJ_READY_LATE CTL_CODE(FILE_DEVICE_UNKNOWN, 0xD02, METHOD_BUFFERED, FILE_ANY_ACCESS)

/* DriverEntry checks */
#define ENTRY_REGISTRY_PATH 0x0001
#define ENTRY_DRIVER_NAME 0x0002
#define ENTRY_SERVICE_KEY_NAME 0x0004
#define ENTRY_LIST_HEAD_INSERT 0x0008
#define ENTRY_NEW_DEVICE_FIELDS 0x0010
#define ENTRY_PASSIVE 0x0020
#define ENTRY_DEVICE_COLLISION 0x0040
#define ENTRY_LINK_COLLISION 0x0080
#define ENTRY_PRESETS 0x0100
/* dispatch checks */
#define DISPATCH_INIT_CLEARED 0x1000
#define DISPATCH_IRQLS 0x2000
#define DISPATCH_POOL2_ZEROED 0x4000
#define DISPATCH_USER_MODE 0x8000
#define DISPATCH_FILE_DEVICE 0x10000
#define DISPATCH_STACK_LOCATION 0x20000
#define DISPATCH_EXCLUSIVE_FLAG 0x40000

static ULONG g_EntryChecks;
static PDEVICE_OBJECT g_DeviceA, g_DeviceB, g_DeviceLate;

DRIVER_INITIALIZE DriverEntry;
DRIVER_UNLOAD DevobjUnload;
_Dispatch_type_(IRP_MJ_CREATE) DRIVER_DISPATCH DevobjCreate;
_Dispatch_type_(IRP_MJ_DEVICE_CONTROL) DRIVER_DISPATCH DevobjDeviceControl;

static NTSTATUS DevobjComplete(PIRP Irp, NTSTATUS Status, ULONG_PTR Information)
{
    Irp->IoStatus.Status = Status;
    Irp->IoStatus.Information = Information;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

static BOOLEAN DevobjEqual(PCUNICODE_STRING String, PCWSTR Expected)
{
    UNICODE_STRING expected;
    RtlInitUnicodeString(&expected, Expected);
    return RtlEqualUnicodeString(String, &expected, TRUE);
}

static NTSTATUS DevobjCreateNamed(PDRIVER_OBJECT DriverObject, PCWSTR Name, PCWSTR Link, BOOLEAN Exclusive,
                                  PDEVICE_OBJECT *Device)
{
    UNICODE_STRING deviceName, linkName;
    NTSTATUS status;

    RtlInitUnicodeString(&deviceName, Name);
    RtlInitUnicodeString(&linkName, Link);
    status = IoCreateDevice(DriverObject, 0, &deviceName, FILE_DEVICE_UNKNOWN, FILE_DEVICE_SECURE_OPEN,
                            Exclusive, Device);
    if (!NT_SUCCESS(status))
        return status;
    status = IoCreateSymbolicLink(&linkName, &deviceName);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(*Device);
        *Device = NULL;
        return status;
    }
    (*Device)->Flags |= DO_BUFFERED_IO;
    return STATUS_SUCCESS;
}

static ULONG DevobjDispatchChecks(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    ULONG checks = 0;
    KSPIN_LOCK lock;
    KIRQL oldIrql, passive;
    PUCHAR block;

    if (!(g_DeviceA->Flags & DO_DEVICE_INITIALIZING) && !(g_DeviceB->Flags & DO_DEVICE_INITIALIZING))
        checks |= DISPATCH_INIT_CLEARED;

    passive = KeGetCurrentIrql();
    KeInitializeSpinLock(&lock);
    KeAcquireSpinLock(&lock, &oldIrql);
    if (passive == PASSIVE_LEVEL && oldIrql == PASSIVE_LEVEL && KeGetCurrentIrql() == DISPATCH_LEVEL)
        checks |= DISPATCH_IRQLS;
    KeReleaseSpinLock(&lock, oldIrql);
    if (KeGetCurrentIrql() != PASSIVE_LEVEL)
        checks &= ~DISPATCH_IRQLS;

    block = ExAllocatePool2(POOL_FLAG_PAGED, 64, DEVOBJ_TAG);
    if (block != NULL) {
        ULONG i, nonzero = 0;
        for (i = 0; i < 64; i++)
            nonzero |= block[i];
        if (nonzero == 0)
            checks |= DISPATCH_POOL2_ZEROED;
        ExFreePoolWithTag(block, DEVOBJ_TAG);
    }

    if (Irp->RequestorMode == UserMode)
        checks |= DISPATCH_USER_MODE;
    if (stack->FileObject != NULL && stack->FileObject->DeviceObject == DeviceObject)
        checks |= DISPATCH_FILE_DEVICE;
    if (stack->DeviceObject == DeviceObject && Irp->CurrentLocation == Irp->StackCount &&
        stack->MajorFunction == IRP_MJ_DEVICE_CONTROL)
        checks |= DISPATCH_STACK_LOCATION;
    if ((g_DeviceB->Flags & DO_EXCLUSIVE) && !(g_DeviceA->Flags & DO_EXCLUSIVE))
        checks |= DISPATCH_EXCLUSIVE_FLAG;
    return checks;
}

_Use_decl_annotations_
NTSTATUS DevobjCreate(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    return DevobjComplete(Irp, STATUS_SUCCESS, FILE_OPENED);
}

_Use_decl_annotations_
NTSTATUS DevobjDeviceControl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    NTSTATUS status;

    switch (stack->Parameters.DeviceIoControl.IoControlCode) {
    case IOCTL_DEVOBJ_REPORT:
        if (stack->Parameters.DeviceIoControl.OutputBufferLength < sizeof(ULONG))
            return DevobjComplete(Irp, STATUS_BUFFER_TOO_SMALL, 0);
        *(PULONG)Irp->AssociatedIrp.SystemBuffer = g_EntryChecks | DevobjDispatchChecks(DeviceObject, Irp);
        return DevobjComplete(Irp, STATUS_SUCCESS, sizeof(ULONG));
    case IOCTL_DEVOBJ_CREATE_LATE:
        if (g_DeviceLate != NULL)
            return DevobjComplete(Irp, STATUS_OBJECT_NAME_COLLISION, 0);
        status = DevobjCreateNamed(DeviceObject->DriverObject, L"\\Device\\ConfDevobjLate",
                                   L"\\DosDevices\\ConfDevobjLate", FALSE, &g_DeviceLate);
        /* DO_DEVICE_INITIALIZING stays set: outside DriverEntry nobody clears it for us. */
        return DevobjComplete(Irp, status, 0);
    case IOCTL_DEVOBJ_READY_LATE:
        if (g_DeviceLate == NULL)
            return DevobjComplete(Irp, STATUS_INVALID_DEVICE_STATE, 0);
        g_DeviceLate->Flags &= ~DO_DEVICE_INITIALIZING;
        return DevobjComplete(Irp, STATUS_SUCCESS, 0);
    default:
        return DevobjComplete(Irp, STATUS_INVALID_DEVICE_REQUEST, 0);
    }
}

_Use_decl_annotations_
VOID DevobjUnload(PDRIVER_OBJECT DriverObject)
{
    UNICODE_STRING link;

    PAGED_CODE();
    RtlInitUnicodeString(&link, L"\\DosDevices\\ConfDevobjA");
    IoDeleteSymbolicLink(&link);
    RtlInitUnicodeString(&link, L"\\DosDevices\\ConfDevobjB");
    IoDeleteSymbolicLink(&link);
    if (g_DeviceLate != NULL) {
        RtlInitUnicodeString(&link, L"\\DosDevices\\ConfDevobjLate");
        IoDeleteSymbolicLink(&link);
    }
    /* IoDeleteDevice unlinks the device, so always take the head. */
    while (DriverObject->DeviceObject != NULL)
        IoDeleteDevice(DriverObject->DeviceObject);
    g_DeviceA = g_DeviceB = g_DeviceLate = NULL;
}

_Use_decl_annotations_
NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNICODE_STRING nameA = RTL_CONSTANT_STRING(L"\\Device\\ConfDevobjA");
    UNICODE_STRING linkA = RTL_CONSTANT_STRING(L"\\DosDevices\\ConfDevobjA");
    PDEVICE_OBJECT duplicate = NULL;
    NTSTATUS status;
    ULONG checks = 0;

    g_DeviceA = g_DeviceB = g_DeviceLate = NULL;
    if (DevobjEqual(RegistryPath, L"\\Registry\\Machine\\System\\CurrentControlSet\\Services\\" DEVOBJ_SERVICE))
        checks |= ENTRY_REGISTRY_PATH;
    if (DevobjEqual(&DriverObject->DriverName, L"\\Driver\\" DEVOBJ_SERVICE))
        checks |= ENTRY_DRIVER_NAME;
    if (DriverObject->DriverExtension != NULL &&
        DevobjEqual(&DriverObject->DriverExtension->ServiceKeyName, DEVOBJ_SERVICE))
        checks |= ENTRY_SERVICE_KEY_NAME;
    if (KeGetCurrentIrql() == PASSIVE_LEVEL)
        checks |= ENTRY_PASSIVE;
    if (DriverObject->DriverUnload == NULL && DriverObject->DeviceObject == NULL &&
        DriverObject->MajorFunction[IRP_MJ_CREATE] != NULL && DriverObject->MajorFunction[IRP_MJ_CLOSE] != NULL &&
        DriverObject->DriverExtension->AddDevice == NULL)
        checks |= ENTRY_PRESETS;

    status = DevobjCreateNamed(DriverObject, L"\\Device\\ConfDevobjA", L"\\DosDevices\\ConfDevobjA", FALSE,
                               &g_DeviceA);
    if (!NT_SUCCESS(status))
        return status;
    if (g_DeviceA->StackSize == 1 && g_DeviceA->DeviceType == FILE_DEVICE_UNKNOWN &&
        (g_DeviceA->Characteristics & FILE_DEVICE_SECURE_OPEN) && (g_DeviceA->Flags & DO_DEVICE_INITIALIZING) &&
        g_DeviceA->DriverObject == DriverObject && g_DeviceA->ReferenceCount == 0 &&
        g_DeviceA->AttachedDevice == NULL)
        checks |= ENTRY_NEW_DEVICE_FIELDS;

    status = DevobjCreateNamed(DriverObject, L"\\Device\\ConfDevobjB", L"\\DosDevices\\ConfDevobjB", TRUE,
                               &g_DeviceB);
    if (!NT_SUCCESS(status)) {
        IoDeleteSymbolicLink(&linkA);
        IoDeleteDevice(g_DeviceA);
        return status;
    }
    if (DriverObject->DeviceObject == g_DeviceB && g_DeviceB->NextDevice == g_DeviceA && g_DeviceA->NextDevice == NULL)
        checks |= ENTRY_LIST_HEAD_INSERT;

    if (IoCreateDevice(DriverObject, 0, &nameA, FILE_DEVICE_UNKNOWN, 0, FALSE, &duplicate) ==
        STATUS_OBJECT_NAME_COLLISION)
        checks |= ENTRY_DEVICE_COLLISION;
    else if (duplicate != NULL)
        IoDeleteDevice(duplicate);
    if (IoCreateSymbolicLink(&linkA, &nameA) == STATUS_OBJECT_NAME_COLLISION)
        checks |= ENTRY_LINK_COLLISION;

    g_EntryChecks = checks;
    DriverObject->MajorFunction[IRP_MJ_CREATE] = DevobjCreate;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = DevobjDeviceControl;
    DriverObject->DriverUnload = DevobjUnload;
    /* DO_DEVICE_INITIALIZING is left for the I/O manager to clear when DriverEntry returns. */
    return STATUS_SUCCESS;
}
