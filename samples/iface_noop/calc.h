/*
 * calc.h - the driver-defined "calculator" interface of the iface samples:
 * its GUIDs and layout, shared by the exporters (samples/iface_noop/
 * calc_exporter.c, samples/iface_counted/calc_exporter_counted.c) and the
 * importer (samples/iface_noop/calc_importer.c).
 */
#ifndef CALC_H
#define CALC_H

#include <wdm.h>

/* {5D2A6BE4-1C3E-4E5A-9B1F-3C2D7A9E0F11} */
static const GUID GUID_CALC_INTERFACE = { 0x5d2a6be4, 0x1c3e, 0x4e5a, { 0x9b, 0x1f, 0x3c, 0x2d, 0x7a, 0x9e, 0x0f, 0x11 } };
/* {5D2A6BE5-1C3E-4E5A-9B1F-3C2D7A9E0F11} */
static const GUID GUID_DEVINTERFACE_CALC = { 0x5d2a6be5, 0x1c3e, 0x4e5a, { 0x9b, 0x1f, 0x3c, 0x2d, 0x7a, 0x9e, 0x0f, 0x11 } };

typedef ULONG CALC_ADD(PVOID Context, ULONG A, ULONG B);
typedef struct _CALC_INTERFACE {
    INTERFACE InterfaceHeader;
    CALC_ADD *Add;
} CALC_INTERFACE, *PCALC_INTERFACE;

#endif /* CALC_H */
