/*
 * toastmon.h - what the toastmon monitor samples share: the toaster
 * interface they watch, the monitor's device extension and its roles.
 *
 * The monitor of samples/pnp_notify_iface_leak (whose clean build is
 * samples/pnp_notify_iface_fixed) and the one of samples/pnp_notify_target_leak
 * plant different unload bugs in the same driver; each keeps its code in
 * its own file, so that the analyzer's verdicts point into it.
 */
#ifndef TOASTMON_H
#define TOASTMON_H

#include <wdm.h>
#include <wdmguid.h>

static const GUID GUID_DEVINTERFACE_TOASTER = { 0x781ef630, 0x72b2, 0x11d2,
                                                { 0xb8, 0x52, 0x00, 0xc0, 0x4f, 0xad, 0x51, 0x71 } };

typedef struct _MON_EXTENSION {
    PDEVICE_OBJECT NextLowerDriver;
    PVOID InterfaceNotification;
    PVOID TargetNotification;
    PFILE_OBJECT TargetFile;
} MON_EXTENSION, *PMON_EXTENSION;

DRIVER_INITIALIZE DriverEntry;
DRIVER_ADD_DEVICE MonAddDevice;
DRIVER_UNLOAD MonUnload;
DRIVER_DISPATCH MonDispatchPnp, MonDispatchPass;
DRIVER_NOTIFICATION_CALLBACK_ROUTINE MonInterfaceArrival, MonTargetChange;

#endif /* TOASTMON_H */
