/*
 * io_file.c - file objects (nt-semantics §4, §13.3): an open is admitted on
 * the device the name resolved to (its ReferenceCount +1 through
 * IopReferenceDeviceObject), a file object is created and IRP_MJ_CREATE
 * sent to the top of the stack; the last handle close sends
 * IRP_MJ_CLEANUP; the last pointer reference sends IRP_MJ_CLOSE and then
 * drops the ReferenceCount (IopDereferenceDeviceObject), which may complete
 * a pending delete or unload. IoGetDeviceObjectPointer leaves a referenced
 * file object with no handle (CREATE and CLEANUP at once, CLOSE at the
 * caller's final dereference).
 */
#include <string.h>

#include "ntsim_internal.h"

static VOID IopCloseFileObject(PVOID Object, LONG_PTR HandleCountBefore);
static VOID IopDeleteFileObject(PVOID Object);

OBJECT_TYPE IopFileObjectTypeBody = { "File", 'eliF', IopDeleteFileObject, IopCloseFileObject };
static POBJECT_TYPE IopFileObjectTypePointer = &IopFileObjectTypeBody;
POBJECT_TYPE *IoFileObjectType = &IopFileObjectTypePointer;

PDEVICE_OBJECT IoGetRelatedDeviceObject(PFILE_OBJECT FileObject)
{
    return IoGetAttachedDevice(FileObject->DeviceObject);
}

/* Sends CREATE/CLEANUP/CLOSE for File to the top of its device's stack and waits. */
static NTSTATUS IopSendFileIrp(PFILE_OBJECT File, UCHAR MajorFunction, ACCESS_MASK DesiredAccess)
{
    IO_STACK_LOCATION template;
    memset(&template, 0, sizeof(template));
    template.MajorFunction = MajorFunction;
    template.FileObject = File;
    if (MajorFunction == IRP_MJ_CREATE)
        template.Parameters.Create.Options = (ULONG)DesiredAccess; /* FILE_OPEN disposition, access recorded */
    return IopSynchronousCall(File->DeviceObject, &template, STATUS_SUCCESS, NULL, TRUE);
}

/* The File type's close procedure: IRP_MJ_CLEANUP when the last handle goes (§4.2). */
static VOID IopCloseFileObject(PVOID Object, LONG_PTR HandleCountBefore)
{
    PFILE_OBJECT file = Object;
    PIOP_FILE_STATE state = IopGetFileState(file);
    if (HandleCountBefore != 1 || !state->CreateSucceeded || state->CleanupSent)
        return;
    state->CleanupSent = TRUE;
    IopSendFileIrp(file, IRP_MJ_CLEANUP, 0);
}

/* The File type's delete procedure: CLEANUP if never sent, CLOSE, then the device's ReferenceCount (§4.3). */
static VOID IopDeleteFileObject(PVOID Object)
{
    PFILE_OBJECT file = Object;
    PIOP_FILE_STATE state = IopGetFileState(file);
    if (state->CreateSucceeded) {
        if (!state->CleanupSent) {
            state->CleanupSent = TRUE;
            IopSendFileIrp(file, IRP_MJ_CLEANUP, 0);
        }
        IopSendFileIrp(file, IRP_MJ_CLOSE, 0);
    }
    RtlpFreeUnicode(&file->FileName);
    free(state->FileNameUtf8);
    if (state->OpenedDevice)
        IopDereferenceDeviceObject(state->OpenedDevice);
}

/* Admission check (§4.1) and ReferenceCount +1, atomically under the database lock. */
static NTSTATUS IopAdmitOpen(PDEVICE_OBJECT Device)
{
    NTSTATUS status = STATUS_SUCCESS;
    IopLockDatabase();
    PIOP_DRIVER_STATE driverState = IopGetDriverState(Device->DriverObject);
    if ((IopGetDeviceState(Device)->Public.ExtensionFlags & IOP_DOE_GOING_AWAY) ||
        (Device->Flags & DO_DEVICE_INITIALIZING) || driverState->UnloadClaimed)
        status = STATUS_NO_SUCH_DEVICE;
    else if ((Device->Flags & DO_EXCLUSIVE) && Device->ReferenceCount)
        status = STATUS_ACCESS_DENIED;
    else
        IopReferenceDeviceObject(Device);
    IopUnlockDatabase();
    return status;
}

static VOID IopInitializeFileObject(PFILE_OBJECT File, PDEVICE_OBJECT Device, const char *Remainder,
                                    ACCESS_MASK DesiredAccess)
{
    File->Type = IO_TYPE_FILE;
    File->Size = sizeof(FILE_OBJECT);
    File->DeviceObject = Device;
    File->ReadAccess = (DesiredAccess & (GENERIC_READ | GENERIC_ALL | FILE_READ_DATA)) != 0;
    File->WriteAccess = (DesiredAccess & (GENERIC_WRITE | GENERIC_ALL | FILE_WRITE_DATA)) != 0;
    if (Remainder)
        RtlpUtf8ToUnicode(Remainder, &File->FileName);
    KeInitializeEvent(&File->Lock, SynchronizationEvent, FALSE);
    KeInitializeEvent(&File->Event, NotificationEvent, FALSE);
    InitializeListHead(&File->IrpList);
    PIOP_FILE_STATE state = IopGetFileState(File);
    state->FileNameUtf8 = RtlpStrDup(Remainder);
}

NTSTATUS IopOpenDevice(PDEVICE_OBJECT DeviceObject, const char *Remainder, ACCESS_MASK DesiredAccess,
                       PFILE_OBJECT *FileObject)
{
    NTSTATUS status = IopAdmitOpen(DeviceObject);
    if (!NT_SUCCESS(status))
        return status;
    PVOID object;
    status = ObCreateObject(*IoFileObjectType, NULL, 0, sizeof(IOP_FILE_BODY), &object);
    if (!NT_SUCCESS(status)) {
        IopDereferenceDeviceObject(DeviceObject);
        return status;
    }
    PFILE_OBJECT file = object;
    IopInitializeFileObject(file, DeviceObject, Remainder, DesiredAccess);
    IopGetFileState(file)->OpenedDevice = DeviceObject; /* from here on the delete procedure owns the ReferenceCount */
    status = IopSendFileIrp(file, IRP_MJ_CREATE, DesiredAccess);
    if (!NT_SUCCESS(status)) {
        ObfDereferenceObject(file); /* no CLEANUP/CLOSE: only the ReferenceCount goes back */
        return status;
    }
    IopGetFileState(file)->CreateSucceeded = TRUE;
    *FileObject = file;
    return STATUS_SUCCESS;
}

/* Resolves Path to a referenced device object (the caller dereferences); *Remainder as ObpReferenceObjectByName. */
static NTSTATUS IopReferenceDeviceByPath(const char *Path, PDEVICE_OBJECT *Device, char **Remainder)
{
    PVOID object;
    NTSTATUS status = ObpReferenceObjectByName(Path, &object, Remainder);
    if (!NT_SUCCESS(status))
        return status;
    if (ObpGetObjectType(object) != &IopDeviceObjectTypeBody) {
        ObfDereferenceObject(object);
        free(*Remainder);
        *Remainder = NULL;
        return STATUS_OBJECT_TYPE_MISMATCH;
    }
    *Device = object;
    return STATUS_SUCCESS;
}

NTSTATUS IopOpenPathWithHandle(const char *Path, ACCESS_MASK DesiredAccess, PHANDLE Handle)
{
    PDEVICE_OBJECT device;
    char *remainder = NULL;
    NTSTATUS status = IopReferenceDeviceByPath(Path, &device, &remainder);
    if (!NT_SUCCESS(status))
        return status;
    PFILE_OBJECT file;
    status = IopOpenDevice(device, remainder, DesiredAccess, &file);
    free(remainder);
    ObfDereferenceObject(device); /* the name lookup's reference */
    if (!NT_SUCCESS(status))
        return status;
    status = ObOpenObjectByPointer(file, 0, NULL, DesiredAccess, *IoFileObjectType, UserMode, Handle);
    ObfDereferenceObject(file); /* the creator's reference: the handle owns the object now */
    return status;
}

NTSTATUS IoGetDeviceObjectPointer(PUNICODE_STRING ObjectName, ACCESS_MASK DesiredAccess, PFILE_OBJECT *FileObject,
                                  PDEVICE_OBJECT *DeviceObject)
{
    if (!ObjectName || !FileObject || !DeviceObject)
        return STATUS_INVALID_PARAMETER;
    char *path = RtlpUnicodeToUtf8(ObjectName);
    if (!path)
        return STATUS_INSUFFICIENT_RESOURCES;
    HANDLE handle;
    NTSTATUS status = IopOpenPathWithHandle(path, DesiredAccess, &handle);
    free(path);
    if (!NT_SUCCESS(status))
        return status;
    PVOID file;
    status = ObReferenceObjectByHandle(handle, DesiredAccess, *IoFileObjectType, KernelMode, &file, NULL);
    if (NT_SUCCESS(status)) {
        *FileObject = file;
        *DeviceObject = IoGetRelatedDeviceObject(file);
    }
    ZwClose(handle); /* IRP_MJ_CLEANUP now; IRP_MJ_CLOSE when the caller dereferences the file object */
    return status;
}
