/*
 * rtl_string.c - the Rtl string and memory routines drivers call
 * (UNICODE_STRING handling, RtlCompareMemory) and the conversions the
 * simulation needs between the drivers' 16-bit strings and the UTF-8 used
 * on the host side and inside the framework.
 */
#include <ctype.h>
#include <string.h>

#include "ntsim_internal.h"

void *RtlpAllocZero(size_t Size)
{
    void *p = calloc(1, Size ? Size : 1);
    if (!p) {
        fputs("ntsim: out of memory\n", stderr);
        abort();
    }
    return p;
}

char *RtlpStrDup(const char *Text)
{
    if (!Text)
        return NULL;
    size_t n = strlen(Text) + 1;
    char *copy = RtlpAllocZero(n);
    memcpy(copy, Text, n);
    return copy;
}

/* Appends the UTF-8 encoding of code point Cp; returns the bytes written (0 if it does not fit). */
static size_t RtlpPutUtf8(char *Out, size_t Room, ULONG Cp)
{
    if (Cp < 0x80 && Room >= 1) {
        Out[0] = (char)Cp;
        return 1;
    }
    if (Cp < 0x800 && Room >= 2) {
        Out[0] = (char)(0xC0 | (Cp >> 6));
        Out[1] = (char)(0x80 | (Cp & 0x3F));
        return 2;
    }
    if (Cp < 0x10000 && Room >= 3) {
        Out[0] = (char)(0xE0 | (Cp >> 12));
        Out[1] = (char)(0x80 | ((Cp >> 6) & 0x3F));
        Out[2] = (char)(0x80 | (Cp & 0x3F));
        return 3;
    }
    if (Cp >= 0x10000 && Room >= 4) {
        Out[0] = (char)(0xF0 | (Cp >> 18));
        Out[1] = (char)(0x80 | ((Cp >> 12) & 0x3F));
        Out[2] = (char)(0x80 | ((Cp >> 6) & 0x3F));
        Out[3] = (char)(0x80 | (Cp & 0x3F));
        return 4;
    }
    return 0;
}

VOID RtlpUnicodeToUtf8Buffer(PCUNICODE_STRING String, char *Buffer, size_t Size)
{
    size_t used = 0;
    if (!Size)
        return;
    size_t units = (String && String->Buffer) ? String->Length / sizeof(WCHAR) : 0;
    for (size_t i = 0; i < units; i++) {
        ULONG cp = String->Buffer[i];
        if (cp >= 0xD800 && cp < 0xDC00 && i + 1 < units && String->Buffer[i + 1] >= 0xDC00 &&
            String->Buffer[i + 1] < 0xE000) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (String->Buffer[i + 1] - 0xDC00);
            i++;
        }
        size_t n = RtlpPutUtf8(Buffer + used, Size - 1 - used, cp);
        if (!n)
            break;
        used += n;
    }
    Buffer[used] = '\0';
}

char *RtlpUnicodeToUtf8(PCUNICODE_STRING String)
{
    size_t units = (String && String->Buffer) ? String->Length / sizeof(WCHAR) : 0;
    size_t size = units * 3 + 1;
    char *text = malloc(size);
    if (text)
        RtlpUnicodeToUtf8Buffer(String, text, size);
    return text;
}

/* Decodes one UTF-8 sequence at *P (advancing it); invalid bytes decode as themselves. */
static ULONG RtlpGetUtf8(const unsigned char **P)
{
    const unsigned char *p = *P;
    ULONG cp = p[0];
    int extra = cp >= 0xF0 ? 3 : cp >= 0xE0 ? 2 : cp >= 0xC0 ? 1 : 0;
    if (extra) {
        cp &= 0x3F >> extra;
        for (int i = 1; i <= extra; i++) {
            if ((p[i] & 0xC0) != 0x80) {
                *P = p + 1;
                return p[0];
            }
            cp = (cp << 6) | (p[i] & 0x3F);
        }
    }
    *P = p + 1 + extra;
    return cp;
}

BOOLEAN RtlpUtf8ToUnicode(const char *Text, PUNICODE_STRING String)
{
    size_t len = strlen(Text);
    if ((len + 1) * 2 * sizeof(WCHAR) > 0xFFFF)
        return FALSE;
    PWSTR buffer = malloc((len * 2 + 1) * sizeof(WCHAR));
    if (!buffer)
        return FALSE;
    size_t n = 0;
    const unsigned char *p = (const unsigned char *)Text;
    while (*p) {
        ULONG cp = RtlpGetUtf8(&p);
        if (cp >= 0x10000) {
            cp -= 0x10000;
            buffer[n++] = (WCHAR)(0xD800 + (cp >> 10));
            buffer[n++] = (WCHAR)(0xDC00 + (cp & 0x3FF));
        } else {
            buffer[n++] = (WCHAR)cp;
        }
    }
    buffer[n] = 0;
    String->Buffer = buffer;
    String->Length = (USHORT)(n * sizeof(WCHAR));
    String->MaximumLength = (USHORT)((n + 1) * sizeof(WCHAR));
    return TRUE;
}

VOID RtlpFreeUnicode(PUNICODE_STRING String)
{
    free(String->Buffer);
    String->Buffer = NULL;
    String->Length = String->MaximumLength = 0;
}

/* ---- exported Rtl routines ------------------------------------------ */

SIZE_T RtlCompareMemory(const VOID *Source1, const VOID *Source2, SIZE_T Length)
{
    const UCHAR *a = Source1, *b = Source2;
    SIZE_T i = 0;
    while (i < Length && a[i] == b[i])
        i++;
    return i;
}

VOID RtlInitUnicodeString(PUNICODE_STRING DestinationString, PCWSTR SourceString)
{
    size_t n = 0;
    if (SourceString)
        while (SourceString[n])
            n++;
    if (n * sizeof(WCHAR) > 0xFFFC)
        n = 0xFFFC / sizeof(WCHAR);
    DestinationString->Buffer = (PWSTR)SourceString;
    DestinationString->Length = (USHORT)(n * sizeof(WCHAR));
    DestinationString->MaximumLength = SourceString ? (USHORT)((n + 1) * sizeof(WCHAR)) : 0;
}

static WCHAR RtlpUpcase(WCHAR c)
{
    return (c < 0x80) ? (WCHAR)toupper(c) : c;
}

LONG RtlCompareUnicodeString(PCUNICODE_STRING String1, PCUNICODE_STRING String2, BOOLEAN CaseInSensitive)
{
    size_t n1 = String1->Length / sizeof(WCHAR), n2 = String2->Length / sizeof(WCHAR);
    size_t n = n1 < n2 ? n1 : n2;
    for (size_t i = 0; i < n; i++) {
        WCHAR a = String1->Buffer[i], b = String2->Buffer[i];
        if (CaseInSensitive) {
            a = RtlpUpcase(a);
            b = RtlpUpcase(b);
        }
        if (a != b)
            return (LONG)a - (LONG)b;
    }
    return (LONG)n1 - (LONG)n2;
}

BOOLEAN RtlEqualUnicodeString(PCUNICODE_STRING String1, PCUNICODE_STRING String2, BOOLEAN CaseInSensitive)
{
    return String1->Length == String2->Length && RtlCompareUnicodeString(String1, String2, CaseInSensitive) == 0;
}

VOID RtlCopyUnicodeString(PUNICODE_STRING DestinationString, PCUNICODE_STRING SourceString)
{
    if (!SourceString) {
        DestinationString->Length = 0;
        return;
    }
    USHORT n = SourceString->Length;
    if (n > DestinationString->MaximumLength)
        n = DestinationString->MaximumLength;
    memmove(DestinationString->Buffer, SourceString->Buffer, n);
    DestinationString->Length = n;
    if (n + sizeof(WCHAR) <= DestinationString->MaximumLength)
        DestinationString->Buffer[n / sizeof(WCHAR)] = 0;
}

NTSTATUS RtlAppendUnicodeStringToString(PUNICODE_STRING Destination, PCUNICODE_STRING Source)
{
    if ((ULONG)Destination->Length + Source->Length > Destination->MaximumLength)
        return STATUS_BUFFER_TOO_SMALL;
    memmove((PUCHAR)Destination->Buffer + Destination->Length, Source->Buffer, Source->Length);
    Destination->Length = (USHORT)(Destination->Length + Source->Length);
    if (Destination->Length + sizeof(WCHAR) <= Destination->MaximumLength)
        Destination->Buffer[Destination->Length / sizeof(WCHAR)] = 0;
    return STATUS_SUCCESS;
}

NTSTATUS RtlAppendUnicodeToString(PUNICODE_STRING Destination, PCWSTR Source)
{
    UNICODE_STRING s;
    RtlInitUnicodeString(&s, Source);
    return RtlAppendUnicodeStringToString(Destination, &s);
}

VOID RtlFreeUnicodeString(PUNICODE_STRING UnicodeString)
{
    if (!UnicodeString)
        return;
    if (UnicodeString->Buffer)
        ExFreePool(UnicodeString->Buffer); /* strings the system hands out are pool blocks, as on Windows */
    UnicodeString->Buffer = NULL;
    UnicodeString->Length = UnicodeString->MaximumLength = 0;
}
