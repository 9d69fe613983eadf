/*
 * ntintsafe.h - the WDK's overflow-checked integer arithmetic: each
 * routine stores the result and returns STATUS_SUCCESS, or stores an
 * error value (all ones) and returns STATUS_INTEGER_OVERFLOW. Inline, as
 * in the WDK.
 */
#ifndef NTSIM_NTINTSAFE_H
#define NTSIM_NTINTSAFE_H

#include <limits.h>

#include "wdm.h"

/* Windows is LLP64: long, and so LONG_MAX and ULONG_MAX, are 32 bits, as ULONG is here. */
#undef LONG_MAX
#undef LONG_MIN
#undef ULONG_MAX
#define LONG_MAX 2147483647L
#define LONG_MIN (-LONG_MAX - 1L)
#define ULONG_MAX 0xffffffffUL

#define NTINTSAFE_OP_(Name, Type, Op)                                          \
    static inline NTSTATUS Name(Type Augend, Type Addend, Type *Result)       \
    {                                                                          \
        if (__builtin_##Op##_overflow(Augend, Addend, Result)) {               \
            *Result = (Type)~(Type)0;                                          \
            return STATUS_INTEGER_OVERFLOW;                                    \
        }                                                                      \
        return STATUS_SUCCESS;                                                 \
    }

NTINTSAFE_OP_(RtlUShortAdd, USHORT, add)
NTINTSAFE_OP_(RtlUShortSub, USHORT, sub)
NTINTSAFE_OP_(RtlUShortMult, USHORT, mul)
NTINTSAFE_OP_(RtlULongAdd, ULONG, add)
NTINTSAFE_OP_(RtlULongSub, ULONG, sub)
NTINTSAFE_OP_(RtlULongMult, ULONG, mul)
NTINTSAFE_OP_(RtlULongPtrAdd, ULONG_PTR, add)
NTINTSAFE_OP_(RtlULongPtrSub, ULONG_PTR, sub)
NTINTSAFE_OP_(RtlULongPtrMult, ULONG_PTR, mul)
NTINTSAFE_OP_(RtlULongLongAdd, ULONGLONG, add)
NTINTSAFE_OP_(RtlULongLongSub, ULONGLONG, sub)
NTINTSAFE_OP_(RtlULongLongMult, ULONGLONG, mul)
NTINTSAFE_OP_(RtlSizeTAdd, SIZE_T, add)
NTINTSAFE_OP_(RtlSizeTSub, SIZE_T, sub)
NTINTSAFE_OP_(RtlSizeTMult, SIZE_T, mul)
#undef NTINTSAFE_OP_

#define NTINTSAFE_TO_(Name, From, To, Max)                                     \
    static inline NTSTATUS Name(From Operand, To *Result)                      \
    {                                                                          \
        if (Operand > (From)(Max)) {                                           \
            *Result = (To)~(To)0;                                              \
            return STATUS_INTEGER_OVERFLOW;                                    \
        }                                                                      \
        *Result = (To)Operand;                                                 \
        return STATUS_SUCCESS;                                                 \
    }

NTINTSAFE_TO_(RtlULongToUShort, ULONG, USHORT, USHRT_MAX)
NTINTSAFE_TO_(RtlULongPtrToULong, ULONG_PTR, ULONG, UINT_MAX)
NTINTSAFE_TO_(RtlULongLongToULong, ULONGLONG, ULONG, UINT_MAX)
NTINTSAFE_TO_(RtlSizeTToULong, SIZE_T, ULONG, UINT_MAX)
NTINTSAFE_TO_(RtlSizeTToUShort, SIZE_T, USHORT, USHRT_MAX)
#undef NTINTSAFE_TO_

#endif /* NTSIM_NTINTSAFE_H */
