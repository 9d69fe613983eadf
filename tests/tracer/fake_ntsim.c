/*
 * fake_ntsim.c - a minimal stand-in for libntsim used by the tracer's own
 * tests: just enough of the object manager (ObCreateObject, Obf*,
 * NtsimQueryObject) and image loader (MmLoadSystemImage = dlopen) to drive
 * libobtrace, with deterministic behaviour and no dependency on the
 * framework's progress. FakeInternalReference takes a reference the way
 * the framework does on its own behalf: through the exported symbol.
 * IoCreateDevice creates its device through ObCreateObject, and counts the
 * NtsimQueryObject calls made after it returned (what the tracer asks
 * about the new device). Built twice: normally and with -Bsymbolic (for
 * the canary test; there IoCreateDevice's ObCreateObject is not traced).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ntsim.h"
#include "ntsim_kernel.h"

struct fake_obj {
    uint64_t id;
    LONG_PTR pointer;
    LONG_PTR handle;
    char type[16];
    char name[64];
    long body[]; /* at least FAKE_BODY_MIN bytes */
};

#define FAKE_BODY_MIN 64

#define FAKE_LIVE_MAX 4096
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct fake_obj *live[FAKE_LIVE_MAX];
static uint64_t next_id = 1;
static long queries, queries_at_create_device; /* NtsimQueryObject calls: all, and when IoCreateDevice returned */

static struct fake_obj *obj_of(PVOID body)
{
    return (struct fake_obj *)((char *)body - offsetof(struct fake_obj, body));
}

static int live_index(PVOID body)
{
    for (int i = 0; i < FAKE_LIVE_MAX; i++)
        if (live[i] && (PVOID)live[i]->body == body)
            return i;
    return -1;
}

NTSIM_API NTSTATUS NtsimQueryObject(PVOID Object, PNTSIM_OBJECT_INFO Info)
{
    NTSTATUS st = STATUS_INVALID_PARAMETER;
    pthread_mutex_lock(&lock);
    queries++;
    int i = live_index(Object);
    if (i >= 0) {
        memset(Info, 0, sizeof(*Info));
        Info->Id = live[i]->id;
        Info->TypeName = live[i]->type;
        snprintf(Info->Name, sizeof(Info->Name), "%s", live[i]->name);
        Info->PointerCount = __atomic_load_n(&live[i]->pointer, __ATOMIC_RELAXED);
        Info->HandleCount = live[i]->handle;
        st = STATUS_SUCCESS;
    }
    pthread_mutex_unlock(&lock);
    return st;
}

/* ObjectType is taken as a C string naming the type; ObjectName's Buffer as a C string. */
NTKERNELAPI NTSTATUS ObCreateObject(POBJECT_TYPE ObjectType, PCUNICODE_STRING ObjectName, ULONG Attributes,
                                    ULONG BodySize, PVOID *Object)
{
    (void)Attributes;
    struct fake_obj *o = calloc(1, sizeof(*o) + (BodySize > FAKE_BODY_MIN ? BodySize : FAKE_BODY_MIN));
    if (!o)
        return STATUS_INSUFFICIENT_RESOURCES;
    snprintf(o->type, sizeof(o->type), "%s", ObjectType ? (const char *)ObjectType : "Other");
    if (ObjectName && ObjectName->Buffer)
        snprintf(o->name, sizeof(o->name), "%s", (const char *)ObjectName->Buffer);
    o->pointer = 1;
    pthread_mutex_lock(&lock);
    o->id = next_id++;
    int i = 0;
    while (i < FAKE_LIVE_MAX && live[i])
        i++;
    if (i == FAKE_LIVE_MAX) {
        pthread_mutex_unlock(&lock);
        free(o);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    live[i] = o;
    pthread_mutex_unlock(&lock);
    *Object = o->body;
    return STATUS_SUCCESS;
}

NTKERNELAPI LONG_PTR ObfReferenceObject(PVOID Object)
{
    return __atomic_add_fetch(&obj_of(Object)->pointer, 1, __ATOMIC_SEQ_CST);
}

NTKERNELAPI LONG_PTR ObfDereferenceObject(PVOID Object)
{
    struct fake_obj *o = obj_of(Object);
    LONG_PTR n = __atomic_sub_fetch(&o->pointer, 1, __ATOMIC_SEQ_CST);
    if (n == 0) {
        pthread_mutex_lock(&lock);
        int i = live_index(Object);
        if (i >= 0)
            live[i] = NULL;
        pthread_mutex_unlock(&lock);
        free(o);
    }
    return n;
}

NTKERNELAPI LONG_PTR ObfReferenceObjectWithTag(PVOID Object, ULONG Tag)
{
    (void)Tag;
    return ObfReferenceObject(Object);
}

NTKERNELAPI LONG_PTR ObfDereferenceObjectWithTag(PVOID Object, ULONG Tag)
{
    (void)Tag;
    return ObfDereferenceObject(Object);
}

/* A reference the "framework" takes on its own behalf, through the exported symbol. */
NTSIM_API LONG_PTR FakeInternalReference(PVOID Object);
NTSIM_API LONG_PTR FakeInternalReference(PVOID Object)
{
    LONG_PTR n = ObfReferenceObject(Object);
    __asm__ volatile("" ::: "memory"); /* no tail call: this frame must be on the stack */
    return n;
}

/* ObjectName's Buffer as a C string, as for ObCreateObject. */
NTKERNELAPI NTSTATUS IoCreateDevice(PDRIVER_OBJECT DriverObject, ULONG DeviceExtensionSize, PUNICODE_STRING DeviceName,
                                    DEVICE_TYPE DeviceType, ULONG DeviceCharacteristics, BOOLEAN Exclusive,
                                    PDEVICE_OBJECT *DeviceObject)
{
    PVOID body;
    (void)Exclusive;
    NTSTATUS st = ObCreateObject((POBJECT_TYPE) "Device", DeviceName, 0,
                                 (ULONG)sizeof(DEVICE_OBJECT) + DeviceExtensionSize, &body);
    if (st != STATUS_SUCCESS)
        return st;
    PDEVICE_OBJECT device = body;
    device->Type = IO_TYPE_DEVICE;
    device->DriverObject = DriverObject;
    device->DeviceType = DeviceType;
    device->Characteristics = DeviceCharacteristics;
    *DeviceObject = device;
    pthread_mutex_lock(&lock);
    queries_at_create_device = queries;
    pthread_mutex_unlock(&lock);
    return STATUS_SUCCESS;
}

/* NtsimQueryObject calls since the last IoCreateDevice returned. */
NTSIM_API long FakeQueriesSinceCreateDevice(void);
NTSIM_API long FakeQueriesSinceCreateDevice(void)
{
    pthread_mutex_lock(&lock);
    long n = queries - queries_at_create_device;
    pthread_mutex_unlock(&lock);
    return n;
}

NTHALAPI KIRQL KeGetCurrentIrql(void)
{
    return 0;
}

NTKERNELAPI NTSTATUS MmLoadSystemImage(const char *ImagePath, PVOID *ImageHandle, PVOID *ImageBase)
{
    void *h = dlopen(ImagePath, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return STATUS_DLL_NOT_FOUND;
    void *entry = dlsym(h, "image_entry");
    Dl_info di;
    *ImageHandle = h;
    *ImageBase = entry && dladdr(entry, &di) ? di.dli_fbase : NULL;
    return STATUS_SUCCESS;
}

NTKERNELAPI NTSTATUS MmUnloadSystemImage(PVOID ImageHandle)
{
    return dlclose(ImageHandle) == 0 ? STATUS_SUCCESS : STATUS_UNSUCCESSFUL;
}

NTKERNELAPI DECLSPEC_NORETURN VOID KeBugCheckEx(ULONG BugCheckCode, ULONG_PTR P1, ULONG_PTR P2, ULONG_PTR P3,
                                                ULONG_PTR P4)
{
    fprintf(stderr, "fake bug check 0x%x (%lx %lx %lx %lx)\n", BugCheckCode, (unsigned long)P1,
            (unsigned long)P2, (unsigned long)P3, (unsigned long)P4);
    abort();
}
