/*
 * io_interface.c - driver-defined interfaces (IRP_MN_QUERY_INTERFACE,
 * nt-semantics §9) and the catch of calls into unloaded images.
 *
 * The INTERFACE counting is the drivers' own business: nothing in the
 * object manager is pinned by it. This file provides the KMDF no-op
 * reference functions (wdfnoop.h), the exported hand-out note a tracer
 * sees (for every IRP_MN_QUERY_INTERFACE that completes successfully, from
 * IofCompleteRequest), and the bug check 0xCE analogue for a call through an interface
 * pointer (or any other stale code pointer) into an image that was
 * unmapped.
 *
 * How the call is caught - a guard, not a trampoline. Two designs work:
 * route every interface call through a checked trampoline, or make the
 * unmapped range fault and recognise the fault. A trampoline needs the
 * PnP manager to see each INTERFACE when it is handed out so that it can
 * rewrite its function pointers, but IRP_MN_QUERY_INTERFACE travels
 * driver-to-driver through IoCallDriver without the PnP manager, and it
 * would have to guess which fields of a driver-defined structure are code.
 * The guard needs neither: when the driver object's delete procedure has
 * unmapped the image (dlclose), the image's old address range is at once
 * covered by an inaccessible anonymous mapping (MAP_FIXED_NOREPLACE, so
 * nothing else is ever placed there and a reload maps elsewhere), and a
 * SIGSEGV/SIGBUS handler turns a fault inside such a range into
 * KeBugCheckEx(DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS, ...)
 * naming the image - traced first, as every bug check is. Faults elsewhere
 * go to the previous handler. It catches calls, but also reads of the
 * image's data, through any pointer, which is what 0xCE is about.
 */
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <dlfcn.h>

#include "pnp_internal.h"
#include "wdfnoop.h"

/* One unmapped image's range, covered by a guard. */
typedef struct _IOP_IMAGE_GUARD {
    ULONG_PTR Start, End;
    char Name[128];
} IOP_IMAGE_GUARD;

#define IOP_MAX_GUARDS 256

static IOP_IMAGE_GUARD IopGuards[IOP_MAX_GUARDS];
static volatile LONG IopGuardCount; /* read by the signal handler without locks */
static pthread_mutex_t IopGuardLock = PTHREAD_MUTEX_INITIALIZER;
static OB_DELETE_PROCEDURE *IopOriginalDeleteDriver;
static struct sigaction IopPreviousSegv, IopPreviousBus;

/* ---- the fault handler ------------------------------------------------- */

static const IOP_IMAGE_GUARD *IopFindGuard(ULONG_PTR Address)
{
    LONG n = __atomic_load_n(&IopGuardCount, __ATOMIC_ACQUIRE);
    for (LONG i = 0; i < n; i++)
        if (IopGuards[i].Start <= Address && Address < IopGuards[i].End)
            return &IopGuards[i];
    return NULL;
}

static void IopFaultHandler(int Signal, siginfo_t *Info, void *UserContext)
{
    const IOP_IMAGE_GUARD *guard = IopFindGuard((ULONG_PTR)Info->si_addr);
    if (guard) {
        char line[300];
        int n = snprintf(line, sizeof(line), "*** call into unloaded image %s at %p (offset 0x%lx)\n", guard->Name,
                         Info->si_addr, (unsigned long)((ULONG_PTR)Info->si_addr - guard->Start));
        if (n > 0 && write(2, line, (size_t)n) < 0)
            n = 0;
        KeBugCheckEx(DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS, (ULONG_PTR)Info->si_addr, guard->Start,
                     0, 0x10);
    }
    struct sigaction *previous = Signal == SIGBUS ? &IopPreviousBus : &IopPreviousSegv;
    if (previous->sa_flags & SA_SIGINFO && previous->sa_sigaction) {
        previous->sa_sigaction(Signal, Info, UserContext);
        return;
    }
    if (previous->sa_handler != SIG_DFL && previous->sa_handler != SIG_IGN && previous->sa_handler) {
        previous->sa_handler(Signal);
        return;
    }
    signal(Signal, SIG_DFL); /* not ours: let the fault happen again and kill the process as usual */
}

static VOID IopInstallFaultHandler(void)
{
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_sigaction = IopFaultHandler;
    action.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&action.sa_mask);
    sigaction(SIGSEGV, &action, &IopPreviousSegv);
    sigaction(SIGBUS, &action, &IopPreviousBus);
}

/* ---- guarding unmapped images -------------------------------------------- */

static VOID IopGuardRange(const LDRP_IMAGE *Image)
{
    long page = sysconf(_SC_PAGESIZE);
    ULONG_PTR start = Image->Start & ~(ULONG_PTR)(page - 1);
    ULONG_PTR end = (Image->End + (ULONG_PTR)page - 1) & ~(ULONG_PTR)(page - 1);
    if (end <= start)
        return;
    void *p = mmap((void *)start, end - start, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (p == MAP_FAILED)
        return; /* something was mapped there meanwhile: no guard, no false alarm either */
    if (p != (void *)start) {
        munmap(p, end - start);
        return;
    }
    pthread_mutex_lock(&IopGuardLock);
    LONG n = IopGuardCount;
    if (n < IOP_MAX_GUARDS) {
        IopGuards[n].Start = start;
        IopGuards[n].End = end;
        const char *slash = strrchr(Image->Path, '/');
        snprintf(IopGuards[n].Name, sizeof(IopGuards[n].Name), "%s", slash ? slash + 1 : Image->Path);
        __atomic_store_n(&IopGuardCount, n + 1, __ATOMIC_RELEASE);
        if (n == 0)
            IopInstallFaultHandler();
    }
    pthread_mutex_unlock(&IopGuardLock);
}

/* The driver type's delete procedure, chained: the core's (which unmaps), then the guard. */
static VOID IopDeleteDriverAndGuardImage(PVOID Object)
{
    PLDRP_IMAGE image = IopGetDriverState((PDRIVER_OBJECT)Object)->Image;
    IopOriginalDeleteDriver(Object);
    if (image && !image->Mapped)
        IopGuardRange(image);
}

__attribute__((constructor)) static void IopInstallImageGuards(void)
{
    IopOriginalDeleteDriver = IopDriverObjectTypeBody.DeleteProcedure;
    IopDriverObjectTypeBody.DeleteProcedure = IopDeleteDriverAndGuardImage;
}

/* ---- descriptions -------------------------------------------------------- */

VOID IopDescribeCodeAddress(const void *Address, char *Buffer, size_t Size)
{
    PLDRP_IMAGE image = LdrpFindImageByAddress((ULONG_PTR)Address);
    Dl_info info;
    memset(&info, 0, sizeof(info));
    BOOLEAN named = dladdr(Address, &info) && info.dli_sname;
    if (image) {
        const char *slash = strrchr(image->Path, '/');
        if (named)
            snprintf(Buffer, Size, "%s!%s+0x%lx", slash ? slash + 1 : image->Path, info.dli_sname,
                     (unsigned long)((ULONG_PTR)Address - (ULONG_PTR)info.dli_saddr));
        else
            snprintf(Buffer, Size, "%s+0x%lx", slash ? slash + 1 : image->Path,
                     (unsigned long)((ULONG_PTR)Address - image->Start));
    } else if (named) {
        snprintf(Buffer, Size, "%s+0x%lx", info.dli_sname, (unsigned long)((ULONG_PTR)Address - (ULONG_PTR)info.dli_saddr));
    } else {
        snprintf(Buffer, Size, "%p", Address);
    }
}

/* ---- interfaces ---------------------------------------------------------- */

VOID IopNoteInterfaceHandedOut(PDEVICE_OBJECT DeviceObject, PDEVICE_OBJECT AnsweringDevice,
                               const GUID *InterfaceType, PINTERFACE Interface, NTSTATUS Status,
                               BOOLEAN NoOpReferences, PIRP Irp)
{
    (void)InterfaceType;
    (void)Interface;
    (void)Irp;
    DbgPrint("ntsim pnp: interface handed out by device %p (answered by %p): %s%s\n", (void *)DeviceObject,
             (void *)AnsweringDevice, NtsimStatusName(Status), NoOpReferences ? ", no-op reference functions" : "");
}

/*
 * The device the QUERY_INTERFACE at Current was sent to: the highest stack
 * location above it that still holds the same request (IRP_MJ_PNP,
 * IRP_MN_QUERY_INTERFACE, a device); Current's own device when none does.
 */
static PDEVICE_OBJECT IopQueriedDevice(PIRP Irp, PIO_STACK_LOCATION Current)
{
    PDEVICE_OBJECT queried = Current->DeviceObject;
    PIO_STACK_LOCATION top = Current + (Irp->StackCount - Irp->CurrentLocation);
    for (PIO_STACK_LOCATION sp = Current + 1; sp <= top; sp++)
        if (sp->MajorFunction == IRP_MJ_PNP && sp->MinorFunction == IRP_MN_QUERY_INTERFACE && sp->DeviceObject)
            queried = sp->DeviceObject;
    return queried;
}

VOID IopNoteInterfaceCompletion(PIRP Irp)
{
    if (Irp->CurrentLocation < 1 || Irp->CurrentLocation > Irp->StackCount || !NT_SUCCESS(Irp->IoStatus.Status))
        return;
    PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(Irp);
    PINTERFACE iface = sp->Parameters.QueryInterface.Interface;
    if (sp->MajorFunction != IRP_MJ_PNP || sp->MinorFunction != IRP_MN_QUERY_INTERFACE || !iface ||
        !sp->DeviceObject)
        return;
    BOOLEAN noOp = iface->InterfaceReference == WdfDeviceInterfaceReferenceNoOp; /* nothing keeps the exporter */
    IopNoteInterfaceHandedOut(IopQueriedDevice(Irp, sp), sp->DeviceObject, sp->Parameters.QueryInterface.InterfaceType,
                              iface, Irp->IoStatus.Status, noOp, Irp); /* the exported note: a tracer sees it */
}

VOID WdfDeviceInterfaceReferenceNoOp(PVOID Context)
{
    (void)Context; /* the hand-out itself is noted on the IRP's completion (IopNoteInterfaceCompletion) */
}

VOID WdfDeviceInterfaceDereferenceNoOp(PVOID Context)
{
    (void)Context;
}
