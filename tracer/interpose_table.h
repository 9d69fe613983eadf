/*
 * interpose_table.h - every libntsim entry point libobtrace interposes,
 * one row each. interpose.c turns each row into an exported function that
 * forwards to the real one (dlsym(RTLD_NEXT), resolved once) and records
 * an event through the row's pre and post hooks.
 *
 *   R(ret, Name, (params), (args), op, pre, post)   returns a value
 *   V(ret, Name, (params), (args), op, pre, post)   returns void
 *   N(ret, Name, (params), (args), op, pre, post)   does not return
 *
 * pre runs before the call (e.g. to identify an object the call may free),
 * post after it with the return value. Hooks see the arguments as
 * uint64_t a[]. Adding an entry point is one row; the generic hooks
 * pre_obj0 / post_obj0_status / post_obj0 (first argument an object, an
 * NTSTATUS or nothing returned) fit most new points.
 */
#define OBT_INTERPOSERS(R, V, N)                                                                                \
    /* object manager */                                                                                        \
    R(LONG_PTR, ObfReferenceObject, (PVOID Object), (Object), OBT_OP_OBJ_REF, pre_obj0, post_count)             \
    R(LONG_PTR, ObfDereferenceObject, (PVOID Object), (Object), OBT_OP_OBJ_DEREF, pre_obj0, post_deref)         \
    R(LONG_PTR, ObfReferenceObjectWithTag, (PVOID Object, ULONG Tag), (Object, Tag), OBT_OP_OBJ_REF, pre_obj0,  \
      post_count_tag)                                                                                           \
    R(LONG_PTR, ObfDereferenceObjectWithTag, (PVOID Object, ULONG Tag), (Object, Tag), OBT_OP_OBJ_DEREF,        \
      pre_obj0, post_deref_tag)                                                                                 \
    V(VOID, ObDereferenceObjectDeferDelete, (PVOID Object), (Object), OBT_OP_OBJ_DEREF, pre_obj0_id,            \
      post_pointer_after)                                                                                       \
    V(VOID, ObDereferenceObjectDeferDeleteWithTag, (PVOID Object, ULONG Tag), (Object, Tag), OBT_OP_OBJ_DEREF,  \
      pre_obj0_id, post_pointer_after_tag)                                                                      \
    R(NTSTATUS, ObReferenceObjectByPointer,                                                                     \
      (PVOID Object, ACCESS_MASK DesiredAccess, POBJECT_TYPE ObjectType, KPROCESSOR_MODE AccessMode),           \
      (Object, DesiredAccess, ObjectType, AccessMode), OBT_OP_OBJ_REF, pre_obj0_id, post_pointer_status)        \
    R(NTSTATUS, ObReferenceObjectByHandle,                                                                      \
      (HANDLE Handle, ACCESS_MASK DesiredAccess, POBJECT_TYPE ObjectType, KPROCESSOR_MODE AccessMode,           \
       PVOID *Object, POBJECT_HANDLE_INFORMATION HandleInformation),                                            \
      (Handle, DesiredAccess, ObjectType, AccessMode, Object, HandleInformation), OBT_OP_OBJ_REF, pre_none,     \
      post_ref_by_handle)                                                                                       \
    V(VOID, ObMakeTemporaryObject, (PVOID Object), (Object), OBT_OP_OBJ_MAKE_TEMPORARY, pre_obj0_id,            \
      post_pointer_after)                                                                                       \
    R(NTSTATUS, ZwClose, (HANDLE Handle), (Handle), OBT_OP_HANDLE_CLOSE, pre_handle, post_handle_close)        \
    R(NTSTATUS, ObCreateObject,                                                                                 \
      (POBJECT_TYPE ObjectType, PCUNICODE_STRING ObjectName, ULONG Attributes, ULONG BodySize, PVOID *Object),  \
      (ObjectType, ObjectName, Attributes, BodySize, Object), OBT_OP_OBJ_CREATE, pre_none, post_create_object)  \
    R(NTSTATUS, ObOpenObjectByPointer,                                                                          \
      (PVOID Object, ULONG HandleAttributes, PVOID PassedAccessState, ACCESS_MASK DesiredAccess,                \
       POBJECT_TYPE ObjectType, KPROCESSOR_MODE AccessMode, PHANDLE Handle),                                    \
      (Object, HandleAttributes, PassedAccessState, DesiredAccess, ObjectType, AccessMode, Handle),             \
      OBT_OP_HANDLE_OPEN, pre_obj0, post_handle_open)                                                           \
    /* devices */                                                                                               \
    R(NTSTATUS, IoCreateDevice,                                                                                 \
      (PDRIVER_OBJECT DriverObject, ULONG DeviceExtensionSize, PUNICODE_STRING DeviceName,                      \
       DEVICE_TYPE DeviceType, ULONG DeviceCharacteristics, BOOLEAN Exclusive, PDEVICE_OBJECT *DeviceObject),   \
      (DriverObject, DeviceExtensionSize, DeviceName, DeviceType, DeviceCharacteristics, Exclusive,             \
       DeviceObject),                                                                                           \
      OBT_OP_DEV_CREATE, pre_none, post_create_device)                                                          \
    R(NTSTATUS, IoCreateDeviceSecure,                                                                           \
      (PDRIVER_OBJECT DriverObject, ULONG DeviceExtensionSize, PUNICODE_STRING DeviceName,                      \
       DEVICE_TYPE DeviceType, ULONG DeviceCharacteristics, BOOLEAN Exclusive,                                  \
       PCUNICODE_STRING DefaultSDDLString, LPCGUID DeviceClassGuid, PDEVICE_OBJECT *DeviceObject),              \
      (DriverObject, DeviceExtensionSize, DeviceName, DeviceType, DeviceCharacteristics, Exclusive,             \
       DefaultSDDLString, DeviceClassGuid, DeviceObject),                                                       \
      OBT_OP_DEV_CREATE, pre_none, post_create_device_secure)                                                   \
    V(VOID, IoDeleteDevice, (PDEVICE_OBJECT DeviceObject), (DeviceObject), OBT_OP_DEV_DELETE, pre_obj0_id,      \
      post_pointer_after)                                                                                       \
    R(PDEVICE_OBJECT, IoAttachDeviceToDeviceStack, (PDEVICE_OBJECT SourceDevice, PDEVICE_OBJECT TargetDevice),  \
      (SourceDevice, TargetDevice), OBT_OP_DEV_ATTACH, pre_none, post_attach)                                   \
    R(NTSTATUS, IoAttachDeviceToDeviceStackSafe,                                                                \
      (PDEVICE_OBJECT SourceDevice, PDEVICE_OBJECT TargetDevice, PDEVICE_OBJECT *AttachedToDeviceObject),       \
      (SourceDevice, TargetDevice, AttachedToDeviceObject), OBT_OP_DEV_ATTACH, pre_none, post_attach_safe)      \
    V(VOID, IoDetachDevice, (PDEVICE_OBJECT TargetDevice), (TargetDevice), OBT_OP_DEV_DETACH, pre_detach,       \
      post_obj0)                                                                                                \
    R(PDEVICE_OBJECT, IoGetAttachedDeviceReference, (PDEVICE_OBJECT DeviceObject), (DeviceObject),              \
      OBT_OP_OBJ_REF, pre_none, post_returned_reference)                                                        \
    R(PDEVICE_OBJECT, IoGetLowerDeviceObject, (PDEVICE_OBJECT DeviceObject), (DeviceObject), OBT_OP_OBJ_REF,    \
      pre_none, post_returned_reference)                                                                        \
    R(NTSTATUS, IoGetDeviceObjectPointer,                                                                       \
      (PUNICODE_STRING ObjectName, ACCESS_MASK DesiredAccess, PFILE_OBJECT *FileObject,                         \
       PDEVICE_OBJECT *DeviceObject),                                                                           \
      (ObjectName, DesiredAccess, FileObject, DeviceObject), OBT_OP_OBJ_REF, pre_none, post_device_pointer)     \
    R(NTSTATUS, IoCreateSymbolicLink, (PUNICODE_STRING SymbolicLinkName, PUNICODE_STRING DeviceName),           \
      (SymbolicLinkName, DeviceName), OBT_OP_SYMLINK_CREATE, pre_none, post_symlink)                            \
    R(NTSTATUS, IoDeleteSymbolicLink, (PUNICODE_STRING SymbolicLinkName), (SymbolicLinkName),                   \
      OBT_OP_SYMLINK_DELETE, pre_none, post_symlink)                                                            \
    R(NTSTATUS, IoRegisterShutdownNotification, (PDEVICE_OBJECT DeviceObject), (DeviceObject),                  \
      OBT_OP_SHUTDOWN_REGISTER, pre_obj0_id, post_pointer_status)                                               \
    V(VOID, IoUnregisterShutdownNotification, (PDEVICE_OBJECT DeviceObject), (DeviceObject),                    \
      OBT_OP_SHUTDOWN_UNREGISTER, pre_obj0_id, post_pointer_after)                                              \
    /* IRPs */                                                                                                  \
    R(NTSTATUS, IofCallDriver, (PDEVICE_OBJECT DeviceObject, PIRP Irp), (DeviceObject, Irp), OBT_OP_IRP_CALL,   \
      pre_call_driver, post_obj0_status)                                                                        \
    V(VOID, IofCompleteRequest, (PIRP Irp, CCHAR PriorityBoost), (Irp, PriorityBoost), OBT_OP_IRP_COMPLETE,     \
      pre_complete_request, post_emit)                                                                          \
    /* IRP allocation, building, freeing (hooks: interpose_irp.c) */                                            \
    R(PIRP, IoAllocateIrp, (CCHAR StackSize, BOOLEAN ChargeQuota), (StackSize, ChargeQuota), OBT_OP_IRP_ALLOC,  \
      obt_irp_pre_none, obt_irp_post_alloc)                                                                     \
    V(VOID, IoInitializeIrp, (PIRP Irp, USHORT PacketSize, CCHAR StackSize), (Irp, PacketSize, StackSize),      \
      OBT_OP_IRP_ALLOC, obt_irp_pre_none, obt_irp_post_initialize)                                              \
    R(PIRP, IoBuildDeviceIoControlRequest,                                                                      \
      (ULONG IoControlCode, PDEVICE_OBJECT DeviceObject, PVOID InputBuffer, ULONG InputBufferLength,            \
       PVOID OutputBuffer, ULONG OutputBufferLength, BOOLEAN InternalDeviceIoControl, PKEVENT Event,            \
       PIO_STATUS_BLOCK IoStatusBlock),                                                                         \
      (IoControlCode, DeviceObject, InputBuffer, InputBufferLength, OutputBuffer, OutputBufferLength,           \
       InternalDeviceIoControl, Event, IoStatusBlock),                                                          \
      OBT_OP_IRP_BUILD, obt_irp_pre_none, obt_irp_post_build_ioctl)                                             \
    R(PIRP, IoBuildSynchronousFsdRequest,                                                                       \
      (ULONG MajorFunction, PDEVICE_OBJECT DeviceObject, PVOID Buffer, ULONG Length,                            \
       PLARGE_INTEGER StartingOffset, PKEVENT Event, PIO_STATUS_BLOCK IoStatusBlock),                           \
      (MajorFunction, DeviceObject, Buffer, Length, StartingOffset, Event, IoStatusBlock), OBT_OP_IRP_BUILD,     \
      obt_irp_pre_none, obt_irp_post_build_fsd)                                                                 \
    V(VOID, IoFreeIrp, (PIRP Irp), (Irp), OBT_OP_IRP_FREE, obt_irp_pre_free, obt_irp_post_free)                 \
    /* pool */                                                                                                  \
    R(PVOID, ExAllocatePoolWithTag, (POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag),                      \
      (PoolType, NumberOfBytes, Tag), OBT_OP_POOL_ALLOC, pre_none, post_pool_alloc)                             \
    R(PVOID, ExAllocatePool2, (POOL_FLAGS Flags, SIZE_T NumberOfBytes, ULONG Tag), (Flags, NumberOfBytes, Tag), \
      OBT_OP_POOL_ALLOC, pre_none, post_pool_alloc)                                                             \
    R(PVOID, ExAllocatePoolZero, (POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag),                         \
      (PoolType, NumberOfBytes, Tag), OBT_OP_POOL_ALLOC, pre_none, post_pool_alloc)                             \
    V(VOID, ExFreePoolWithTag, (PVOID P, ULONG Tag), (P, Tag), OBT_OP_POOL_FREE, pre_pool, post_pool_free_tag)  \
    V(VOID, ExFreePool, (PVOID P), (P), OBT_OP_POOL_FREE, pre_pool, post_pool_free)                             \
    /* work items */                                                                                            \
    R(PIO_WORKITEM, IoAllocateWorkItem, (PDEVICE_OBJECT DeviceObject), (DeviceObject), OBT_OP_WORKITEM_ALLOC,   \
      pre_none, post_workitem_alloc)                                                                            \
    V(VOID, IoQueueWorkItem,                                                                                    \
      (PIO_WORKITEM IoWorkItem, PIO_WORKITEM_ROUTINE WorkerRoutine, WORK_QUEUE_TYPE QueueType, PVOID Context),  \
      (IoWorkItem, WorkerRoutine, QueueType, Context), OBT_OP_WORKITEM_QUEUE, pre_workitem, post_workitem)      \
    V(VOID, IoFreeWorkItem, (PIO_WORKITEM IoWorkItem), (IoWorkItem), OBT_OP_WORKITEM_FREE, pre_workitem,        \
      post_workitem_free)                                                                                       \
    /* waits and bug checks */                                                                                  \
    R(NTSTATUS, KeWaitForSingleObject,                                                                          \
      (PVOID Object, KWAIT_REASON WaitReason, KPROCESSOR_MODE WaitMode, BOOLEAN Alertable,                      \
       PLARGE_INTEGER Timeout),                                                                                 \
      (Object, WaitReason, WaitMode, Alertable, Timeout), OBT_OP_WAIT_BEGIN, pre_wait_begin, post_wait_end)     \
    N(VOID, KeBugCheckEx,                                                                                       \
      (ULONG BugCheckCode, ULONG_PTR BugCheckParameter1, ULONG_PTR BugCheckParameter2,                          \
       ULONG_PTR BugCheckParameter3, ULONG_PTR BugCheckParameter4),                                             \
      (BugCheckCode, BugCheckParameter1, BugCheckParameter2, BugCheckParameter3, BugCheckParameter4),           \
      OBT_OP_BUGCHECK, pre_bugcheck, post_none)                                                                 \
    N(VOID, KeBugCheck, (ULONG BugCheckCode), (BugCheckCode), OBT_OP_BUGCHECK, pre_bugcheck, post_none)         \
    V(VOID, KiReportStuckWait, (PVOID Object, const char *What, ULONG WaitedMs), (Object, What, WaitedMs),      \
      OBT_OP_WAIT_STUCK, pre_stuck_wait, post_none)                                                             \
    /* PnP notifications */                                                                                     \
    R(NTSTATUS, IoRegisterPlugPlayNotification,                                                                 \
      (IO_NOTIFICATION_EVENT_CATEGORY EventCategory, ULONG EventCategoryFlags, PVOID EventCategoryData,         \
       PDRIVER_OBJECT DriverObject, PDRIVER_NOTIFICATION_CALLBACK_ROUTINE CallbackRoutine, PVOID Context,       \
       PVOID *NotificationEntry),                                                                               \
      (EventCategory, EventCategoryFlags, EventCategoryData, DriverObject, CallbackRoutine, Context,             \
       NotificationEntry),                                                                                      \
      OBT_OP_NOTIFY_REGISTER, pre_none, post_notify_register)                                                   \
    R(NTSTATUS, IoUnregisterPlugPlayNotification, (PVOID NotificationEntry), (NotificationEntry),               \
      OBT_OP_NOTIFY_UNREGISTER, pre_notify_unregister, post_notify_unregister)                                  \
    R(NTSTATUS, IoUnregisterPlugPlayNotificationEx, (PVOID NotificationEntry), (NotificationEntry),             \
      OBT_OP_NOTIFY_UNREGISTER, pre_notify_unregister, post_notify_unregister)                                  \
    /* remove locks and run-down protection */                                                                  \
    V(VOID, IoInitializeRemoveLockEx,                                                                           \
      (PIO_REMOVE_LOCK Lock, ULONG AllocateTag, ULONG MaxLockedMinutes, ULONG HighWatermark, ULONG RemlockSize),\
      (Lock, AllocateTag, MaxLockedMinutes, HighWatermark, RemlockSize), OBT_OP_REMLOCK_INIT, obt_irp_pre_none, \
      obt_irp_post_remlock_init)                                                                                \
    R(NTSTATUS, IoAcquireRemoveLockEx,                                                                          \
      (PIO_REMOVE_LOCK RemoveLock, PVOID Tag, PCSTR File, ULONG Line, ULONG RemlockSize),                       \
      (RemoveLock, Tag, File, Line, RemlockSize), OBT_OP_REMLOCK_ACQUIRE, pre_none, post_remlock_acquire)       \
    V(VOID, IoReleaseRemoveLockEx, (PIO_REMOVE_LOCK RemoveLock, PVOID Tag, ULONG RemlockSize),                  \
      (RemoveLock, Tag, RemlockSize), OBT_OP_REMLOCK_RELEASE, pre_none, post_remlock)                           \
    V(VOID, IoReleaseRemoveLockAndWaitEx, (PIO_REMOVE_LOCK RemoveLock, PVOID Tag, ULONG RemlockSize),           \
      (RemoveLock, Tag, RemlockSize), OBT_OP_REMLOCK_WAIT, pre_remlock_wait, post_wait_done)                    \
    R(BOOLEAN, ExAcquireRundownProtection, (PEX_RUNDOWN_REF RunRef), (RunRef), OBT_OP_RUNDOWN_ACQUIRE,          \
      pre_none, post_rundown_acquire)                                                                           \
    R(BOOLEAN, ExAcquireRundownProtectionEx, (PEX_RUNDOWN_REF RunRef, ULONG Count), (RunRef, Count),            \
      OBT_OP_RUNDOWN_ACQUIRE, pre_none, post_rundown_acquire)                                                   \
    V(VOID, ExReleaseRundownProtection, (PEX_RUNDOWN_REF RunRef), (RunRef), OBT_OP_RUNDOWN_RELEASE, pre_none,   \
      post_rundown_release)                                                                                     \
    V(VOID, ExReleaseRundownProtectionEx, (PEX_RUNDOWN_REF RunRef, ULONG Count), (RunRef, Count),               \
      OBT_OP_RUNDOWN_RELEASE, pre_none, post_rundown_release)                                                   \
    V(VOID, ExWaitForRundownProtectionRelease, (PEX_RUNDOWN_REF RunRef), (RunRef), OBT_OP_RUNDOWN_WAIT,         \
      pre_rundown_wait, post_wait_done)                                                                         \
    /* I/O manager internals: device ReferenceCount */                                                          \
    R(LONG, IopReferenceDeviceObject, (PDEVICE_OBJECT DeviceObject), (DeviceObject), OBT_OP_DEV_OPEN_REF,       \
      pre_obj0, post_count)                                                                                     \
    R(LONG, IopDereferenceDeviceObject, (PDEVICE_OBJECT DeviceObject), (DeviceObject), OBT_OP_DEV_OPEN_DEREF,   \
      pre_obj0, post_count)                                                                                     \
    /* image loader and driver lifecycle */                                                                     \
    R(NTSTATUS, MmLoadSystemImage, (const char *ImagePath, PVOID *ImageHandle, PVOID *ImageBase),               \
      (ImagePath, ImageHandle, ImageBase), OBT_OP_IMAGE_LOAD, pre_none, post_image_load)                        \
    R(NTSTATUS, MmUnloadSystemImage, (PVOID ImageHandle), (ImageHandle), OBT_OP_IMAGE_UNLOAD, pre_image_unload, \
      post_image_unload)                                                                                        \
    R(NTSTATUS, ZwLoadDriver, (PUNICODE_STRING DriverServiceName), (DriverServiceName), OBT_OP_SERVICE_START,   \
      pre_none, post_service)                                                                                   \
    R(NTSTATUS, ZwUnloadDriver, (PUNICODE_STRING DriverServiceName), (DriverServiceName), OBT_OP_SERVICE_STOP,  \
      pre_none, post_service)                                                                                   \
    R(NTSTATUS, IopCallDriverEntry, (PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath),                \
      (DriverObject, RegistryPath), OBT_OP_DRIVER_ENTRY, pre_obj0, post_driver_entry)                           \
    V(VOID, IopCallDriverUnload, (PDRIVER_OBJECT DriverObject), (DriverObject), OBT_OP_DRIVER_UNLOAD,           \
      pre_driver_unload, post_none)                                                                             \
    V(VOID, IopCallWorkItemRoutine,                                                                             \
      (PIO_WORKITEM IoWorkItem, PDEVICE_OBJECT DeviceObject, PIO_WORKITEM_ROUTINE Routine,                      \
       PIO_WORKITEM_ROUTINE_EX RoutineEx, PVOID Context),                                                       \
      (IoWorkItem, DeviceObject, Routine, RoutineEx, Context), OBT_OP_WORKITEM_RUN, pre_workitem_run, post_none) \
    V(VOID, IopNoteDriverUnloadWrite,                                                                           \
      (PDRIVER_OBJECT DriverObject, PDRIVER_UNLOAD OldRoutine, PDRIVER_UNLOAD NewRoutine),                      \
      (DriverObject, OldRoutine, NewRoutine), OBT_OP_UNLOAD_WRITE, pre_obj0, post_unload_write)                 \
    /* PnP manager notes, interfaces, remove-lock misuse (hooks: interpose_pnp.c) */                            \
    V(VOID, PipNotePnpIrpSent,                                                                                  \
      (PDEVICE_OBJECT DeviceObject, PDEVICE_OBJECT PhysicalDeviceObject, UCHAR MinorFunction, ULONG Parameter), \
      (DeviceObject, PhysicalDeviceObject, MinorFunction, Parameter), OBT_OP_PNP_EVENT, obt_pnp_pre_none,       \
      obt_pnp_post_irp_sent)                                                                                    \
    V(VOID, PipNotePnpIrpCompleted, (PDEVICE_OBJECT PhysicalDeviceObject, UCHAR MinorFunction, NTSTATUS Status),\
      (PhysicalDeviceObject, MinorFunction, Status), OBT_OP_PNP_IRP_DONE, obt_pnp_pre_none,                     \
      obt_pnp_post_irp_done)                                                                                    \
    V(VOID, PipNoteVeto,                                                                                        \
      (PDEVICE_OBJECT PhysicalDeviceObject, PDEVICE_OBJECT VetoingDevice, ULONG VetoType, const char *VetoName),\
      (PhysicalDeviceObject, VetoingDevice, VetoType, VetoName), OBT_OP_VETO, obt_pnp_pre_none,                 \
      obt_pnp_post_veto)                                                                                        \
    V(VOID, PipNoteDevnodeState,                                                                                \
      (PDEVICE_OBJECT PhysicalDeviceObject, const char *InstanceId, ULONG OldState, ULONG NewState),            \
      (PhysicalDeviceObject, InstanceId, OldState, NewState), OBT_OP_DEVNODE_STATE, obt_pnp_pre_none,           \
      obt_pnp_post_devnode_state)                                                                               \
    V(VOID, IopNoteInterfaceHandedOut,                                                                          \
      (PDEVICE_OBJECT DeviceObject, PDEVICE_OBJECT AnsweringDevice, const GUID *InterfaceType,                  \
       PINTERFACE Interface, NTSTATUS Status, BOOLEAN NoOpReferences, PIRP Irp),                                \
      (DeviceObject, AnsweringDevice, InterfaceType, Interface, Status, NoOpReferences, Irp),                   \
      OBT_OP_INTERFACE_QUERY, obt_pnp_pre_none, obt_pnp_post_interface)                                         \
    V(VOID, IopReportRemoveLockMisuse,                                                                          \
      (PIO_REMOVE_LOCK Lock, ULONG Kind, PVOID Tag, PCSTR File, ULONG Line, ULONG64 Value),                     \
      (Lock, Kind, Tag, File, Line, Value), OBT_OP_REMLOCK_MISUSE, obt_pnp_pre_none,                            \
      obt_pnp_post_remlock_misuse)                                                                              \
    /* host action marks */                                                                                     \
    V(VOID, NtsimNoteHostAction, (const char *Where, const char *What), (Where, What), OBT_OP_HOST_ACTION,      \
      obt_pnp_pre_none, obt_pnp_post_host_action)                                                               \
    /* host requests that start work on the system thread or change device state: HOST_ACTION with a stack */  \
    R(NTSTATUS, NtsimStartService, (const char *ServiceName), (ServiceName), OBT_OP_HOST_ACTION,                \
      obt_pnp_pre_request_start, obt_pnp_post_none)                                                             \
    R(NTSTATUS, NtsimStopService, (const char *ServiceName), (ServiceName), OBT_OP_HOST_ACTION,                 \
      obt_pnp_pre_request_stop, obt_pnp_post_none)                                                              \
    R(NTSTATUS, NtsimPlugDevice, (const char *HardwareId, const char *InstanceId), (HardwareId, InstanceId),   \
      OBT_OP_HOST_ACTION, obt_pnp_pre_request_plug, obt_pnp_post_none)                                          \
    R(NTSTATUS, NtsimUnplugDevice, (const char *InstanceId), (InstanceId), OBT_OP_HOST_ACTION,                  \
      obt_pnp_pre_request_unplug, obt_pnp_post_none)                                                            \
    R(NTSTATUS, NtsimDisableDevice, (const char *InstanceId, PNTSIM_VETO Veto), (InstanceId, Veto),             \
      OBT_OP_HOST_ACTION, obt_pnp_pre_request_disable, obt_pnp_post_none)                                       \
    R(NTSTATUS, NtsimEnableDevice, (const char *InstanceId), (InstanceId), OBT_OP_HOST_ACTION,                  \
      obt_pnp_pre_request_enable, obt_pnp_post_none)                                                            \
    R(NTSTATUS, NtsimEjectDevice, (const char *InstanceId, PNTSIM_VETO Veto), (InstanceId, Veto),               \
      OBT_OP_HOST_ACTION, obt_pnp_pre_request_eject, obt_pnp_post_none)                                         \
    /* tagged references, Ex variants */                                                                        \
    R(NTSTATUS, ObReferenceObjectByPointerWithTag,                                                              \
      (PVOID Object, ACCESS_MASK DesiredAccess, POBJECT_TYPE ObjectType, KPROCESSOR_MODE AccessMode, ULONG Tag),\
      (Object, DesiredAccess, ObjectType, AccessMode, Tag), OBT_OP_OBJ_REF, obt_pnp_pre_ref_pointer,            \
      obt_pnp_post_ref_pointer_tag)                                                                             \
    R(NTSTATUS, ObReferenceObjectByHandleWithTag,                                                               \
      (HANDLE Handle, ACCESS_MASK DesiredAccess, POBJECT_TYPE ObjectType, KPROCESSOR_MODE AccessMode, ULONG Tag,\
       PVOID *Object, POBJECT_HANDLE_INFORMATION HandleInformation),                                            \
      (Handle, DesiredAccess, ObjectType, AccessMode, Tag, Object, HandleInformation), OBT_OP_OBJ_REF,          \
      obt_pnp_pre_none, obt_pnp_post_ref_handle_tag)                                                            \
    R(NTSTATUS, IoSetCompletionRoutineEx,                                                                       \
      (PDEVICE_OBJECT DeviceObject, PIRP Irp, PIO_COMPLETION_ROUTINE CompletionRoutine, PVOID Context,          \
       BOOLEAN InvokeOnSuccess, BOOLEAN InvokeOnError, BOOLEAN InvokeOnCancel),                                 \
      (DeviceObject, Irp, CompletionRoutine, Context, InvokeOnSuccess, InvokeOnError, InvokeOnCancel),          \
      OBT_OP_OBJ_REF, obt_pnp_pre_none, obt_pnp_post_completion_ex)                                             \
    V(VOID, IoQueueWorkItemEx,                                                                                  \
      (PIO_WORKITEM IoWorkItem, PIO_WORKITEM_ROUTINE_EX WorkerRoutine, WORK_QUEUE_TYPE QueueType,               \
       PVOID Context),                                                                                          \
      (IoWorkItem, WorkerRoutine, QueueType, Context), OBT_OP_WORKITEM_QUEUE, pre_workitem, post_workitem)      \
    R(NTSTATUS, KeWaitForMultipleObjects,                                                                       \
      (ULONG Count, PVOID Object[], WAIT_TYPE WaitType, KWAIT_REASON WaitReason, KPROCESSOR_MODE WaitMode,      \
       BOOLEAN Alertable, PLARGE_INTEGER Timeout, PKWAIT_BLOCK WaitBlockArray),                                 \
      (Count, Object, WaitType, WaitReason, WaitMode, Alertable, Timeout, WaitBlockArray), OBT_OP_WAIT_BEGIN,   \
      obt_pnp_pre_wait_multiple, obt_pnp_post_wait_multiple)                                                    \
    /* KMDF objects */                                                                                          \
    V(VOID, FxObjectCreated, (PVOID Object), (Object), OBT_OP_WDF_CREATE, obt_pnp_pre_none,                    \
      obt_wdf_post_created)                                                                                     \
    V(VOID, WdfObjectReferenceActual, (WDFOBJECT Handle, PVOID Tag, LONG Line, PCHAR File),                    \
      (Handle, Tag, Line, File), OBT_OP_WDF_REF, obt_wdf_pre_object, obt_wdf_post_reference)                    \
    V(VOID, WdfObjectDereferenceActual, (WDFOBJECT Handle, PVOID Tag, LONG Line, PCHAR File),                  \
      (Handle, Tag, Line, File), OBT_OP_WDF_DEREF, obt_wdf_pre_object, obt_wdf_post_reference)                  \
    V(VOID, FxCallCleanup, (PVOID Object, PVOID Cleanup), (Object, Cleanup), OBT_OP_WDF_CLEANUP,              \
      obt_wdf_pre_cleanup, obt_wdf_post_none)                                                                   \
    R(LONG, FxReleaseCreation, (PVOID Object, ULONG Why), (Object, Why), OBT_OP_WDF_DELETE, obt_wdf_pre_object, \
      obt_wdf_post_delete)                                                                                      \
    V(VOID, FxDestroyObject, (PVOID Object, PVOID Destroy), (Object, Destroy), OBT_OP_WDF_DESTROY,            \
      obt_wdf_pre_object, obt_wdf_post_destroy)                                                                 \
    R(NTSTATUS, WdfIoTargetOpen, (WDFIOTARGET IoTarget, PWDF_IO_TARGET_OPEN_PARAMS OpenParams),               \
      (IoTarget, OpenParams), OBT_OP_WDF_IOTARGET_OPEN, obt_wdf_pre_object, obt_wdf_post_target_open)           \
    V(VOID, FxCloseIoTarget, (PVOID IoTarget, ULONG Why), (IoTarget, Why), OBT_OP_WDF_IOTARGET_CLOSE,         \
      obt_wdf_pre_target_close, obt_wdf_post_target_close)
