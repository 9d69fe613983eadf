/*
 * pnp_rawbus.c - the PnP path tests' bus driver with one raw child: its
 * FDO, once started, creates one child PDO (\Device\PnpRawChild, device ID
 * PNPRAW\CHILD, instance 0) and reports it in BusRelations, referenced
 * each time. No function driver serves PNPRAW\CHILD; the child's
 * capabilities say RawDeviceOK, so the PnP manager starts it raw and
 * applications open the PDO itself (its create succeeds while started).
 * The PDO keeps itself on REMOVE while reported; the FDO deletes the child
 * when the bus itself is removed (nt-semantics §5.3 item 7). It exports the
 * child PDO and the PnP minor codes the child and the FDO saw, its opens
 * and DriverUnload calls.
 */
#include <wdm.h>

#include "tdrv.h"

typedef struct _RAW_COMMON {
    BOOLEAN IsFdo;
} RAW_COMMON;

typedef struct _RAW_FDO {
    RAW_COMMON Common;
    PDEVICE_OBJECT NextLowerDriver;
    PDEVICE_OBJECT Child; /* NULL once deleted */
} RAW_FDO, *PRAW_FDO;

typedef struct _RAW_PDO {
    RAW_COMMON Common;
    volatile LONG Started;
} RAW_PDO, *PRAW_PDO;

__attribute__((visibility("default"))) PDEVICE_OBJECT PnpRawChildPdo;
__attribute__((visibility("default"))) volatile LONG PnpRawChildMinorCount[0x20];
__attribute__((visibility("default"))) volatile LONG PnpRawFdoMinorCount[0x20];
__attribute__((visibility("default"))) volatile LONG PnpRawChildOpens;
__attribute__((visibility("default"))) volatile LONG PnpRawUnloadCalls;

DRIVER_INITIALIZE DriverEntry;

static NTSTATUS RawComplete(PIRP Irp, NTSTATUS Status)
{
    Irp->IoStatus.Status = Status;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

/* A MULTI_SZ-terminated UTF-16 copy of Text in paged pool, as bus drivers return IDs. */
static PWCHAR RawPoolId(const char *Text)
{
    SIZE_T n = 0;
    while (Text[n])
        n++;
    PWCHAR id = ExAllocatePoolWithTag(PagedPool, (n + 2) * sizeof(WCHAR), 'waRT');
    if (!id)
        return NULL;
    for (SIZE_T i = 0; i < n; i++)
        id[i] = (WCHAR)Text[i];
    id[n] = id[n + 1] = 0;
    return id;
}

static NTSTATUS RawCreateChild(PDEVICE_OBJECT Fdo)
{
    PRAW_FDO fdo = Fdo->DeviceExtension;
    UNICODE_STRING name;
    PDEVICE_OBJECT pdo;
    RtlInitUnicodeString(&name, L"\\Device\\PnpRawChild");
    NTSTATUS status = IoCreateDevice(Fdo->DriverObject, sizeof(RAW_PDO), &name, FILE_DEVICE_UNKNOWN, 0, FALSE, &pdo);
    if (!NT_SUCCESS(status))
        return status;
    pdo->Flags |= DO_BUS_ENUMERATED_DEVICE | DO_BUFFERED_IO;
    pdo->Flags &= ~DO_DEVICE_INITIALIZING;
    fdo->Child = pdo;
    PnpRawChildPdo = pdo;
    return STATUS_SUCCESS;
}

static NTSTATUS RawFdoPnp(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PRAW_FDO fdo = DeviceObject->DeviceExtension;
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    NTSTATUS status;
    InterlockedIncrement(&PnpRawFdoMinorCount[stack->MinorFunction & 0x1f]);
    switch (stack->MinorFunction) {
    case IRP_MN_START_DEVICE:
        Irp->IoStatus.Status = STATUS_SUCCESS;
        IoSkipCurrentIrpStackLocation(Irp);
        status = IoCallDriver(fdo->NextLowerDriver, Irp); /* the root bus completes it synchronously */
        if (NT_SUCCESS(status) && !fdo->Child)
            RawCreateChild(DeviceObject);
        return status;
    case IRP_MN_QUERY_DEVICE_RELATIONS:
        if (stack->Parameters.QueryDeviceRelations.Type == BusRelations) {
            PDEVICE_RELATIONS relations = ExAllocatePoolWithTag(PagedPool, sizeof(DEVICE_RELATIONS), 'waRT');
            if (!relations)
                return RawComplete(Irp, STATUS_INSUFFICIENT_RESOURCES);
            relations->Count = 0;
            if (fdo->Child) {
                relations->Objects[relations->Count++] = fdo->Child;
                ObReferenceObject(fdo->Child); /* every time it is reported */
            }
            Irp->IoStatus.Information = (ULONG_PTR)relations;
            Irp->IoStatus.Status = STATUS_SUCCESS;
        }
        break;
    case IRP_MN_QUERY_REMOVE_DEVICE:
    case IRP_MN_CANCEL_REMOVE_DEVICE:
    case IRP_MN_SURPRISE_REMOVAL:
        Irp->IoStatus.Status = STATUS_SUCCESS;
        break;
    case IRP_MN_REMOVE_DEVICE:
        Irp->IoStatus.Status = STATUS_SUCCESS;
        IoSkipCurrentIrpStackLocation(Irp);
        status = IoCallDriver(fdo->NextLowerDriver, Irp);
        if (fdo->Child) {
            IoDeleteDevice(fdo->Child); /* the bus goes: so do the PDOs it still owns */
            fdo->Child = NULL;
        }
        IoDetachDevice(fdo->NextLowerDriver);
        IoDeleteDevice(DeviceObject);
        return status;
    default:
        break;
    }
    IoSkipCurrentIrpStackLocation(Irp);
    return IoCallDriver(fdo->NextLowerDriver, Irp);
}

static NTSTATUS RawPdoPnp(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PRAW_PDO pdo = DeviceObject->DeviceExtension;
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    NTSTATUS status = Irp->IoStatus.Status;
    InterlockedIncrement(&PnpRawChildMinorCount[stack->MinorFunction & 0x1f]);
    switch (stack->MinorFunction) {
    case IRP_MN_START_DEVICE:
        InterlockedExchange(&pdo->Started, 1);
        status = STATUS_SUCCESS;
        break;
    case IRP_MN_REMOVE_DEVICE:
    case IRP_MN_SURPRISE_REMOVAL:
        InterlockedExchange(&pdo->Started, 0); /* still reported: the PDO stays until its bus goes */
        status = STATUS_SUCCESS;
        break;
    case IRP_MN_QUERY_REMOVE_DEVICE:
    case IRP_MN_CANCEL_REMOVE_DEVICE:
    case IRP_MN_QUERY_PNP_DEVICE_STATE:
        status = STATUS_SUCCESS;
        break;
    case IRP_MN_QUERY_CAPABILITIES: {
        PDEVICE_CAPABILITIES caps = stack->Parameters.DeviceCapabilities.Capabilities;
        caps->RawDeviceOK = 1;
        caps->SurpriseRemovalOK = 1;
        status = STATUS_SUCCESS;
        break;
    }
    case IRP_MN_QUERY_ID: {
        const char *text = NULL;
        if (stack->Parameters.QueryId.IdType == BusQueryDeviceID || stack->Parameters.QueryId.IdType == BusQueryHardwareIDs)
            text = "PNPRAW\\CHILD";
        else if (stack->Parameters.QueryId.IdType == BusQueryInstanceID)
            text = "0";
        if (text) {
            PWCHAR id = RawPoolId(text);
            Irp->IoStatus.Information = (ULONG_PTR)id;
            status = id ? STATUS_SUCCESS : STATUS_INSUFFICIENT_RESOURCES;
        }
        break;
    }
    case IRP_MN_QUERY_DEVICE_RELATIONS:
        if (stack->Parameters.QueryDeviceRelations.Type == TargetDeviceRelation) {
            PDEVICE_RELATIONS relations = ExAllocatePoolWithTag(PagedPool, sizeof(DEVICE_RELATIONS), 'waRT');
            if (!relations) {
                status = STATUS_INSUFFICIENT_RESOURCES;
                break;
            }
            relations->Count = 1;
            relations->Objects[0] = DeviceObject;
            ObReferenceObject(DeviceObject);
            Irp->IoStatus.Information = (ULONG_PTR)relations;
            status = STATUS_SUCCESS;
        }
        break;
    default:
        break;
    }
    return RawComplete(Irp, status);
}

static NTSTATUS RawDispatchPnp(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    RAW_COMMON *common = DeviceObject->DeviceExtension;
    return common->IsFdo ? RawFdoPnp(DeviceObject, Irp) : RawPdoPnp(DeviceObject, Irp);
}

/* Create, cleanup, close and IOCTLs: the FDO passes them down; the raw PDO serves them itself. */
static NTSTATUS RawDispatchOther(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    RAW_COMMON *common = DeviceObject->DeviceExtension;
    if (common->IsFdo) {
        IoSkipCurrentIrpStackLocation(Irp);
        return IoCallDriver(((PRAW_FDO)common)->NextLowerDriver, Irp);
    }
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    NTSTATUS status = STATUS_SUCCESS;
    Irp->IoStatus.Information = 0;
    if (stack->MajorFunction == IRP_MJ_CREATE) {
        if (ReadAcquire(&((PRAW_PDO)common)->Started))
            InterlockedIncrement(&PnpRawChildOpens);
        else
            status = STATUS_NO_SUCH_DEVICE;
    } else if (stack->MajorFunction == IRP_MJ_DEVICE_CONTROL) {
        if (stack->Parameters.DeviceIoControl.IoControlCode == TD_IOCTL_ECHO) {
            ULONG n = stack->Parameters.DeviceIoControl.InputBufferLength;
            if (n > stack->Parameters.DeviceIoControl.OutputBufferLength)
                n = stack->Parameters.DeviceIoControl.OutputBufferLength;
            Irp->IoStatus.Information = n; /* the system buffer already holds the input */
        } else {
            status = STATUS_INVALID_DEVICE_REQUEST;
        }
    }
    return RawComplete(Irp, status);
}

static NTSTATUS RawAddDevice(PDRIVER_OBJECT DriverObject, PDEVICE_OBJECT PhysicalDeviceObject)
{
    PDEVICE_OBJECT device;
    NTSTATUS status = IoCreateDevice(DriverObject, sizeof(RAW_FDO), NULL, FILE_DEVICE_BUS_EXTENDER, 0, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    PRAW_FDO fdo = device->DeviceExtension;
    fdo->Common.IsFdo = TRUE;
    fdo->NextLowerDriver = IoAttachDeviceToDeviceStack(device, PhysicalDeviceObject);
    if (!fdo->NextLowerDriver) {
        IoDeleteDevice(device);
        return STATUS_NO_SUCH_DEVICE;
    }
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}

static VOID RawUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    InterlockedIncrement(&PnpRawUnloadCalls);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    for (ULONG i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++)
        DriverObject->MajorFunction[i] = RawDispatchOther;
    DriverObject->MajorFunction[IRP_MJ_PNP] = RawDispatchPnp;
    DriverObject->DriverExtension->AddDevice = RawAddDevice;
    DriverObject->DriverUnload = RawUnload;
    return STATUS_SUCCESS;
}
