/*
 * bugcodes.h - the bug-check codes the simulated kernel raises, as in the
 * WDK's bugcodes.h. One X-macro table gives both the constants and their
 * names (NtsimBugCheckName in ntsim.h), so the kernel's STOP line, the
 * scenario runner and the analyzer name a code the same way.
 */
#ifndef NTSIM_BUGCODES_H
#define NTSIM_BUGCODES_H

/* X(name, code) */
#define NTSIM_BUGCHECK_CODES(X)                                        \
    X(IRQL_NOT_GREATER_OR_EQUAL, 0x00000009)                           \
    X(IRQL_NOT_LESS_OR_EQUAL, 0x0000000A)                              \
    X(MAXIMUM_WAIT_OBJECTS_EXCEEDED, 0x0000000C)                       \
    X(REFERENCE_BY_POINTER, 0x00000018)                                \
    X(NO_MORE_IRP_STACK_LOCATIONS, 0x00000035)                         \
    X(DEVICE_REFERENCE_COUNT_NOT_ZERO, 0x00000036)                     \
    X(MULTIPLE_IRP_COMPLETE_REQUESTS, 0x00000044)                      \
    X(ASSERTION_FAILURE, 0x00000074) /* simulation: RtlAssert */       \
    X(BAD_POOL_CALLER, 0x000000C2)                                     \
    X(DRIVER_VERIFIER_DETECTED_VIOLATION, 0x000000C4)                  \
    X(DRIVER_VERIFIER_IOMANAGER_VIOLATION, 0x000000C9)                 \
    X(PNP_DETECTED_FATAL_ERROR, 0x000000CA)                            \
    X(DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS, 0x000000CE) \
    X(MANUALLY_INITIATED_CRASH, 0x000000E2)                            \
    X(WDF_VIOLATION, 0x0000010D)                                       \
    X(INVALID_RUNDOWN_PROTECTION_FLAGS, 0x0000016C)

#define NTSIM_BUGCHECK_ENUM_(name, code) name = code,
enum ntsim_bugcheck_code { NTSIM_BUGCHECK_CODES(NTSIM_BUGCHECK_ENUM_) };
#undef NTSIM_BUGCHECK_ENUM_

#endif /* NTSIM_BUGCODES_H */
