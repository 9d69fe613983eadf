/*
 * rtl_strsafe.c - the bounded string routines of ntstrsafe.h, for char and
 * WCHAR destinations, counted in characters or bytes.
 *
 * Every routine writes through one sink (RTLP_SINK): a destination of
 * either width with its capacity in characters, which keeps room for the
 * terminating NUL, remembers whether anything was cut, and terminates on
 * close. The printf family walks the format itself, one code unit at a
 * time from a char or WCHAR format, so that the kernel's string
 * conversions (%ws, %S, %wZ, whose meaning depends on the routine's width)
 * work; each numeric conversion is rebuilt as a narrow spec and rendered
 * by snprintf.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ntsim_internal.h"
#include "ntstrsafe.h"

typedef struct _RTLP_SINK {
    void *Dest;
    BOOLEAN Wide;
    size_t Capacity;  /* characters, the NUL included */
    size_t Length;    /* characters written */
    BOOLEAN Truncated;
} RTLP_SINK;

static NTSTATUS RtlpSinkOpen(RTLP_SINK *Sink, void *Dest, BOOLEAN Wide, size_t Cch)
{
    memset(Sink, 0, sizeof(*Sink));
    if (!Dest || Cch == 0 || Cch > NTSTRSAFE_MAX_CCH)
        return STATUS_INVALID_PARAMETER;
    Sink->Dest = Dest;
    Sink->Wide = Wide;
    Sink->Capacity = Cch;
    return STATUS_SUCCESS;
}

static VOID RtlpSinkPut(RTLP_SINK *Sink, ULONG Unit)
{
    if (Sink->Length + 1 >= Sink->Capacity) {
        Sink->Truncated = TRUE;
        return;
    }
    if (Sink->Wide)
        ((WCHAR *)Sink->Dest)[Sink->Length++] = (WCHAR)Unit;
    else
        ((char *)Sink->Dest)[Sink->Length++] = (char)(Unit > 0xFF ? '?' : Unit);
}

static NTSTATUS RtlpSinkClose(RTLP_SINK *Sink)
{
    if (Sink->Wide)
        ((WCHAR *)Sink->Dest)[Sink->Length] = 0;
    else
        ((char *)Sink->Dest)[Sink->Length] = 0;
    return Sink->Truncated ? STATUS_BUFFER_OVERFLOW : STATUS_SUCCESS;
}

/* Characters of a string of either width, at most Max (SIZE_MAX: to the NUL). */
static size_t RtlpUnits(const void *Text, BOOLEAN Wide, size_t Max)
{
    size_t n = 0;
    if (Wide)
        while (n < Max && ((const WCHAR *)Text)[n])
            n++;
    else
        while (n < Max && ((const char *)Text)[n])
            n++;
    return n;
}

static ULONG RtlpUnitAt(const void *Text, BOOLEAN Wide, size_t Index)
{
    return Wide ? ((const WCHAR *)Text)[Index] : (UCHAR)((const char *)Text)[Index];
}

static VOID RtlpSinkPutString(RTLP_SINK *Sink, const void *Text, BOOLEAN Wide, size_t Count)
{
    for (size_t i = 0; i < Count; i++)
        RtlpSinkPut(Sink, RtlpUnitAt(Text, Wide, i));
}

/* Copy and Cat: append at most MaxCopy characters of Src after the Start characters already in Dest. */
static NTSTATUS RtlpAppend(void *Dest, BOOLEAN Wide, size_t Cch, size_t Start, const void *Src, size_t MaxCopy)
{
    RTLP_SINK sink;
    NTSTATUS status = RtlpSinkOpen(&sink, Dest, Wide, Cch);
    if (!NT_SUCCESS(status))
        return status;
    if (Start >= Cch)
        return STATUS_INVALID_PARAMETER; /* Dest holds no NUL within its size */
    sink.Length = Start;
    if (Src)
        RtlpSinkPutString(&sink, Src, Wide, RtlpUnits(Src, Wide, MaxCopy));
    return RtlpSinkClose(&sink);
}

static NTSTATUS RtlpCat(void *Dest, BOOLEAN Wide, size_t Cch, const void *Src)
{
    if (!Dest || Cch == 0 || Cch > NTSTRSAFE_MAX_CCH)
        return STATUS_INVALID_PARAMETER;
    return RtlpAppend(Dest, Wide, Cch, RtlpUnits(Dest, Wide, Cch), Src, SIZE_MAX);
}

static NTSTATUS RtlpLength(const void *Text, BOOLEAN Wide, size_t Max, size_t *Length)
{
    if (Length)
        *Length = 0;
    if (!Text || Max == 0 || Max > NTSTRSAFE_MAX_CCH)
        return STATUS_INVALID_PARAMETER;
    size_t n = RtlpUnits(Text, Wide, Max);
    if (n == Max)
        return STATUS_INVALID_PARAMETER;
    if (Length)
        *Length = n;
    return STATUS_SUCCESS;
}

/* ---- the printf walk ------------------------------------------------ */

typedef struct _RTLP_SPEC {
    char Flags[8];
    int Width;       /* -1: none */
    int Precision;   /* -1: none */
    int Size;        /* 'h', 'H' (hh), 'l', 'L' (ll, I64), 'z' (size_t, I), 'w' (wide), 0 */
    ULONG Conversion;
} RTLP_SPEC;

/* Reads a decimal number or '*' at Format[*Pos]; -1 when neither. */
static int RtlpReadCount(const void *Format, BOOLEAN Wide, size_t *Pos, va_list *Args)
{
    if (RtlpUnitAt(Format, Wide, *Pos) == '*') {
        (*Pos)++;
        return va_arg(*Args, int);
    }
    int value = -1;
    for (ULONG c; (c = RtlpUnitAt(Format, Wide, *Pos)) >= '0' && c <= '9'; (*Pos)++)
        value = (value < 0 ? 0 : value * 10) + (int)(c - '0');
    return value;
}

static VOID RtlpReadSize(const void *Format, BOOLEAN Wide, size_t *Pos, RTLP_SPEC *Spec)
{
    ULONG c = RtlpUnitAt(Format, Wide, *Pos);
    ULONG d = RtlpUnitAt(Format, Wide, *Pos + 1);
    ULONG e = d ? RtlpUnitAt(Format, Wide, *Pos + 2) : 0;
    if (c == 'I' && d == '6' && e == '4') {
        Spec->Size = 'L';
        *Pos += 3;
    } else if (c == 'I' && d == '3' && e == '2') {
        *Pos += 3;
    } else if (c == 'I') {
        Spec->Size = 'z';
        (*Pos)++;
    } else if ((c == 'l' && d == 'l') || (c == 'h' && d == 'h')) {
        Spec->Size = c == 'l' ? 'L' : 'H';
        *Pos += 2;
    } else if (c == 'l' || c == 'h' || c == 'z' || c == 'w') {
        Spec->Size = (int)c;
        (*Pos)++;
    }
}

/* Writes String (Wide or not) with the spec's width, precision and '-' flag. */
static VOID RtlpPutField(RTLP_SINK *Sink, const RTLP_SPEC *Spec, const void *String, BOOLEAN Wide, size_t Count)
{
    if (Spec->Precision >= 0 && Count > (size_t)Spec->Precision)
        Count = (size_t)Spec->Precision;
    size_t pad = Spec->Width > 0 && (size_t)Spec->Width > Count ? (size_t)Spec->Width - Count : 0;
    BOOLEAN left = strchr(Spec->Flags, '-') != NULL;
    for (size_t i = 0; !left && i < pad; i++)
        RtlpSinkPut(Sink, ' ');
    RtlpSinkPutString(Sink, String, Wide, Count);
    for (size_t i = 0; left && i < pad; i++)
        RtlpSinkPut(Sink, ' ');
}

/* A %s-like conversion: which width the argument has, by the routine's own width. */
static BOOLEAN RtlpStringArgIsWide(const RTLP_SPEC *Spec, BOOLEAN RoutineWide)
{
    if (Spec->Size == 'h')
        return FALSE;
    if (Spec->Size == 'l' || Spec->Size == 'w')
        return TRUE;
    return Spec->Conversion == 'S' ? !RoutineWide : RoutineWide;
}

/*
 * A numeric conversion, rendered by snprintf from a rebuilt narrow spec.
 * 'l' is the Windows long, 32 bits like int; I64, ll and z are 64 bits.
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral" /* the spec is rebuilt from a checked conversion */
static VOID RtlpPutNumber(RTLP_SINK *Sink, const RTLP_SPEC *Spec, va_list *Args)
{
    char spec[32], text[128];
    char conversion = (char)Spec->Conversion;
    const char *size = Spec->Size == 'L' || Spec->Size == 'z' ? "ll" : Spec->Size == 'h' ? "h"
                     : Spec->Size == 'H' ? "hh" : "";
    if (conversion == 'p') {
        void *value = va_arg(*Args, void *);
        snprintf(text, sizeof(text), "%0*llX", (int)(2 * sizeof(void *)), (unsigned long long)(uintptr_t)value);
    } else if (strchr("eEfgGaA", conversion)) {
        snprintf(spec, sizeof(spec), "%%%s*.*%c", Spec->Flags, conversion);
        snprintf(text, sizeof(text), spec, Spec->Width, Spec->Precision, va_arg(*Args, double));
    } else if (*size == 'l') {
        long long value = Spec->Size == 'z' ? (long long)va_arg(*Args, size_t) : va_arg(*Args, long long);
        snprintf(spec, sizeof(spec), "%%%s*.*%s%c", Spec->Flags, size, conversion);
        snprintf(text, sizeof(text), spec, Spec->Width, Spec->Precision, value);
    } else {
        snprintf(spec, sizeof(spec), "%%%s*.*%s%c", Spec->Flags, size, conversion);
        snprintf(text, sizeof(text), spec, Spec->Width, Spec->Precision, va_arg(*Args, int));
    }
    RtlpSinkPutString(Sink, text, FALSE, strlen(text));
}
#pragma GCC diagnostic pop

static VOID RtlpPutConversion(RTLP_SINK *Sink, const RTLP_SPEC *Spec, BOOLEAN RoutineWide, va_list *Args)
{
    switch (Spec->Conversion) {
    case '%':
        RtlpSinkPut(Sink, '%');
        return;
    case 'c':
    case 'C': {
        int unit = va_arg(*Args, int);
        RtlpPutField(Sink, Spec, &(WCHAR){ (WCHAR)unit }, TRUE, 1);
        return;
    }
    case 's':
    case 'S': {
        const void *text = va_arg(*Args, const void *);
        BOOLEAN wide = RtlpStringArgIsWide(Spec, RoutineWide);
        if (!text)
            text = wide ? (const void *)L"(null)" : (const void *)"(null)";
        RtlpPutField(Sink, Spec, text, wide, RtlpUnits(text, wide, SIZE_MAX));
        return;
    }
    case 'Z': {
        PCUNICODE_STRING string = va_arg(*Args, PCUNICODE_STRING);
        if (string && string->Buffer)
            RtlpPutField(Sink, Spec, string->Buffer, TRUE, string->Length / sizeof(WCHAR));
        else
            RtlpPutField(Sink, Spec, "(null)", FALSE, 6);
        return;
    }
    case 'n':
        (void)va_arg(*Args, void *); /* never written through, as strsafe refuses %n */
        return;
    default:
        if (strchr("diouxXpeEfgGaA", (int)Spec->Conversion)) {
            RtlpPutNumber(Sink, Spec, Args);
            return;
        }
        RtlpSinkPut(Sink, '%');
        RtlpSinkPut(Sink, Spec->Conversion);
    }
}

static NTSTATUS RtlpVPrintf(void *Dest, BOOLEAN Wide, size_t Cch, const void *Format, va_list Args)
{
    RTLP_SINK sink;
    NTSTATUS status = RtlpSinkOpen(&sink, Dest, Wide, Cch);
    if (!NT_SUCCESS(status))
        return status;
    if (!Format) {
        RtlpSinkClose(&sink);
        return STATUS_INVALID_PARAMETER;
    }
    va_list args;
    va_copy(args, Args);
    for (size_t pos = 0; RtlpUnitAt(Format, Wide, pos); ) {
        ULONG c = RtlpUnitAt(Format, Wide, pos++);
        if (c != '%') {
            RtlpSinkPut(&sink, c);
            continue;
        }
        RTLP_SPEC spec = { .Width = -1, .Precision = -1 };
        size_t flags = 0;
        while (flags + 1 < sizeof(spec.Flags) && strchr("-+ #0", (int)RtlpUnitAt(Format, Wide, pos)) &&
               RtlpUnitAt(Format, Wide, pos))
            spec.Flags[flags++] = (char)RtlpUnitAt(Format, Wide, pos++);
        spec.Width = RtlpReadCount(Format, Wide, &pos, &args);
        if (RtlpUnitAt(Format, Wide, pos) == '.') {
            pos++;
            spec.Precision = RtlpReadCount(Format, Wide, &pos, &args);
            if (spec.Precision < 0)
                spec.Precision = 0;
        }
        RtlpReadSize(Format, Wide, &pos, &spec);
        spec.Conversion = RtlpUnitAt(Format, Wide, pos);
        if (!spec.Conversion)
            break;
        pos++;
        RtlpPutConversion(&sink, &spec, Wide, &args);
    }
    va_end(args);
    return RtlpSinkClose(&sink);
}

/* ---- the exported routines ------------------------------------------ */

NTSTATUS RtlStringCchCopyA(NTSTRSAFE_PSTR Dest, size_t cchDest, NTSTRSAFE_PCSTR Src)
{
    return RtlpAppend(Dest, FALSE, cchDest, 0, Src, SIZE_MAX);
}

NTSTATUS RtlStringCchCopyW(NTSTRSAFE_PWSTR Dest, size_t cchDest, NTSTRSAFE_PCWSTR Src)
{
    return RtlpAppend(Dest, TRUE, cchDest, 0, Src, SIZE_MAX);
}

NTSTATUS RtlStringCbCopyA(NTSTRSAFE_PSTR Dest, size_t cbDest, NTSTRSAFE_PCSTR Src)
{
    return RtlpAppend(Dest, FALSE, cbDest, 0, Src, SIZE_MAX);
}

NTSTATUS RtlStringCbCopyW(NTSTRSAFE_PWSTR Dest, size_t cbDest, NTSTRSAFE_PCWSTR Src)
{
    return RtlpAppend(Dest, TRUE, cbDest / sizeof(WCHAR), 0, Src, SIZE_MAX);
}

NTSTATUS RtlStringCchCopyNA(NTSTRSAFE_PSTR Dest, size_t cchDest, NTSTRSAFE_PCSTR Src, size_t cchToCopy)
{
    return RtlpAppend(Dest, FALSE, cchDest, 0, Src, cchToCopy);
}

NTSTATUS RtlStringCchCopyNW(NTSTRSAFE_PWSTR Dest, size_t cchDest, NTSTRSAFE_PCWSTR Src, size_t cchToCopy)
{
    return RtlpAppend(Dest, TRUE, cchDest, 0, Src, cchToCopy);
}

NTSTATUS RtlStringCchCatA(NTSTRSAFE_PSTR Dest, size_t cchDest, NTSTRSAFE_PCSTR Src)
{
    return RtlpCat(Dest, FALSE, cchDest, Src);
}

NTSTATUS RtlStringCchCatW(NTSTRSAFE_PWSTR Dest, size_t cchDest, NTSTRSAFE_PCWSTR Src)
{
    return RtlpCat(Dest, TRUE, cchDest, Src);
}

NTSTATUS RtlStringCbCatA(NTSTRSAFE_PSTR Dest, size_t cbDest, NTSTRSAFE_PCSTR Src)
{
    return RtlpCat(Dest, FALSE, cbDest, Src);
}

NTSTATUS RtlStringCbCatW(NTSTRSAFE_PWSTR Dest, size_t cbDest, NTSTRSAFE_PCWSTR Src)
{
    return RtlpCat(Dest, TRUE, cbDest / sizeof(WCHAR), Src);
}

NTSTATUS RtlStringCchLengthA(NTSTRSAFE_PCSTR Psz, size_t cchMax, size_t *pcchLength)
{
    return RtlpLength(Psz, FALSE, cchMax, pcchLength);
}

NTSTATUS RtlStringCchLengthW(NTSTRSAFE_PCWSTR Psz, size_t cchMax, size_t *pcchLength)
{
    return RtlpLength(Psz, TRUE, cchMax, pcchLength);
}

NTSTATUS RtlStringCbLengthA(NTSTRSAFE_PCSTR Psz, size_t cbMax, size_t *pcbLength)
{
    return RtlpLength(Psz, FALSE, cbMax, pcbLength);
}

NTSTATUS RtlStringCbLengthW(NTSTRSAFE_PCWSTR Psz, size_t cbMax, size_t *pcbLength)
{
    NTSTATUS status = RtlpLength(Psz, TRUE, cbMax / sizeof(WCHAR), pcbLength);
    if (pcbLength)
        *pcbLength *= sizeof(WCHAR);
    return status;
}

NTSTATUS RtlStringCchVPrintfA(NTSTRSAFE_PSTR Dest, size_t cchDest, NTSTRSAFE_PCSTR Format, va_list Args)
{
    return RtlpVPrintf(Dest, FALSE, cchDest, Format, Args);
}

NTSTATUS RtlStringCchVPrintfW(NTSTRSAFE_PWSTR Dest, size_t cchDest, NTSTRSAFE_PCWSTR Format, va_list Args)
{
    return RtlpVPrintf(Dest, TRUE, cchDest, Format, Args);
}

NTSTATUS RtlStringCbVPrintfA(NTSTRSAFE_PSTR Dest, size_t cbDest, NTSTRSAFE_PCSTR Format, va_list Args)
{
    return RtlpVPrintf(Dest, FALSE, cbDest, Format, Args);
}

NTSTATUS RtlStringCbVPrintfW(NTSTRSAFE_PWSTR Dest, size_t cbDest, NTSTRSAFE_PCWSTR Format, va_list Args)
{
    return RtlpVPrintf(Dest, TRUE, cbDest / sizeof(WCHAR), Format, Args);
}

#define RTLP_PRINTF_(Name, DestType, FormatType, Width, Scale)              \
    NTSTATUS Name(DestType Dest, size_t Size, FormatType Format, ...)       \
    {                                                                        \
        va_list args;                                                        \
        va_start(args, Format);                                              \
        NTSTATUS status = RtlpVPrintf(Dest, Width, Size / (Scale), Format, args); \
        va_end(args);                                                        \
        return status;                                                       \
    }

RTLP_PRINTF_(RtlStringCchPrintfA, NTSTRSAFE_PSTR, NTSTRSAFE_PCSTR, FALSE, 1)
RTLP_PRINTF_(RtlStringCchPrintfW, NTSTRSAFE_PWSTR, NTSTRSAFE_PCWSTR, TRUE, 1)
RTLP_PRINTF_(RtlStringCbPrintfA, NTSTRSAFE_PSTR, NTSTRSAFE_PCSTR, FALSE, 1)
RTLP_PRINTF_(RtlStringCbPrintfW, NTSTRSAFE_PWSTR, NTSTRSAFE_PCWSTR, TRUE, sizeof(WCHAR))
#undef RTLP_PRINTF_
