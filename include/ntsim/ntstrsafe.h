/*
 * ntstrsafe.h - the WDK's bounded string routines (RtlStringCch* counts
 * characters, RtlStringCb* counts bytes; A for char, W for WCHAR). Every
 * routine always NUL-terminates a destination it was given room in, and
 * returns STATUS_BUFFER_OVERFLOW when the result was truncated,
 * STATUS_INVALID_PARAMETER for a zero or oversized destination. In the
 * WDK they are inline; here they are exported by libntsim, same names and
 * parameters.
 *
 * The printf family understands the kernel's conversions: in a W routine
 * %s, %ls and %ws take a WCHAR string and %hs, %S a char string; in an A
 * routine %s, %hs take a char string and %S, %ls, %ws a WCHAR one; %wZ
 * takes a PUNICODE_STRING; I64, ll, l, h, z, I size modifiers; flags,
 * width and precision as in C.
 */
#ifndef NTSIM_NTSTRSAFE_H
#define NTSIM_NTSTRSAFE_H

#include <stdarg.h>

#include "wdm.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NTSTRSAFE_MAX_CCH 2147483647
#define NTSTRSAFE_UNICODE_STRING_MAX_CCH 32767
#define NTSTRSAFEDDI NTSIM_API NTSTATUS

typedef char *NTSTRSAFE_PSTR;
typedef const char *NTSTRSAFE_PCSTR;
typedef WCHAR *NTSTRSAFE_PWSTR;
typedef const WCHAR *NTSTRSAFE_PCWSTR;

NTSTRSAFEDDI RtlStringCchCopyA(NTSTRSAFE_PSTR Dest, size_t cchDest, NTSTRSAFE_PCSTR Src);
NTSTRSAFEDDI RtlStringCchCopyW(NTSTRSAFE_PWSTR Dest, size_t cchDest, NTSTRSAFE_PCWSTR Src);
NTSTRSAFEDDI RtlStringCbCopyA(NTSTRSAFE_PSTR Dest, size_t cbDest, NTSTRSAFE_PCSTR Src);
NTSTRSAFEDDI RtlStringCbCopyW(NTSTRSAFE_PWSTR Dest, size_t cbDest, NTSTRSAFE_PCWSTR Src);
NTSTRSAFEDDI RtlStringCchCopyNA(NTSTRSAFE_PSTR Dest, size_t cchDest, NTSTRSAFE_PCSTR Src, size_t cchToCopy);
NTSTRSAFEDDI RtlStringCchCopyNW(NTSTRSAFE_PWSTR Dest, size_t cchDest, NTSTRSAFE_PCWSTR Src, size_t cchToCopy);
NTSTRSAFEDDI RtlStringCchCatA(NTSTRSAFE_PSTR Dest, size_t cchDest, NTSTRSAFE_PCSTR Src);
NTSTRSAFEDDI RtlStringCchCatW(NTSTRSAFE_PWSTR Dest, size_t cchDest, NTSTRSAFE_PCWSTR Src);
NTSTRSAFEDDI RtlStringCbCatA(NTSTRSAFE_PSTR Dest, size_t cbDest, NTSTRSAFE_PCSTR Src);
NTSTRSAFEDDI RtlStringCbCatW(NTSTRSAFE_PWSTR Dest, size_t cbDest, NTSTRSAFE_PCWSTR Src);
/* *pcchLength (optional) = characters before the NUL; STATUS_INVALID_PARAMETER when none within cchMax. */
NTSTRSAFEDDI RtlStringCchLengthA(NTSTRSAFE_PCSTR Psz, size_t cchMax, size_t *pcchLength);
NTSTRSAFEDDI RtlStringCchLengthW(NTSTRSAFE_PCWSTR Psz, size_t cchMax, size_t *pcchLength);
/* *pcbLength (optional) = bytes before the NUL. */
NTSTRSAFEDDI RtlStringCbLengthA(NTSTRSAFE_PCSTR Psz, size_t cbMax, size_t *pcbLength);
NTSTRSAFEDDI RtlStringCbLengthW(NTSTRSAFE_PCWSTR Psz, size_t cbMax, size_t *pcbLength);
NTSTRSAFEDDI RtlStringCchPrintfA(NTSTRSAFE_PSTR Dest, size_t cchDest, NTSTRSAFE_PCSTR Format, ...);
NTSTRSAFEDDI RtlStringCchPrintfW(NTSTRSAFE_PWSTR Dest, size_t cchDest, NTSTRSAFE_PCWSTR Format, ...);
NTSTRSAFEDDI RtlStringCbPrintfA(NTSTRSAFE_PSTR Dest, size_t cbDest, NTSTRSAFE_PCSTR Format, ...);
NTSTRSAFEDDI RtlStringCbPrintfW(NTSTRSAFE_PWSTR Dest, size_t cbDest, NTSTRSAFE_PCWSTR Format, ...);
NTSTRSAFEDDI RtlStringCchVPrintfA(NTSTRSAFE_PSTR Dest, size_t cchDest, NTSTRSAFE_PCSTR Format, va_list Args);
NTSTRSAFEDDI RtlStringCchVPrintfW(NTSTRSAFE_PWSTR Dest, size_t cchDest, NTSTRSAFE_PCWSTR Format, va_list Args);
NTSTRSAFEDDI RtlStringCbVPrintfA(NTSTRSAFE_PSTR Dest, size_t cbDest, NTSTRSAFE_PCSTR Format, va_list Args);
NTSTRSAFEDDI RtlStringCbVPrintfW(NTSTRSAFE_PWSTR Dest, size_t cbDest, NTSTRSAFE_PCWSTR Format, va_list Args);

#ifdef __cplusplus
}
#endif

#endif /* NTSIM_NTSTRSAFE_H */
