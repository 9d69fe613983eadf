/*
 * calc_exporter_kmdf_counted.c - the fixed twin of kmdf_iface_noop's KMDF
 * exporter: the interface it adds with WdfDeviceAddQueryInterface has
 * reference functions that count the requesters holding it, and its
 * EvtDeviceQueryRemove fails while one does, so the device (and the image)
 * cannot go while a driver of another stack still holds the interface.
 */
#include <wdf.h>
#include "../iface_noop/calc.h"

typedef struct _CALC_CONTEXT {
    ULONG Calls;
    LONG Holders; /* interface references outstanding */
} CALC_CONTEXT;
WDF_DECLARE_CONTEXT_TYPE_WITH_NAME(CALC_CONTEXT, CalcGetContext)

DRIVER_INITIALIZE DriverEntry;
EVT_WDF_DRIVER_DEVICE_ADD CalcEvtDeviceAdd;
EVT_WDF_DEVICE_QUERY_REMOVE CalcEvtDeviceQueryRemove;

static VOID CalcInterfaceReference(PVOID Context)
{
    InterlockedIncrement(&CalcGetContext((WDFDEVICE)Context)->Holders);
}

static VOID CalcInterfaceDereference(PVOID Context)
{
    InterlockedDecrement(&CalcGetContext((WDFDEVICE)Context)->Holders);
}

/* The device may not go while a requester holds the interface. */
NTSTATUS CalcEvtDeviceQueryRemove(WDFDEVICE Device)
{
    return CalcGetContext(Device)->Holders ? STATUS_UNSUCCESSFUL : STATUS_SUCCESS;
}

static ULONG CalcAdd(PVOID Context, ULONG A, ULONG B)
{
    CalcGetContext((WDFDEVICE)Context)->Calls++;
    return A + B;
}

NTSTATUS CalcEvtDeviceAdd(WDFDRIVER Driver, PWDFDEVICE_INIT DeviceInit)
{
    (void)Driver;
    WDF_OBJECT_ATTRIBUTES attributes;
    WDF_PNPPOWER_EVENT_CALLBACKS pnp;
    WDFDEVICE device;
    WDF_PNPPOWER_EVENT_CALLBACKS_INIT(&pnp);
    pnp.EvtDeviceQueryRemove = CalcEvtDeviceQueryRemove;
    WdfDeviceInitSetPnpPowerEventCallbacks(DeviceInit, &pnp);
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
    calc.InterfaceHeader.InterfaceReference = CalcInterfaceReference;
    calc.InterfaceHeader.InterfaceDereference = CalcInterfaceDereference;
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
