/*
 * pnp_property.c - IoGetDeviceProperty: the Plug and Play properties of a
 * devnode that a driver reads through its PDO.
 *
 * A simulated device has no INF, so only what the PnP manager itself knows
 * is answered: the hardware id (also standing in for the INF's device
 * description), the PDO's name and the enumerator. Every other property is
 * absent, which drivers handle because an INF may leave it out
 * (STATUS_OBJECT_NAME_NOT_FOUND, D:IoGetDeviceProperty).
 */
#include <string.h>

#include "ntsim_internal.h"
#include "pnp_internal.h"

/* The UTF-16 text of a property, with one NUL (or two for a REG_MULTI_SZ), into the caller's buffer. */
static NTSTATUS PipReturnText(const char *Text, BOOLEAN MultiSz, ULONG BufferLength, PVOID Buffer,
                              PULONG ResultLength)
{
    UNICODE_STRING wide;
    if (!RtlpUtf8ToUnicode(Text, &wide))
        return STATUS_INSUFFICIENT_RESOURCES;
    ULONG needed = wide.Length + (MultiSz ? 2u : 1u) * (ULONG)sizeof(WCHAR);
    *ResultLength = needed;
    NTSTATUS status = STATUS_BUFFER_TOO_SMALL;
    if (Buffer && BufferLength >= needed) {
        memset(Buffer, 0, needed);
        memcpy(Buffer, wide.Buffer, wide.Length);
        status = STATUS_SUCCESS;
    }
    RtlpFreeUnicode(&wide);
    return status;
}

/* The enumerator of a devnode: the first component of its instance path ("ROOT", the bus's id). */
static VOID PipEnumeratorName(PDEVICE_NODE Node, char *Buffer, size_t Size)
{
    const char *id = Node->InstanceId ? Node->InstanceId : "";
    size_t n = strcspn(id, "\\");
    if (n >= Size)
        n = Size - 1;
    memcpy(Buffer, id, n);
    Buffer[n] = 0;
}

NTSTATUS IoGetDeviceProperty(PDEVICE_OBJECT DeviceObject, DEVICE_REGISTRY_PROPERTY DeviceProperty,
                             ULONG BufferLength, PVOID PropertyBuffer, PULONG ResultLength)
{
    if (!ResultLength)
        return STATUS_INVALID_PARAMETER;
    *ResultLength = 0;
    PDEVICE_NODE node = IopIsDeviceObject(DeviceObject) ? PipGetDevnode(DeviceObject) : NULL;
    if (!node || node->PhysicalDeviceObject != DeviceObject)
        return STATUS_INVALID_DEVICE_REQUEST;
    char text[512];
    BOOLEAN multiSz = FALSE;
    pthread_mutex_lock(&PiTreeLock);
    switch (DeviceProperty) {
    case DevicePropertyHardwareID:
        multiSz = TRUE;
        /* fall through */
    case DevicePropertyDeviceDescription:
        snprintf(text, sizeof(text), "%s", node->HardwareId ? node->HardwareId : "");
        break;
    case DevicePropertyEnumeratorName:
        PipEnumeratorName(node, text, sizeof(text));
        break;
    case DevicePropertyPhysicalDeviceObjectName: {
        const char *name = OBJECT_TO_OBJECT_HEADER(DeviceObject)->Name;
        snprintf(text, sizeof(text), "%s", name ? name : "");
        break;
    }
    default:
        pthread_mutex_unlock(&PiTreeLock);
        return STATUS_OBJECT_NAME_NOT_FOUND;
    }
    pthread_mutex_unlock(&PiTreeLock);
    return PipReturnText(text, multiSz, BufferLength, PropertyBuffer, ResultLength);
}
