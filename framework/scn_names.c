/*
 * scn_names.c - names of the numbers a scenario writes: NTSTATUS codes
 * (from the NTSIM_STATUS_CODES table of ntstatus.h, so every status the
 * simulation knows can be named) and bug-check codes (the wdm.h constants).
 * Printing a status uses NtsimStatusName; this file does the reverse.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scn.h"

#define SCN_STATUS_ROW_(name, value) { #name, (NTSTATUS)(value) },
static const struct {
    const char *Name;
    NTSTATUS Value;
} ScnStatusNames[] = { NTSIM_STATUS_CODES(SCN_STATUS_ROW_) };
#undef SCN_STATUS_ROW_

#define SCN_BUGCHECK_ROW_(name, code) { #name, code },
static const struct {
    const char *Name;
    ULONG Code;
} ScnBugCheckNames[] = { NTSIM_BUGCHECK_CODES(SCN_BUGCHECK_ROW_) };
#undef SCN_BUGCHECK_ROW_

/* Parses exactly "0x" followed by 1 to 8 hex digits. */
static BOOLEAN ScnParseHex32(const char *Text, ULONG *Value)
{
    char *end;
    size_t digits;

    if (Text[0] != '0' || (Text[1] != 'x' && Text[1] != 'X'))
        return FALSE;
    digits = strspn(Text + 2, "0123456789abcdefABCDEF");
    if (digits == 0 || digits > 8 || Text[2 + digits] != '\0')
        return FALSE;
    *Value = (ULONG)strtoul(Text + 2, &end, 16);
    return TRUE;
}

BOOLEAN ScnParseStatusText(const char *Text, NTSTATUS *Status)
{
    ULONG value;

    for (size_t i = 0; i < RTL_NUMBER_OF(ScnStatusNames); i++)
        if (strcmp(ScnStatusNames[i].Name, Text) == 0) {
            *Status = ScnStatusNames[i].Value;
            return TRUE;
        }
    if (!ScnParseHex32(Text, &value))
        return FALSE;
    *Status = (NTSTATUS)value;
    return TRUE;
}


BOOLEAN ScnParseBugCheckText(const char *Text, ULONG *Code)
{
    for (size_t i = 0; i < RTL_NUMBER_OF(ScnBugCheckNames); i++)
        if (strcmp(ScnBugCheckNames[i].Name, Text) == 0) {
            *Code = ScnBugCheckNames[i].Code;
            return TRUE;
        }
    return ScnParseHex32(Text, Code);
}

VOID ScnFormatBugCheck(ULONG Code, char *Out, size_t OutSize)
{
    const char *name = NtsimBugCheckName(Code);

    snprintf(Out, OutSize, "bug check 0x%08lX%s%s", (unsigned long)Code, name ? " " : "", name ? name : "");
}
