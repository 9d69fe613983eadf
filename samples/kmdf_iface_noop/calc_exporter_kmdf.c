/*
 * calc_exporter_kmdf.c - the NTDEV seed's DrvA as a KMDF driver: a
 * function driver that exports the driver-defined "calculator" interface
 * (samples/iface_noop/calc.h) with WdfDeviceAddQueryInterface and the KMDF
 * no-op reference functions. The framework answers IRP_MN_QUERY_INTERFACE
 * from a copy of the interface; nothing counts the interface, so nothing
 * stops the device from being removed - and the image from being unmapped -
 * while a driver in another stack (the WDM importer of iface_noop) still
 * holds the interface's function pointers.
 */
#include <wdf.h>
#include <wdfnoop.h>
#include "../iface_noop/calc.h"

typedef struct _CALC_CONTEXT {
    ULONG Calls;
} CALC_CONTEXT;
WDF_DECLARE_CONTEXT_TYPE_WITH_NAME(CALC_CONTEXT, CalcGetContext)

DRIVER_INITIALIZE DriverEntry;
EVT_WDF_DRIVER_DEVICE_ADD CalcEvtDeviceAdd;

static ULONG CalcAdd(PVOID Context, ULONG A, ULONG B)
{
    CalcGetContext((WDFDEVICE)Context)->Calls++;
    return A + B;
}

NTSTATUS CalcEvtDeviceAdd(WDFDRIVER Driver, PWDFDEVICE_INIT DeviceInit)
{
    (void)Driver;
    WDF_OBJECT_ATTRIBUTES attributes;
    WDFDEVICE device;
    WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE(&attributes, CALC_CONTEXT);
    NTSTATUS status = WdfDeviceCreate(&DeviceInit, &attributes, &device);
    if (!NT_SUCCESS(status))
        return status;
    status = WdfDeviceCreateDeviceInterface(device, &GUID_DEVINTERFACE_CALC, NULL);
    if (!NT_SUCCESS(status))
        return status;
    CALC_INTERFACE calc;
    RtlZeroMemory(&calc, sizeof(calc));
    calc.InterfaceHeader.Size = sizeof(calc);
    calc.InterfaceHeader.Version = 1;
    calc.InterfaceHeader.Context = device;
    /* BUG: no-op reference counting on an interface handed to drivers of other stacks. */
    calc.InterfaceHeader.InterfaceReference = WdfDeviceInterfaceReferenceNoOp;
    calc.InterfaceHeader.InterfaceDereference = WdfDeviceInterfaceDereferenceNoOp;
    calc.Add = CalcAdd;
    WDF_QUERY_INTERFACE_CONFIG config;
    WDF_QUERY_INTERFACE_CONFIG_INIT(&config, (PINTERFACE)&calc, &GUID_CALC_INTERFACE, NULL);
    return WdfDeviceAddQueryInterface(device, &config);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    WDF_DRIVER_CONFIG config;
    WDF_DRIVER_CONFIG_INIT(&config, CalcEvtDeviceAdd);
    return WdfDriverCreate(DriverObject, RegistryPath, WDF_NO_OBJECT_ATTRIBUTES, &config, WDF_NO_HANDLE);
}
