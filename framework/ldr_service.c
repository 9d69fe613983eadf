/*
 * ldr_service.c - the service control manager and the driver load/unload
 * requests (nt-semantics §3.1, §3.2): services map a name to a driver
 * image; ZwLoadDriver maps the image, creates the permanent \Driver\<name>
 * object and calls DriverEntry (a failure unloads without DriverUnload);
 * ZwUnloadDriver refuses PnP drivers and drivers without DriverUnload, and
 * otherwise marks every device unload-pending and lets the unload complete
 * now or when the last open file / attached device goes. Also the host
 * queries on images and services.
 */
#include <dlfcn.h>
#include <string.h>

#include "ntsim_internal.h"

#define LDRP_REGISTRY_PREFIX "\\Registry\\Machine\\System\\CurrentControlSet\\Services\\"

static PLDRP_SERVICE LdrpServices;

PLDRP_SERVICE LdrpFindServiceLocked(const char *ServiceName)
{
    for (PLDRP_SERVICE s = LdrpServices; s; s = s->Next)
        if (!s->Deleted && !strcasecmp(s->Name, ServiceName))
            return s;
    return NULL;
}

NTSTATUS NtsimInstallService(const char *ServiceName, const char *ImagePath)
{
    if (!ServiceName || !*ServiceName || !ImagePath || strchr(ServiceName, '\\'))
        return STATUS_INVALID_PARAMETER;
    pthread_mutex_lock(&LdrpLock);
    if (LdrpFindServiceLocked(ServiceName)) {
        pthread_mutex_unlock(&LdrpLock);
        return STATUS_OBJECT_NAME_COLLISION;
    }
    PLDRP_SERVICE s = RtlpAllocZero(sizeof(*s));
    s->Name = RtlpStrDup(ServiceName);
    s->ImagePath = RtlpStrDup(ImagePath);
    s->Next = LdrpServices;
    LdrpServices = s;
    pthread_mutex_unlock(&LdrpLock);
    return STATUS_SUCCESS;
}

NTSTATUS NtsimDeleteService(const char *ServiceName)
{
    pthread_mutex_lock(&LdrpLock);
    PLDRP_SERVICE s = ServiceName ? LdrpFindServiceLocked(ServiceName) : NULL;
    if (s)
        s->Deleted = TRUE; /* kept: a live driver object may still point at it */
    pthread_mutex_unlock(&LdrpLock);
    return s ? STATUS_SUCCESS : STATUS_OBJECT_NAME_NOT_FOUND;
}

/* ---- loading ---------------------------------------------------------- */

/* Fills the fresh driver object's public fields and its simulation state. */
static VOID LdrpInitializeDriverObject(PDRIVER_OBJECT Driver, PLDRP_SERVICE Service, PLDRP_IMAGE Image,
                                       PDRIVER_INITIALIZE Entry, BOOLEAN KeepLoadReference)
{
    IOP_DRIVER_BODY *body = (IOP_DRIVER_BODY *)Driver;
    PIOP_DRIVER_STATE state = &body->State;
    char text[512];
    Driver->Type = IO_TYPE_DRIVER;
    Driver->Size = sizeof(DRIVER_OBJECT);
    Driver->DriverExtension = &body->Extension;
    body->Extension.DriverObject = Driver;
    Driver->DriverStart = (PVOID)Image->Start;
    Driver->DriverSize = (ULONG)(Image->End - Image->Start);
    Driver->DriverSection = Image;
    Driver->DriverInit = Entry;
    for (int i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++)
        Driver->MajorFunction[i] = IopInvalidDeviceRequest;
    snprintf(text, sizeof(text), "\\Driver\\%s", Service->Name);
    RtlpUtf8ToUnicode(text, &Driver->DriverName);
    RtlpUtf8ToUnicode(Service->Name, &body->Extension.ServiceKeyName);
    snprintf(text, sizeof(text), LDRP_REGISTRY_PREFIX "%s", Service->Name);
    RtlpUtf8ToUnicode(text, &state->RegistryPath);
    state->Image = Image;
    state->Service = Service;
    state->ServiceName = RtlpStrDup(Service->Name);
    state->ImagePath = RtlpStrDup(Image->Path);
    state->LoadReferenceHeld = KeepLoadReference;
}

/* After a successful DriverEntry: defaults, flags, devices ready (§2.1, §3.1). */
static VOID LdrpFinishDriverEntry(PDRIVER_OBJECT Driver)
{
    PIOP_DRIVER_STATE state = IopGetDriverState(Driver);
    if (Driver->DriverUnload)
        IopNoteDriverUnloadWrite(Driver, NULL, Driver->DriverUnload);
    state->UnloadSetByEntry = Driver->DriverUnload;
    IopLockDatabase();
    for (int i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++)
        if (!Driver->MajorFunction[i])
            Driver->MajorFunction[i] = IopInvalidDeviceRequest;
    state->IsPnp = Driver->DriverExtension->AddDevice != NULL;
    Driver->Flags |= DRVO_INITIALIZED | (state->IsPnp ? 0 : DRVO_LEGACY_DRIVER);
    for (PDEVICE_OBJECT d = Driver->DeviceObject; d; d = d->NextDevice)
        d->Flags &= ~DO_DEVICE_INITIALIZING;
    IopUnlockDatabase();
}

static VOID LdrpRecordLoadStatus(PLDRP_SERVICE Service, NTSTATUS Status, PDRIVER_OBJECT Driver)
{
    pthread_mutex_lock(&LdrpLock);
    Service->LastLoadStatus = Status;
    if (NT_SUCCESS(Status)) {
        Service->LoadCount++;
        Service->IsPnp = IopGetDriverState(Driver)->IsPnp;
    }
    pthread_mutex_unlock(&LdrpLock);
}

/*
 * Loads service ServiceName's driver. On success *DriverObject holds the
 * creation reference: kept as the legacy load reference when
 * KeepLoadReference (the caller must not drop it), else the caller's.
 */
static NTSTATUS LdrpLoadDriver(const char *ServiceName, BOOLEAN KeepLoadReference, PDRIVER_OBJECT *DriverObject)
{
    pthread_mutex_lock(&LdrpLock);
    PLDRP_SERVICE service = LdrpFindServiceLocked(ServiceName);
    char *imagePath = service ? RtlpStrDup(service->ImagePath) : NULL;
    pthread_mutex_unlock(&LdrpLock);
    if (!service)
        return STATUS_OBJECT_NAME_NOT_FOUND;

    PVOID imageHandle = NULL;
    NTSTATUS status = MmLoadSystemImage(imagePath, &imageHandle, NULL);
    free(imagePath);
    if (!NT_SUCCESS(status)) {
        LdrpRecordLoadStatus(service, status, NULL);
        return status;
    }
    PLDRP_IMAGE image = imageHandle;
    PDRIVER_INITIALIZE entry = (PDRIVER_INITIALIZE)dlsym(image->DlHandle, "DriverEntry");
    if (!entry) {
        MmUnloadSystemImage(image);
        LdrpRecordLoadStatus(service, STATUS_DRIVER_ENTRYPOINT_NOT_FOUND, NULL);
        return STATUS_DRIVER_ENTRYPOINT_NOT_FOUND;
    }

    char nameText[300];
    UNICODE_STRING name;
    snprintf(nameText, sizeof(nameText), "\\Driver\\%s", service->Name);
    RtlpUtf8ToUnicode(nameText, &name);
    PVOID object = NULL;
    status = ObCreateObject(*IoDriverObjectType, &name, OBJ_PERMANENT, sizeof(IOP_DRIVER_BODY), &object);
    RtlpFreeUnicode(&name);
    if (!NT_SUCCESS(status)) {
        MmUnloadSystemImage(image);
        status = status == STATUS_OBJECT_NAME_COLLISION ? STATUS_IMAGE_ALREADY_LOADED : status;
        LdrpRecordLoadStatus(service, status, NULL);
        return status;
    }
    PDRIVER_OBJECT driver = object;
    LdrpInitializeDriverObject(driver, service, image, entry, KeepLoadReference);
    pthread_mutex_lock(&LdrpLock);
    service->DriverObject = driver;
    service->Image = image;
    service->UnloadCalled = FALSE;
    pthread_mutex_unlock(&LdrpLock);

    status = IopCallDriverEntry(driver, &IopGetDriverState(driver)->RegistryPath);
    if (!NT_SUCCESS(status)) {
        /* §3.1: made temporary and dereferenced; DriverUnload is not called */
        IopLockDatabase();
        IopGetDriverState(driver)->LoadReferenceHeld = FALSE;
        IopUnlockDatabase();
        LdrpRecordLoadStatus(service, status, NULL);
        ObMakeTemporaryObject(driver);
        ObfDereferenceObject(driver);
        return status;
    }
    LdrpFinishDriverEntry(driver);
    LdrpRecordLoadStatus(service, STATUS_SUCCESS, driver);
    if (DriverObject)
        *DriverObject = driver;
    return STATUS_SUCCESS;
}

/* The service name at the end of a registry path (…\Services\<name>), malloc'd. */
static char *LdrpServiceNameFromRegistryPath(PUNICODE_STRING DriverServiceName)
{
    char *text = DriverServiceName ? RtlpUnicodeToUtf8(DriverServiceName) : NULL;
    if (!text)
        return NULL;
    char *slash = strrchr(text, '\\');
    char *name = RtlpStrDup(slash ? slash + 1 : text);
    free(text);
    return name;
}

NTSTATUS ZwLoadDriver(PUNICODE_STRING DriverServiceName)
{
    char *name = LdrpServiceNameFromRegistryPath(DriverServiceName);
    if (!name || !*name) {
        free(name);
        return STATUS_OBJECT_NAME_INVALID;
    }
    NTSTATUS status = LdrpLoadDriver(name, TRUE, NULL);
    free(name);
    return status;
}

NTSTATUS IopReferenceOrLoadServiceDriver(const char *ServiceName, PDRIVER_OBJECT *DriverObject)
{
    pthread_mutex_lock(&LdrpLock);
    PLDRP_SERVICE service = LdrpFindServiceLocked(ServiceName);
    PDRIVER_OBJECT driver = service ? service->DriverObject : NULL;
    BOOLEAN usable = FALSE;
    if (driver && ObpReferenceIfAlive(driver)) {
        IopLockDatabase();
        PIOP_DRIVER_STATE state = IopGetDriverState(driver);
        usable = !state->UnloadClaimed && !state->UnloadPending;
        IopUnlockDatabase();
        if (!usable) {
            pthread_mutex_unlock(&LdrpLock);
            ObfDereferenceObject(driver);
            pthread_mutex_lock(&LdrpLock);
        }
    }
    pthread_mutex_unlock(&LdrpLock);
    if (!service)
        return STATUS_OBJECT_NAME_NOT_FOUND;
    if (usable) {
        *DriverObject = driver;
        return STATUS_SUCCESS;
    }
    return LdrpLoadDriver(ServiceName, FALSE, DriverObject);
}

/* ---- legacy unload ---------------------------------------------------- */

/* Marks Driver unload-pending and every device DOE_UNLOAD_PENDING; returns the stop's status (database lock held). */
static NTSTATUS LdrpRequestUnloadLocked(PDRIVER_OBJECT Driver, IOP_COMPLETION *Completion)
{
    PIOP_DRIVER_STATE state = IopGetDriverState(Driver);
    if (state->UnloadClaimed || state->UnloadInvoked)
        return STATUS_DELETE_PENDING; /* nt-semantics §3.2 step 3 */
    if (state->IsPnp || !Driver->DriverUnload)
        return STATUS_INVALID_DEVICE_REQUEST;
    if (state->UnloadPending)
        return STATUS_SUCCESS; /* already accepted and still deferred (§3.2 step 6) */
    state->UnloadPending = TRUE;
    for (PDEVICE_OBJECT d = Driver->DeviceObject; d; d = d->NextDevice)
        IopGetDeviceState(d)->Public.ExtensionFlags |= DOE_UNLOAD_PENDING;
    IopEvaluateDriverUnloadLocked(Driver, FALSE, Completion);
    return STATUS_SUCCESS;
}

NTSTATUS ZwUnloadDriver(PUNICODE_STRING DriverServiceName)
{
    char *name = LdrpServiceNameFromRegistryPath(DriverServiceName);
    if (!name)
        return STATUS_OBJECT_NAME_INVALID;
    pthread_mutex_lock(&LdrpLock);
    PLDRP_SERVICE service = LdrpFindServiceLocked(name);
    PDRIVER_OBJECT driver = service ? service->DriverObject : NULL;
    BOOLEAN referenced = driver && ObpReferenceIfAlive(driver); /* the lookup reference */
    pthread_mutex_unlock(&LdrpLock);
    free(name);
    if (!referenced)
        return STATUS_OBJECT_NAME_NOT_FOUND;

    IOP_COMPLETION completion = { NULL, NULL };
    IopLockDatabase();
    NTSTATUS status = LdrpRequestUnloadLocked(driver, &completion);
    IopUnlockDatabase();
    IopRunCompletion(&completion);
    ObfDereferenceObject(driver);
    return status;
}

/* ---- host API --------------------------------------------------------- */

/* Builds the registry path of ServiceName and runs Call on it. */
static NTSTATUS LdrpCallWithRegistryPath(const char *ServiceName, NTSTATUS (*Call)(PUNICODE_STRING))
{
    if (!ServiceName)
        return STATUS_INVALID_PARAMETER;
    char text[512];
    UNICODE_STRING path;
    snprintf(text, sizeof(text), LDRP_REGISTRY_PREFIX "%s", ServiceName);
    if (!RtlpUtf8ToUnicode(text, &path))
        return STATUS_INSUFFICIENT_RESOURCES;
    NTSTATUS status = Call(&path);
    RtlpFreeUnicode(&path);
    return status;
}

static NTSTATUS LdrpStartServiceNow(const char *ServiceName)
{
    return LdrpCallWithRegistryPath(ServiceName, ZwLoadDriver);
}

static NTSTATUS LdrpStopServiceNow(const char *ServiceName)
{
    return LdrpCallWithRegistryPath(ServiceName, ZwUnloadDriver);
}

/* DriverEntry and DriverUnload run on a system thread; a driver stuck in them costs the host STATUS_TIMEOUT. */
NTSTATUS NtsimStartService(const char *ServiceName)
{
    return PipCallOnPnpThread(LdrpStartServiceNow, ServiceName);
}

NTSTATUS NtsimStopService(const char *ServiceName)
{
    return PipCallOnPnpThread(LdrpStopServiceNow, ServiceName);
}

static NTSIM_IMAGE_STATE LdrpImageState(const NTSIM_IMAGE_INFO *Info, BOOLEAN UnloadPending)
{
    if (!Info->Mapped)
        return NtsimImageNotLoaded;
    if (Info->UnloadCalled)
        return NtsimImageResidentAfterUnload;
    return UnloadPending ? NtsimImageUnloadPending : NtsimImageLoaded;
}

NTSTATUS NtsimQueryImage(const char *ServiceName, PNTSIM_IMAGE_INFO Info)
{
    if (!ServiceName || !Info)
        return STATUS_INVALID_PARAMETER;
    memset(Info, 0, sizeof(*Info));
    pthread_mutex_lock(&LdrpLock);
    PLDRP_SERVICE service = LdrpFindServiceLocked(ServiceName);
    if (!service) {
        pthread_mutex_unlock(&LdrpLock);
        return STATUS_OBJECT_NAME_NOT_FOUND;
    }
    PLDRP_IMAGE image = service->Image;
    snprintf(Info->ImagePath, sizeof(Info->ImagePath), "%s", image ? image->Path : service->ImagePath);
    Info->Mapped = image && image->Mapped && LdrpIsImageMappedInProcess(image);
    Info->UnloadCalled = service->UnloadCalled;
    Info->IsPnp = service->IsPnp;
    Info->LoadCount = service->LoadCount;
    Info->LastLoadStatus = service->LastLoadStatus;
    Info->PoolAllocations = image ? (ULONG)__atomic_load_n(&image->PoolAllocations, __ATOMIC_SEQ_CST) : 0;
    BOOLEAN unloadPending = FALSE;
    PDRIVER_OBJECT driver = service->DriverObject; /* cleared under LdrpLock before it is freed */
    if (driver && ObpQueryCounts(driver, &Info->DriverPointerCount, NULL)) {
        Info->DeviceCount = IopCountDevices(driver);
        IopLockDatabase();
        unloadPending = IopGetDriverState(driver)->UnloadPending;
        IopUnlockDatabase();
    }
    pthread_mutex_unlock(&LdrpLock);
    Info->State = LdrpImageState(Info, unloadPending);
    return STATUS_SUCCESS;
}

VOID NtsimEnumerateServices(NTSIM_SERVICE_VISITOR *Visit, PVOID Context)
{
    if (!Visit)
        return;
    size_t count = 0, n = 0;
    pthread_mutex_lock(&LdrpLock);
    for (PLDRP_SERVICE s = LdrpServices; s; s = s->Next)
        count++;
    char **names = RtlpAllocZero((count + 1) * sizeof(char *));
    for (PLDRP_SERVICE s = LdrpServices; s; s = s->Next)
        if (!s->Deleted && s->Image && s->Image->Mapped)
            names[n++] = RtlpStrDup(s->Name);
    pthread_mutex_unlock(&LdrpLock);
    BOOLEAN go = TRUE;
    for (size_t i = 0; i < n; i++) {
        if (go)
            go = Visit(names[i], Context);
        free(names[i]);
    }
    free(names);
}
