/*
 * scn_parse.c - reads a scenario file into actions.
 *
 * Each line is split into tokens (whitespace-separated; "double quotes"
 * make one token with C escapes; a token with parentheses, such as
 * CTL_CODE(...), runs to its closing parenthesis; `#` at the start of a
 * token begins a comment). The first token names a verb of SCN_VERBS (or,
 * after `expect`, a form of SCN_EXPECTS) whose syntax string is applied
 * to the rest: positional placeholders first, then optional clauses in any
 * order. Each argument is checked by the parser of its kind (SCN_KINDS).
 * The whole file is parsed before anything runs, so a mistake on the last
 * line costs no half-run simulation; every error is one line,
 * `file:line: message`.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scn.h"

#define SCN_MAX_TOKENS 32
#define SCN_MAX_ELEMENTS 16

typedef struct _SCN_TOKEN {
    char *Text;
    BOOLEAN Quoted;
} SCN_TOKEN;

/* One element of a syntax string: `WORD`, `+WORD`, `WORD...` or `[keyword WORD]`. */
typedef struct _SCN_ELEMENT {
    char Word[32];
    char Keyword[32]; /* "" for a positional element */
    BOOLEAN Defines;
    BOOLEAN Repeated;
} SCN_ELEMENT;

typedef struct _SCN_SYMBOL {
    char *Kind;
    char *Name;
} SCN_SYMBOL;

struct _SCN_PARSER {
    const char *FileName;
    const char *SearchPath;
    char *ScenarioDir;
    FILE *Err;
    ULONG Line;
    ULONG ErrorCount;
    BOOLEAN LineFailed;
    SCN_SYMBOL *Symbols;
    ULONG SymbolCount;
    SCN_SCRIPT *Script;
    ULONG ArmLine;          /* line of an `expect bugcheck` waiting for its action, 0 if none */
    ULONG ArmCode;
    ULONG ArmedActionLine;  /* line of the action that ends the scenario in a bug check */
};

typedef struct _SCN_KIND {
    const char *Word;
    SCN_KIND_PARSER *Parse;
    const char *Noun;
    const char *Definer;
} SCN_KIND;

#define SCN_KIND_ROW_(word, parser, noun, definer) { word, parser, noun, definer },
static const SCN_KIND ScnKindTable[] = { SCN_KINDS(SCN_KIND_ROW_) };
#undef SCN_KIND_ROW_

#define SCN_VERB_ROW_(name, class, handler, syntax, summary) { name, class, handler, syntax, summary },
const SCN_VERB ScnVerbTable[] = { SCN_VERBS(SCN_VERB_ROW_) };
const ULONG ScnVerbCount = RTL_NUMBER_OF(ScnVerbTable);
const SCN_VERB ScnExpectTable[] = { SCN_EXPECTS(SCN_VERB_ROW_) };
const ULONG ScnExpectCount = RTL_NUMBER_OF(ScnExpectTable);
#undef SCN_VERB_ROW_

/* ---- errors ------------------------------------------------------------ */

BOOLEAN ScnParseError(SCN_PARSER *Parser, const char *Format, ...)
{
    va_list args;

    if (Parser->LineFailed)
        return FALSE; /* one message a line: the first cause */
    Parser->LineFailed = TRUE;
    Parser->ErrorCount++;
    fprintf(Parser->Err, "%s:%lu: ", Parser->FileName, (unsigned long)Parser->Line);
    va_start(args, Format);
    vfprintf(Parser->Err, Format, args);
    va_end(args);
    fputc('\n', Parser->Err);
    return FALSE;
}

static void *ScnXmalloc(size_t Size)
{
    void *p = calloc(1, Size ? Size : 1);

    if (!p) {
        fprintf(stderr, "ntsim: out of memory\n");
        exit(NTSIM_SCENARIO_ERROR);
    }
    return p;
}

static char *ScnXstrdup(const char *Text)
{
    size_t len = strlen(Text);
    char *copy = ScnXmalloc(len + 1);

    memcpy(copy, Text, len + 1);
    return copy;
}

static void *ScnGrow(void *Array, ULONG Count, size_t ElementSize)
{
    void *grown = realloc(Array, (Count + 1) * ElementSize);

    if (!grown) {
        fprintf(stderr, "ntsim: out of memory\n");
        exit(NTSIM_SCENARIO_ERROR);
    }
    memset((char *)grown + Count * ElementSize, 0, ElementSize);
    return grown;
}

/* ---- tokens ------------------------------------------------------------ */

static int ScnHexDigit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Reads a "quoted" token starting at *Cursor (on the quote) into Out; advances *Cursor. */
static BOOLEAN ScnReadQuoted(SCN_PARSER *Parser, char **Cursor, char *Out)
{
    char *p = *Cursor + 1;

    for (; *p && *p != '"'; p++) {
        if (*p != '\\') {
            *Out++ = *p;
            continue;
        }
        p++;
        switch (*p) {
        case 'n': *Out++ = '\n'; break;
        case 't': *Out++ = '\t'; break;
        case 'r': *Out++ = '\r'; break;
        case '"': case '\\': *Out++ = *p; break;
        case 'x':
            if (ScnHexDigit(p[1]) < 0 || ScnHexDigit(p[2]) < 0)
                return ScnParseError(Parser, "bad \\x escape in quoted text (want two hex digits)");
            *Out++ = (char)(ScnHexDigit(p[1]) * 16 + ScnHexDigit(p[2]));
            p += 2;
            break;
        default:
            return ScnParseError(Parser, "unknown escape '\\%c' in quoted text", *p ? *p : ' ');
        }
    }
    if (*p != '"')
        return ScnParseError(Parser, "unterminated quoted text");
    *Out = '\0';
    *Cursor = p + 1;
    return TRUE;
}

/* Reads a plain token (parentheses group spaces) starting at *Cursor into Out. */
static BOOLEAN ScnReadWord(SCN_PARSER *Parser, char **Cursor, char *Out)
{
    char *p = *Cursor;
    int depth = 0;

    for (; *p && (depth > 0 || (*p != ' ' && *p != '\t')); p++) {
        if (*p == '(')
            depth++;
        else if (*p == ')' && --depth < 0)
            return ScnParseError(Parser, "unbalanced ')'");
        if (depth == 0 || (*p != ' ' && *p != '\t'))
            *Out++ = *p; /* spaces inside parentheses are dropped */
    }
    if (depth > 0)
        return ScnParseError(Parser, "missing ')'");
    *Out = '\0';
    *Cursor = p;
    return TRUE;
}

/*
 * Splits Line into Tokens, whose text is written to Buffer (at least
 * 2 * strlen(Line) + 2 bytes); *Count is the number found.
 */
static BOOLEAN ScnTokenize(SCN_PARSER *Parser, const char *Line, char *Buffer, SCN_TOKEN *Tokens, ULONG *Count)
{
    char *cursor = (char *)Line, *out = Buffer;

    *Count = 0;
    for (;;) {
        while (*cursor == ' ' || *cursor == '\t')
            cursor++;
        if (*cursor == '\0' || *cursor == '#')
            return TRUE;
        if (*Count == SCN_MAX_TOKENS)
            return ScnParseError(Parser, "too many words on one line (at most %d)", SCN_MAX_TOKENS);
        BOOLEAN quoted = *cursor == '"';
        if (!(quoted ? ScnReadQuoted(Parser, &cursor, out) : ScnReadWord(Parser, &cursor, out)))
            return FALSE;
        if (*cursor && *cursor != ' ' && *cursor != '\t')
            return ScnParseError(Parser, "missing space after quoted text");
        Tokens[*Count].Text = out;
        Tokens[*Count].Quoted = quoted;
        (*Count)++;
        out += strlen(out) + 1;
    }
}

/* ---- syntax strings ---------------------------------------------------- */

/* Splits a syntax string into elements. The tables are static: a malformed row is a programming error. */
static ULONG ScnSyntaxElements(const char *Syntax, SCN_ELEMENT *Elements)
{
    ULONG count = 0;
    const char *p = Syntax;

    while (*p && count < SCN_MAX_ELEMENTS) {
        SCN_ELEMENT *e = &Elements[count];
        int used = 0;

        memset(e, 0, sizeof(*e));
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        if (*p == '[') {
            if (sscanf(p, "[%31s %31[^] ]]%n", e->Keyword, e->Word, &used) != 2 || used == 0)
                break;
        } else {
            if (sscanf(p, "%31s%n", e->Word, &used) != 1)
                break;
        }
        p += used;
        if (e->Word[0] == '+') {
            e->Defines = TRUE;
            memmove(e->Word, e->Word + 1, strlen(e->Word));
        }
        size_t len = strlen(e->Word);
        if (len > 3 && strcmp(e->Word + len - 3, "...") == 0) {
            e->Repeated = TRUE;
            e->Word[len - 3] = '\0';
        }
        count++;
    }
    return count;
}

VOID ScnUsage(const SCN_VERB *Verb, char *Out, size_t OutSize)
{
    size_t used = (size_t)snprintf(Out, OutSize, "%s%s ", Verb->Class == ScnAction ? "" : "expect ", Verb->Name);
    for (const char *s = Verb->Syntax; *s && used + 1 < OutSize; s++)
        if (*s != '+')
            Out[used++] = *s;
    Out[used < OutSize ? used : OutSize - 1] = '\0';
}

static const SCN_KIND *ScnFindKind(const char *Word)
{
    for (size_t i = 0; i < RTL_NUMBER_OF(ScnKindTable); i++)
        if (strcmp(ScnKindTable[i].Word, Word) == 0)
            return &ScnKindTable[i];
    return NULL;
}

static BOOLEAN ScnIsClauseKeyword(const SCN_ELEMENT *Elements, ULONG Count, const char *Token)
{
    for (ULONG i = 0; i < Count; i++)
        if (Elements[i].Keyword[0] && strcmp(Elements[i].Keyword, Token) == 0)
            return TRUE;
    return FALSE;
}

/* Parses Token as a value of Element's kind and appends it to Action. */
static BOOLEAN ScnAddValue(SCN_PARSER *Parser, SCN_ACTION *Action, const SCN_ELEMENT *Element, const SCN_TOKEN *Token)
{
    const SCN_KIND *kind = ScnFindKind(Element->Word);
    SCN_VALUE *value;

    if (!kind)
        return ScnParseError(Parser, "internal error: no argument kind %s", Element->Word);
    if (Action->ValueCount == SCN_MAX_VALUES)
        return ScnParseError(Parser, "too many arguments");
    value = &Action->Values[Action->ValueCount++];
    value->Placeholder = ScnXstrdup(Element->Word);
    value->Keyword = Element->Keyword[0] ? ScnXstrdup(Element->Keyword) : NULL;
    value->Text = ScnXstrdup(Token->Text);
    if (Token->Quoted && strcmp(Element->Word, "DATA") != 0)
        return ScnParseError(Parser, "quoted text is only allowed for DATA");
    if (Token->Quoted) {
        value->ByteCount = (ULONG)strlen(Token->Text);
        value->Bytes = (UCHAR *)ScnXstrdup(Token->Text);
        return TRUE;
    }
    return kind->Parse(Parser, Token->Text, Element->Defines, value);
}

/* Applies Verb's syntax to Tokens[0..Count) and fills Action's values. */
static BOOLEAN ScnApplySyntax(SCN_PARSER *Parser, const SCN_VERB *Verb, const SCN_TOKEN *Tokens, ULONG Count,
                              SCN_ACTION *Action)
{
    SCN_ELEMENT elements[SCN_MAX_ELEMENTS];
    ULONG elementCount = ScnSyntaxElements(Verb->Syntax, elements), t = 0;
    BOOLEAN used[SCN_MAX_ELEMENTS] = { 0 };
    char usage[256];

    ScnUsage(Verb, usage, sizeof(usage));
    for (ULONG e = 0; e < elementCount && !elements[e].Keyword[0]; e++) {
        if (t == Count)
            return ScnParseError(Parser, "missing %s (usage: %s)", elements[e].Word, usage);
        do {
            if (!ScnAddValue(Parser, Action, &elements[e], &Tokens[t++]))
                return FALSE;
        } while (elements[e].Repeated && t < Count && !ScnIsClauseKeyword(elements, elementCount, Tokens[t].Text));
    }
    while (t < Count) {
        ULONG e;
        for (e = 0; e < elementCount; e++)
            if (elements[e].Keyword[0] && strcmp(elements[e].Keyword, Tokens[t].Text) == 0)
                break;
        if (e == elementCount)
            return ScnParseError(Parser, "unexpected '%s' (usage: %s)", Tokens[t].Text, usage);
        if (used[e])
            return ScnParseError(Parser, "'%s' given twice", elements[e].Keyword);
        used[e] = TRUE;
        if (++t == Count)
            return ScnParseError(Parser, "missing %s after '%s' (usage: %s)", elements[e].Word, elements[e].Keyword,
                                 usage);
        if (!ScnAddValue(Parser, Action, &elements[e], &Tokens[t++]))
            return FALSE;
    }
    return TRUE;
}

/* ---- argument kinds ----------------------------------------------------- */

static SCN_SYMBOL *ScnFindSymbol(SCN_PARSER *Parser, const char *Kind, const char *Name)
{
    for (ULONG i = 0; i < Parser->SymbolCount; i++)
        if (strcmp(Parser->Symbols[i].Kind, Kind) == 0 && strcmp(Parser->Symbols[i].Name, Name) == 0)
            return &Parser->Symbols[i];
    return NULL;
}

BOOLEAN ScnParseSymbol(SCN_PARSER *Parser, const char *Token, BOOLEAN Defines, SCN_VALUE *Value)
{
    const SCN_KIND *kind = ScnFindKind(Value->Placeholder);

    if (ScnFindSymbol(Parser, kind->Word, Token))
        return TRUE;
    if (!Defines)
        return ScnParseError(Parser, "unknown %s '%s' (no earlier '%s' line names it)", kind->Noun, Token,
                             kind->Definer);
    Parser->Symbols = ScnGrow(Parser->Symbols, Parser->SymbolCount, sizeof(SCN_SYMBOL));
    Parser->Symbols[Parser->SymbolCount].Kind = ScnXstrdup(kind->Word);
    Parser->Symbols[Parser->SymbolCount].Name = ScnXstrdup(Token);
    Parser->SymbolCount++;
    return TRUE;
}

BOOLEAN ScnParseWord(SCN_PARSER *Parser, const char *Token, BOOLEAN Defines, SCN_VALUE *Value)
{
    (void)Parser, (void)Token, (void)Defines, (void)Value;
    return TRUE;
}

/* Parses a decimal or 0xHEX unsigned number that fits Max. */
static BOOLEAN ScnParseUnsigned(const char *Text, ULONG64 Max, ULONG64 *Number)
{
    int base = 10;
    char *end;

    if (Text[0] == '0' && (Text[1] == 'x' || Text[1] == 'X')) {
        base = 16;
        Text += 2;
    }
    if (ScnHexDigit((unsigned char)Text[0]) < 0 || (base == 10 && (Text[0] < '0' || Text[0] > '9')))
        return FALSE;
    errno = 0;
    *Number = strtoull(Text, &end, base);
    return errno == 0 && *end == '\0' && *Number <= Max;
}

BOOLEAN ScnParseNumber(SCN_PARSER *Parser, const char *Token, BOOLEAN Defines, SCN_VALUE *Value)
{
    (void)Defines;
    if (!ScnParseUnsigned(Token, UINT32_MAX, &Value->Number))
        return ScnParseError(Parser, "%s must be a number (decimal or 0x hex, at most 32 bits), not '%s'",
                             Value->Placeholder, Token);
    return TRUE;
}

BOOLEAN ScnParseStatus(SCN_PARSER *Parser, const char *Token, BOOLEAN Defines, SCN_VALUE *Value)
{
    NTSTATUS status;

    (void)Defines;
    if (!ScnParseStatusText(Token, &status))
        return ScnParseError(Parser, "unknown status '%s' (a STATUS_ name of ntstatus.h, or 0x hex)", Token);
    Value->Number = (ULONG)status;
    return TRUE;
}

BOOLEAN ScnParseBugCheck(SCN_PARSER *Parser, const char *Token, BOOLEAN Defines, SCN_VALUE *Value)
{
    ULONG code;

    (void)Defines;
    if (!ScnParseBugCheckText(Token, &code))
        return ScnParseError(Parser, "unknown bug check '%s' (a name such as REFERENCE_BY_POINTER, or 0x hex)",
                             Token);
    Value->Number = code;
    return TRUE;
}

BOOLEAN ScnParseImageState(SCN_PARSER *Parser, const char *Token, BOOLEAN Defines, SCN_VALUE *Value)
{
    int index = ScnImageStateIndex(Token);

    (void)Defines;
    if (index < 0)
        return ScnParseError(Parser, "unknown image state '%s' (one of: %s)", Token, ScnImageStateWords());
    Value->Number = (ULONG64)index;
    return TRUE;
}

BOOLEAN ScnParseData(SCN_PARSER *Parser, const char *Token, BOOLEAN Defines, SCN_VALUE *Value)
{
    size_t digits;

    (void)Defines;
    if (Token[0] != '0' || (Token[1] != 'x' && Token[1] != 'X'))
        return ScnParseError(Parser, "DATA must be 0xHEXBYTES or \"quoted text\", not '%s'", Token);
    Token += 2;
    digits = strlen(Token);
    if (digits == 0 || digits % 2)
        return ScnParseError(Parser, "DATA 0x... needs an even number of hex digits (whole bytes)");
    Value->Bytes = ScnXmalloc(digits / 2);
    Value->ByteCount = (ULONG)(digits / 2);
    for (size_t i = 0; i < digits; i += 2) {
        int hi = ScnHexDigit((unsigned char)Token[i]), lo = ScnHexDigit((unsigned char)Token[i + 1]);
        if (hi < 0 || lo < 0)
            return ScnParseError(Parser, "DATA has a non-hex digit near '%.2s'", Token + i);
        Value->Bytes[i / 2] = (UCHAR)(hi * 16 + lo);
    }
    return TRUE;
}

/* Symbols a CTL_CODE(...) argument may name. */
#define SCN_CTL_SYMBOL_(name) { #name, name },
static const struct {
    const char *Name;
    ULONG Value;
} ScnCtlSymbols[] = {
    SCN_CTL_SYMBOL_(FILE_DEVICE_UNKNOWN) SCN_CTL_SYMBOL_(FILE_DEVICE_BUS_EXTENDER) SCN_CTL_SYMBOL_(FILE_DEVICE_KS)
    SCN_CTL_SYMBOL_(FILE_DEVICE_DISK) SCN_CTL_SYMBOL_(FILE_DEVICE_NETWORK) SCN_CTL_SYMBOL_(FILE_DEVICE_SERIAL_PORT)
    SCN_CTL_SYMBOL_(FILE_DEVICE_KEYBOARD) SCN_CTL_SYMBOL_(FILE_DEVICE_MOUSE) SCN_CTL_SYMBOL_(FILE_DEVICE_USB)
    SCN_CTL_SYMBOL_(METHOD_BUFFERED) SCN_CTL_SYMBOL_(METHOD_IN_DIRECT) SCN_CTL_SYMBOL_(METHOD_OUT_DIRECT)
    SCN_CTL_SYMBOL_(METHOD_NEITHER) SCN_CTL_SYMBOL_(FILE_ANY_ACCESS) SCN_CTL_SYMBOL_(FILE_SPECIAL_ACCESS)
    SCN_CTL_SYMBOL_(FILE_READ_ACCESS) SCN_CTL_SYMBOL_(FILE_WRITE_ACCESS) SCN_CTL_SYMBOL_(FILE_READ_DATA)
    SCN_CTL_SYMBOL_(FILE_WRITE_DATA)
};
#undef SCN_CTL_SYMBOL_

static BOOLEAN ScnParseCtlArgument(const char *Text, ULONG64 *Value)
{
    for (size_t i = 0; i < RTL_NUMBER_OF(ScnCtlSymbols); i++)
        if (strcmp(ScnCtlSymbols[i].Name, Text) == 0) {
            *Value = ScnCtlSymbols[i].Value;
            return TRUE;
        }
    return ScnParseUnsigned(Text, UINT32_MAX, Value);
}

BOOLEAN ScnParseIoctlCode(SCN_PARSER *Parser, const char *Token, BOOLEAN Defines, SCN_VALUE *Value)
{
    char copy[256], *arg[4], *save = NULL;
    ULONG64 part[4];
    const ULONG64 limit[4] = { 0xffff, 0xfff, 3, 3 };

    (void)Defines;
    if (strncmp(Token, "CTL_CODE(", 9) != 0)
        return ScnParseNumber(Parser, Token, FALSE, Value);
    if (snprintf(copy, sizeof(copy), "%s", Token + 9) >= (int)sizeof(copy) || !copy[0] || copy[strlen(copy) - 1] != ')')
        return ScnParseError(Parser, "malformed CTL_CODE(DeviceType,Function,Method,Access)");
    copy[strlen(copy) - 1] = '\0';
    for (int i = 0; i < 4; i++) {
        arg[i] = strtok_r(i ? NULL : copy, ",", &save);
        if (!arg[i])
            return ScnParseError(Parser, "CTL_CODE needs 4 arguments: DeviceType,Function,Method,Access");
        if (!ScnParseCtlArgument(arg[i], &part[i]) || part[i] > limit[i])
            return ScnParseError(Parser, "bad CTL_CODE argument '%s'", arg[i]);
    }
    if (strtok_r(NULL, ",", &save))
        return ScnParseError(Parser, "CTL_CODE takes 4 arguments");
    Value->Number = CTL_CODE(part[0], part[1], part[2], part[3]);
    return TRUE;
}

/* Resolves Image to an existing file; Out receives its canonical path. */
static BOOLEAN ScnResolveImage(SCN_PARSER *Parser, const char *Image, char *Out)
{
    char candidate[PATH_MAX], searched[1024] = "";
    const char *dirs[2] = { Parser->SearchPath, Parser->ScenarioDir };

    if (Image[0] == '/')
        return realpath(Image, Out) != NULL;
    for (int d = 0; d < 2; d++) {
        if (!dirs[d])
            continue;
        char *list = ScnXstrdup(dirs[d]), *save = NULL;
        for (char *dir = strtok_r(list, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
            snprintf(candidate, sizeof(candidate), "%s/%s", dir, Image);
            if (access(candidate, R_OK) == 0 && realpath(candidate, Out)) {
                free(list);
                return TRUE;
            }
            size_t used = strlen(searched);
            snprintf(searched + used, sizeof(searched) - used, "%s%s", used ? ", " : "", dir);
        }
        free(list);
    }
    snprintf(Out, PATH_MAX, "%s", searched);
    return FALSE;
}

BOOLEAN ScnParseImage(SCN_PARSER *Parser, const char *Token, BOOLEAN Defines, SCN_VALUE *Value)
{
    char resolved[PATH_MAX];

    (void)Defines;
    if (!ScnResolveImage(Parser, Token, resolved)) {
        if (Token[0] == '/')
            return ScnParseError(Parser, "image '%s' not found", Token);
        return ScnParseError(Parser, "image '%s' not found (searched: %s; add -L DIR)", Token, resolved);
    }
    Value->Path = ScnXstrdup(resolved);
    return TRUE;
}

/* ---- lines --------------------------------------------------------------- */

/* Finds the verb (or expect form) a line starts with; *Used is how many tokens name it. */
static const SCN_VERB *ScnFindVerb(SCN_PARSER *Parser, const SCN_TOKEN *Tokens, ULONG Count, ULONG *Used)
{
    char names[512] = "";
    const SCN_VERB *table = ScnVerbTable;
    ULONG tableCount = ScnVerbCount, index = 0;

    if (strcmp(Tokens[0].Text, "expect") == 0) {
        table = ScnExpectTable;
        tableCount = ScnExpectCount;
        index = 1;
    }
    *Used = index + 1;
    for (ULONG i = 0; index < Count && i < tableCount; i++)
        if (strcmp(table[i].Name, Tokens[index].Text) == 0)
            return &table[i];
    for (ULONG i = 0; i < tableCount; i++) {
        size_t used = strlen(names);
        snprintf(names + used, sizeof(names) - used, "%s%s", i ? " " : "", table[i].Name);
    }
    if (index == 0)
        ScnParseError(Parser, "unknown verb '%s' (verbs: %s expect)", Tokens[0].Text, names);
    else if (index >= Count)
        ScnParseError(Parser, "missing what to expect (one of: %s)", names);
    else
        ScnParseError(Parser, "unknown expectation '%s' (one of: %s)", Tokens[index].Text, names);
    return NULL;
}

/* The transcript text of a line: every token but the `expect STATUS` clause of an action. */
static char *ScnMakeEcho(const SCN_VERB *Verb, const SCN_TOKEN *Tokens, ULONG Count)
{
    size_t size = 1;
    char *echo;

    for (ULONG i = 0; i < Count; i++)
        size += strlen(Tokens[i].Text) * 4 + 3;
    echo = ScnXmalloc(size);
    for (ULONG i = 0; i < Count; i++) {
        if (Verb->Class == ScnAction && i > 0 && !Tokens[i].Quoted && strcmp(Tokens[i].Text, "expect") == 0 &&
            i + 1 < Count) {
            i++;
            continue;
        }
        if (echo[0])
            strcat(echo, " ");
        if (!Tokens[i].Quoted) {
            strcat(echo, Tokens[i].Text);
            continue;
        }
        strcat(echo, "\"");
        for (const char *c = Tokens[i].Text; *c; c++) {
            char escaped[8];
            if (*c == '"' || *c == '\\')
                snprintf(escaped, sizeof(escaped), "\\%c", *c);
            else if ((unsigned char)*c < 0x20)
                snprintf(escaped, sizeof(escaped), "\\x%02x", (unsigned char)*c);
            else
                snprintf(escaped, sizeof(escaped), "%c", *c);
            strcat(echo, escaped);
        }
        strcat(echo, "\"");
    }
    return echo;
}

static void ScnNoteService(SCN_SCRIPT *Script, const SCN_ACTION *Action)
{
    const SCN_VALUE *service = ScnArgument(Action, "SERVICE", 0), *image = ScnArgument(Action, "IMAGE", 0);

    for (ULONG i = 0; i < Script->ServiceCount; i++)
        if (strcmp(Script->Services[i].Name, service->Text) == 0)
            return;
    Script->Services = ScnGrow(Script->Services, Script->ServiceCount, sizeof(SCN_SERVICE));
    Script->Services[Script->ServiceCount].Name = ScnXstrdup(service->Text);
    Script->Services[Script->ServiceCount].Image = ScnXstrdup(image->Text);
    Script->ServiceCount++;
}

static void ScnFreeAction(SCN_ACTION *Action)
{
    for (ULONG i = 0; i < Action->ValueCount; i++) {
        free(Action->Values[i].Placeholder);
        free(Action->Values[i].Keyword);
        free(Action->Values[i].Text);
        free(Action->Values[i].Bytes);
        free(Action->Values[i].Path);
    }
    free(Action->Echo);
}

/*
 * Handles `expect bugcheck` placement: an `expect bugcheck` line arms the
 * next action and is not an action itself; the armed action must be the
 * last. TRUE when the line becomes an action of the script, FALSE when it
 * only armed one or was misplaced (an error was reported).
 */
static BOOLEAN ScnPlaceAction(SCN_PARSER *Parser, SCN_ACTION *Action)
{
    if (Parser->ArmedActionLine)
        return ScnParseError(Parser, "nothing runs after line %lu's expected bug check; move this line before it",
                             (unsigned long)Parser->ArmedActionLine);
    if (Action->Verb->Class == ScnBugCheckArm) {
        if (Parser->ArmLine)
            return ScnParseError(Parser, "expect bugcheck given twice (line %lu) without an action between",
                                 (unsigned long)Parser->ArmLine);
        Parser->ArmLine = Parser->Line;
        Parser->ArmCode = (ULONG)ScnArgument(Action, "BUGCHECK", 0)->Number;
        return FALSE;
    }
    if (Parser->ArmLine && Action->Verb->Class != ScnAction)
        return ScnParseError(Parser, "expect bugcheck (line %lu) must be followed by an action, not an expectation",
                             (unsigned long)Parser->ArmLine);
    if (Parser->ArmLine) {
        Action->BugCheckArmed = TRUE;
        Action->BugCheckCode = Parser->ArmCode;
        Action->BugCheckLine = Parser->ArmLine;
        Parser->ArmedActionLine = Parser->Line;
        Parser->ArmLine = 0;
    }
    return TRUE;
}

/* Parses one line; appends its action to the script when it has one. */
static void ScnParseLine(SCN_PARSER *Parser, char *Line)
{
    SCN_TOKEN tokens[SCN_MAX_TOKENS];
    ULONG count, verbTokens;
    SCN_ACTION action;
    const SCN_VERB *verb;
    char *buffer = ScnXmalloc(2 * strlen(Line) + 2);

    Parser->LineFailed = FALSE;
    if (!ScnTokenize(Parser, Line, buffer, tokens, &count) || count == 0 ||
        !(verb = ScnFindVerb(Parser, tokens, count, &verbTokens))) {
        free(buffer);
        return;
    }
    memset(&action, 0, sizeof(action));
    action.Verb = verb;
    action.Line = Parser->Line;
    if (!ScnApplySyntax(Parser, verb, tokens + verbTokens, count - verbTokens, &action) ||
        !ScnPlaceAction(Parser, &action)) {
        ScnFreeAction(&action);
        free(buffer);
        return;
    }
    action.Echo = ScnMakeEcho(verb, tokens, count);
    free(buffer);
    if (verb->Handler == ScnDoInstall)
        ScnNoteService(Parser->Script, &action);
    Parser->Script->Actions = ScnGrow(Parser->Script->Actions, Parser->Script->ActionCount, sizeof(SCN_ACTION));
    Parser->Script->Actions[Parser->Script->ActionCount++] = action;
}

static char *ScnDirectoryOf(const char *FileName)
{
    const char *slash = strrchr(FileName, '/');
    char *dir;

    if (!slash)
        return ScnXstrdup(".");
    dir = ScnXstrdup(FileName);
    dir[slash - FileName + (slash == FileName)] = '\0';
    return dir;
}

BOOLEAN ScnParseScript(const char *FileName, const char *SearchPath, FILE *Err, SCN_SCRIPT *Script)
{
    SCN_PARSER parser = { .FileName = FileName, .SearchPath = SearchPath, .Err = Err, .Script = Script };
    FILE *file = fopen(FileName, "r");
    char *line = NULL;
    size_t capacity = 0;
    ssize_t length;

    memset(Script, 0, sizeof(*Script));
    if (!file) {
        fprintf(Err, "%s: cannot open scenario: %s\n", FileName, strerror(errno));
        return FALSE;
    }
    Script->FileName = ScnXstrdup(FileName);
    parser.ScenarioDir = ScnDirectoryOf(FileName);
    while ((length = getline(&line, &capacity, file)) >= 0) {
        parser.Line++;
        while (length > 0 && (line[length - 1] == '\n' || line[length - 1] == '\r'))
            line[--length] = '\0';
        if (strlen(line) != (size_t)length) {
            parser.LineFailed = FALSE;
            ScnParseError(&parser, "NUL byte in line");
            continue;
        }
        ScnParseLine(&parser, line);
    }
    if (ferror(file)) {
        fprintf(Err, "%s: read error: %s\n", FileName, strerror(errno));
        parser.ErrorCount++;
    }
    if (parser.ArmLine) {
        parser.Line = parser.ArmLine;
        parser.LineFailed = FALSE;
        ScnParseError(&parser, "expect bugcheck is not followed by an action");
    }
    fclose(file);
    free(line);
    free(parser.ScenarioDir);
    for (ULONG i = 0; i < parser.SymbolCount; i++) {
        free(parser.Symbols[i].Kind);
        free(parser.Symbols[i].Name);
    }
    free(parser.Symbols);
    if (parser.ErrorCount) {
        ScnFreeScript(Script);
        return FALSE;
    }
    return TRUE;
}

VOID ScnFreeScript(SCN_SCRIPT *Script)
{
    for (ULONG i = 0; i < Script->ActionCount; i++)
        ScnFreeAction(&Script->Actions[i]);
    for (ULONG i = 0; i < Script->ServiceCount; i++) {
        free(Script->Services[i].Name);
        free(Script->Services[i].Image);
    }
    free(Script->Actions);
    free(Script->Services);
    free(Script->FileName);
    memset(Script, 0, sizeof(*Script));
}

/* ---- argument access ------------------------------------------------------ */

const SCN_VALUE *ScnArgument(const SCN_ACTION *Action, const char *Placeholder, ULONG Index)
{
    for (ULONG i = 0; i < Action->ValueCount; i++)
        if (!Action->Values[i].Keyword && strcmp(Action->Values[i].Placeholder, Placeholder) == 0 && Index-- == 0)
            return &Action->Values[i];
    return NULL;
}

ULONG ScnArgumentCount(const SCN_ACTION *Action, const char *Placeholder)
{
    ULONG count = 0;

    for (ULONG i = 0; i < Action->ValueCount; i++)
        if (!Action->Values[i].Keyword && strcmp(Action->Values[i].Placeholder, Placeholder) == 0)
            count++;
    return count;
}

const SCN_VALUE *ScnClause(const SCN_ACTION *Action, const char *Keyword)
{
    for (ULONG i = 0; i < Action->ValueCount; i++)
        if (Action->Values[i].Keyword && strcmp(Action->Values[i].Keyword, Keyword) == 0)
            return &Action->Values[i];
    return NULL;
}
