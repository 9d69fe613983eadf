/*
 * wdfnoop.h - the two KMDF reference functions for driver-defined
 * interfaces that "do not require reference counts", usable from WDM
 * drivers of the simulation: an exporter answering IRP_MN_QUERY_INTERFACE
 * may put them in INTERFACE.InterfaceReference / InterfaceDereference.
 *
 * They do nothing (nt-semantics §9): an interface handed out with them to a
 * driver in ANOTHER device stack keeps nothing alive, so the exporter can be
 * removed and its image unmapped while the importer still holds function
 * pointers into it. The simulation records the hand-out (the no-op
 * reference is called by the exporter before it returns the interface) and
 * catches a later call into the unmapped image as bug check 0xCE.
 */
#ifndef NTSIM_WDFNOOP_H
#define NTSIM_WDFNOOP_H

#include "wdm.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The no-op InterfaceReference: counts nothing. Context is the interface's
 * Context; the simulation notes the hand-out (IopNoteInterfaceHandedOut with
 * NoOpReferences TRUE), attributing it to the device whose extension (or
 * object) Context designates when it can find one.
 */
NTKERNELAPI VOID WdfDeviceInterfaceReferenceNoOp(PVOID Context);
/* The no-op InterfaceDereference: counts nothing. */
NTKERNELAPI VOID WdfDeviceInterfaceDereferenceNoOp(PVOID Context);

#ifdef __cplusplus
}
#endif

#endif /* NTSIM_WDFNOOP_H */
