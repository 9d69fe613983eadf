/*
 * count_calls.c - a minimal LD_PRELOAD library for the interposition test:
 * it defines the lifetime entry points libntsim exports, counts each call
 * and forwards it to the real function (dlsym RTLD_NEXT). If libntsim
 * reached any of them through a direct or static call, the count would
 * miss it. PreloadCallCount(name) reads a count.
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include <ntsim_kernel.h>

/* X(name) for every counted function */
#define PRELOAD_FUNCTIONS(X)                                                                         \
    X(ObCreateObject) X(ObfReferenceObject) X(ObfDereferenceObject) X(ObMakeTemporaryObject)         \
    X(ObOpenObjectByPointer) X(ZwClose) X(IopReferenceDeviceObject) X(IopDereferenceDeviceObject)    \
    X(MmLoadSystemImage) X(MmUnloadSystemImage) X(IopCallDriverEntry) X(IopCallDriverUnload)         \
    X(IopNoteDriverUnloadWrite) X(IofCallDriver) X(IofCompleteRequest) X(ExAllocatePoolWithTag)      \
    X(ExFreePoolWithTag) X(ZwLoadDriver) X(ZwUnloadDriver)

#define PRELOAD_INDEX(name) Index_##name,
enum { PRELOAD_FUNCTIONS(PRELOAD_INDEX) PreloadFunctionCount };
#define PRELOAD_NAME(name) #name,
static const char *const PreloadNames[] = { PRELOAD_FUNCTIONS(PRELOAD_NAME) };
static long PreloadCounts[PreloadFunctionCount];

__attribute__((visibility("default"))) long PreloadCallCount(const char *Name);
long PreloadCallCount(const char *Name)
{
    for (int i = 0; i < PreloadFunctionCount; i++)
        if (!strcmp(PreloadNames[i], Name))
            return __atomic_load_n(&PreloadCounts[i], __ATOMIC_SEQ_CST);
    return -1;
}

static void *PreloadReal(const char *Name)
{
    void *real = dlsym(RTLD_NEXT, Name);
    if (!real)
        abort();
    return real;
}

/* Defines Name with type Ret(Params), counting and forwarding Args. */
#define PRELOAD_FORWARD(Ret, Name, Params, Args)                              \
    Ret Name Params                                                           \
    {                                                                         \
        static Ret(*real) Params;                                             \
        if (!real)                                                            \
            real = (Ret(*) Params)PreloadReal(#Name);                         \
        __atomic_add_fetch(&PreloadCounts[Index_##Name], 1, __ATOMIC_SEQ_CST); \
        return real Args;                                                     \
    }

PRELOAD_FORWARD(NTSTATUS, ObCreateObject, (POBJECT_TYPE a, PCUNICODE_STRING b, ULONG c, ULONG d, PVOID *e),
                (a, b, c, d, e))
PRELOAD_FORWARD(LONG_PTR, ObfReferenceObject, (PVOID a), (a))
PRELOAD_FORWARD(LONG_PTR, ObfDereferenceObject, (PVOID a), (a))
PRELOAD_FORWARD(VOID, ObMakeTemporaryObject, (PVOID a), (a))
PRELOAD_FORWARD(NTSTATUS, ObOpenObjectByPointer,
                (PVOID a, ULONG b, PVOID c, ACCESS_MASK d, POBJECT_TYPE e, KPROCESSOR_MODE f, PHANDLE g),
                (a, b, c, d, e, f, g))
PRELOAD_FORWARD(NTSTATUS, ZwClose, (HANDLE a), (a))
PRELOAD_FORWARD(LONG, IopReferenceDeviceObject, (PDEVICE_OBJECT a), (a))
PRELOAD_FORWARD(LONG, IopDereferenceDeviceObject, (PDEVICE_OBJECT a), (a))
PRELOAD_FORWARD(NTSTATUS, MmLoadSystemImage, (const char *a, PVOID *b, PVOID *c), (a, b, c))
PRELOAD_FORWARD(NTSTATUS, MmUnloadSystemImage, (PVOID a), (a))
PRELOAD_FORWARD(NTSTATUS, IopCallDriverEntry, (PDRIVER_OBJECT a, PUNICODE_STRING b), (a, b))
PRELOAD_FORWARD(VOID, IopCallDriverUnload, (PDRIVER_OBJECT a), (a))
PRELOAD_FORWARD(VOID, IopNoteDriverUnloadWrite, (PDRIVER_OBJECT a, PDRIVER_UNLOAD b, PDRIVER_UNLOAD c), (a, b, c))
PRELOAD_FORWARD(NTSTATUS, IofCallDriver, (PDEVICE_OBJECT a, PIRP b), (a, b))
PRELOAD_FORWARD(VOID, IofCompleteRequest, (PIRP a, CCHAR b), (a, b))
PRELOAD_FORWARD(PVOID, ExAllocatePoolWithTag, (POOL_TYPE a, SIZE_T b, ULONG c), (a, b, c))
PRELOAD_FORWARD(VOID, ExFreePoolWithTag, (PVOID a, ULONG b), (a, b))
PRELOAD_FORWARD(NTSTATUS, ZwLoadDriver, (PUNICODE_STRING a), (a))
PRELOAD_FORWARD(NTSTATUS, ZwUnloadDriver, (PUNICODE_STRING a), (a))
