/*
 * io_driver.c - driver objects and the unload decision (nt-semantics §3,
 * §13.2): the driver type's delete procedure (client extensions freed,
 * image unmapped through MmUnloadSystemImage), DriverEntry and DriverUnload
 * calls through their exported entry points, the rule that decides when
 * DriverUnload is due (a legacy stop waiting for open files and attached
 * devices, or a PnP driver whose last device was unlinked), PnP
 * registrations deferring it, driver object extensions, and the check that
 * the framework never calls into an unmapped image (0xCE).
 */
#include <string.h>

#include "ntsim_internal.h"

static VOID IopDeleteDriverObject(PVOID Object);

OBJECT_TYPE IopDriverObjectTypeBody = { "Driver", 'virD', IopDeleteDriverObject, NULL };
static POBJECT_TYPE IopDriverObjectTypePointer = &IopDriverObjectTypeBody;
POBJECT_TYPE *IoDriverObjectType = &IopDriverObjectTypePointer;

BOOLEAN IopIsDriverObject(PVOID Object)
{
    return Object && ObpIsLiveObject(Object, &IopDriverObjectTypeBody);
}

ULONG IopCountDevices(PDRIVER_OBJECT DriverObject)
{
    ULONG n = 0;
    IopLockDatabase();
    for (PDEVICE_OBJECT d = DriverObject->DeviceObject; d; d = d->NextDevice)
        n++;
    IopUnlockDatabase();
    return n;
}

NTSTATUS IopInvalidDeviceRequest(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    (void)DeviceObject;
    Irp->IoStatus.Status = STATUS_INVALID_DEVICE_REQUEST;
    Irp->IoStatus.Information = 0;
    IofCompleteRequest(Irp, IO_NO_INCREMENT);
    return STATUS_INVALID_DEVICE_REQUEST;
}

VOID IopCheckCallTarget(PVOID Routine, const char *What, PVOID Object)
{
    if (!Routine || LdrpFindImageByAddress((ULONG_PTR)Routine))
        return;
    if (LdrpIsAddressUnmapped((ULONG_PTR)Routine)) {
        fprintf(stderr, "*** %s %p lies in an unmapped image\n", What ? What : "routine", Routine);
        KeBugCheckEx(DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS, (ULONG_PTR)Routine, (ULONG_PTR)Object, 0,
                     0);
    }
}

/* ---- the driver type's delete procedure ------------------------------- */

static VOID IopDeleteDriverObject(PVOID Object)
{
    PDRIVER_OBJECT driver = Object;
    PIOP_DRIVER_STATE state = IopGetDriverState(driver);
    pthread_mutex_lock(&LdrpLock);
    if (state->Service && state->Service->DriverObject == driver)
        state->Service->DriverObject = NULL;
    pthread_mutex_unlock(&LdrpLock);
    for (IOP_CLIENT_EXTENSION *e = state->ClientExtensions, *next; e; e = next) {
        next = e->Next;
        free(e);
    }
    state->ClientExtensions = NULL;
    RtlpFreeUnicode(&state->RegistryPath);
    free(driver->DriverName.Buffer);
    free(driver->DriverExtension->ServiceKeyName.Buffer);
    free(state->ServiceName);
    free(state->ImagePath);
    if (state->Image)
        MmUnloadSystemImage(state->Image);
}

/* ---- DriverEntry / DriverUnload --------------------------------------- */

NTSTATUS IopCallDriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    IopCheckCallTarget((PVOID)DriverObject->DriverInit, "DriverEntry", DriverObject);
    return DriverObject->DriverInit(DriverObject, RegistryPath);
}

VOID IopCallDriverUnload(PDRIVER_OBJECT DriverObject)
{
    PIOP_DRIVER_STATE state = IopGetDriverState(DriverObject);
    IopCheckCallTarget((PVOID)DriverObject->DriverUnload, "DriverUnload", DriverObject);
    IopLockDatabase();
    DriverObject->Flags |= DRVO_UNLOAD_INVOKED;
    state->UnloadInvoked = TRUE;
    IopUnlockDatabase();
    pthread_mutex_lock(&LdrpLock);
    if (state->Service && state->Service->DriverObject == DriverObject)
        state->Service->UnloadCalled = TRUE;
    pthread_mutex_unlock(&LdrpLock);
    DriverObject->DriverUnload(DriverObject);
}

VOID IopNoteDriverUnloadWrite(PDRIVER_OBJECT DriverObject, PDRIVER_UNLOAD OldRoutine, PDRIVER_UNLOAD NewRoutine)
{
    (void)OldRoutine;
    (void)NewRoutine;
    if (IopIsDriverObject(DriverObject))
        __atomic_add_fetch(&IopGetDriverState(DriverObject)->UnloadWrites, 1, __ATOMIC_SEQ_CST);
}

/* ---- the unload decision ---------------------------------------------- */

static BOOLEAN IopRegistrationsBlockLocked(PDRIVER_OBJECT Driver)
{
    return NtsimpConfig.RegistrationsDeferUnload && IopGetDriverState(Driver)->RegistrationCount > 0;
}

/* TRUE when no device of Driver has an open file object or a device attached above. */
static BOOLEAN IopAllDevicesIdleLocked(PDRIVER_OBJECT Driver)
{
    for (PDEVICE_OBJECT d = Driver->DeviceObject; d; d = d->NextDevice)
        if (d->ReferenceCount || d->AttachedDevice)
            return FALSE;
    return TRUE;
}

VOID IopEvaluateDriverUnloadLocked(PDRIVER_OBJECT DriverObject, BOOLEAN DeviceUnlinked, IOP_COMPLETION *Completion)
{
    PIOP_DRIVER_STATE state = IopGetDriverState(DriverObject);
    if (state->UnloadClaimed || Completion->UnloadDriver)
        return;
    if (state->UnloadPending) {
        if (!IopAllDevicesIdleLocked(DriverObject) || IopRegistrationsBlockLocked(DriverObject))
            return;
    } else {
        if (!state->IsPnp || !DriverObject->DriverUnload || DriverObject->DeviceObject)
            return;
        if (!DeviceUnlinked && !state->PnpUnloadDeferred)
            return;
        if (IopRegistrationsBlockLocked(DriverObject) || state->PnpIrpsInFlight > 0) {
            state->PnpUnloadDeferred = TRUE;
            return;
        }
    }
    state->UnloadClaimed = TRUE;
    state->PnpUnloadDeferred = FALSE;
    Completion->UnloadDriver = DriverObject;
}

/*
 * DriverUnload, then the driver object made temporary (its name goes) and
 * the legacy load reference dropped (§3.2 step 7). The caller claimed the
 * unload, so the driver object is alive: it holds the load reference, the
 * namespace reference, or an unlinked device's reference.
 */
static VOID IopInvokeDriverUnload(PDRIVER_OBJECT Driver)
{
    PIOP_DRIVER_STATE state = IopGetDriverState(Driver);
    if (Driver->DriverUnload)
        IopCallDriverUnload(Driver);
    IopLockDatabase();
    BOOLEAN loadReference = state->LoadReferenceHeld;
    state->LoadReferenceHeld = FALSE;
    IopUnlockDatabase();
    ObMakeTemporaryObject(Driver);
    if (loadReference)
        ObfDereferenceObject(Driver);
}

VOID IopRunCompletion(const IOP_COMPLETION *Completion)
{
    if (Completion->UnlinkedDevice && IopDeviceUnlinkedHook)
        IopDeviceUnlinkedHook(Completion->UnlinkedDevice);
    if (Completion->UnloadDriver)
        IopInvokeDriverUnload(Completion->UnloadDriver);
    if (Completion->UnlinkedDevice)
        ObfDereferenceObject(Completion->UnlinkedDevice); /* the keep-alive reference */
}

VOID IopCheckDriverUnload(PDRIVER_OBJECT DriverObject)
{
    IOP_COMPLETION completion = { NULL, NULL };
    IopLockDatabase();
    IopEvaluateDriverUnloadLocked(DriverObject, TRUE, &completion);
    IopUnlockDatabase();
    IopRunCompletion(&completion);
}

VOID IopAddDriverRegistration(PDRIVER_OBJECT DriverObject)
{
    IopLockDatabase();
    IopGetDriverState(DriverObject)->RegistrationCount++;
    IopUnlockDatabase();
}

VOID IopRemoveDriverRegistration(PDRIVER_OBJECT DriverObject)
{
    IOP_COMPLETION completion = { NULL, NULL };
    IopLockDatabase();
    PIOP_DRIVER_STATE state = IopGetDriverState(DriverObject);
    state->RegistrationCount--;
    if (state->RegistrationCount == 0)
        IopEvaluateDriverUnloadLocked(DriverObject, FALSE, &completion);
    IopUnlockDatabase();
    IopRunCompletion(&completion);
}

VOID IopBeginPnpIrpLocked(PDRIVER_OBJECT DriverObject)
{
    IopGetDriverState(DriverObject)->PnpIrpsInFlight++;
}

VOID IopEndPnpIrp(PDRIVER_OBJECT DriverObject)
{
    IOP_COMPLETION completion = { NULL, NULL };
    IopLockDatabase();
    PIOP_DRIVER_STATE state = IopGetDriverState(DriverObject);
    if (--state->PnpIrpsInFlight == 0)
        IopEvaluateDriverUnloadLocked(DriverObject, FALSE, &completion);
    IopUnlockDatabase();
    IopRunCompletion(&completion);
}

/* ---- driver object extensions ----------------------------------------- */

NTSTATUS IoAllocateDriverObjectExtension(PDRIVER_OBJECT DriverObject, PVOID ClientIdentificationAddress,
                                         ULONG DriverObjectExtensionSize, PVOID *DriverObjectExtension)
{
    if (!DriverObjectExtension)
        return STATUS_INVALID_PARAMETER;
    *DriverObjectExtension = NULL;
    IOP_CLIENT_EXTENSION *block = calloc(1, sizeof(IOP_CLIENT_EXTENSION) + DriverObjectExtensionSize);
    if (!block)
        return STATUS_INSUFFICIENT_RESOURCES;
    block->ClientId = ClientIdentificationAddress;
    IopLockDatabase();
    PIOP_DRIVER_STATE state = IopGetDriverState(DriverObject);
    for (IOP_CLIENT_EXTENSION *e = state->ClientExtensions; e; e = e->Next) {
        if (e->ClientId == ClientIdentificationAddress) {
            IopUnlockDatabase();
            free(block);
            return STATUS_OBJECT_NAME_COLLISION;
        }
    }
    block->Next = state->ClientExtensions;
    state->ClientExtensions = block;
    IopUnlockDatabase();
    *DriverObjectExtension = block + 1;
    return STATUS_SUCCESS;
}

PVOID IoGetDriverObjectExtension(PDRIVER_OBJECT DriverObject, PVOID ClientIdentificationAddress)
{
    PVOID found = NULL;
    IopLockDatabase();
    for (IOP_CLIENT_EXTENSION *e = IopGetDriverState(DriverObject)->ClientExtensions; e && !found; e = e->Next)
        if (e->ClientId == ClientIdentificationAddress)
            found = e + 1;
    IopUnlockDatabase();
    return found;
}
