/*
 * cfi.c - classifies a function's call frame information (see cfi.h).
 *
 * The object holding pc is found with dl_iterate_phdr, its FDE by binary
 * search in the .eh_frame_hdr table (the sorted datarel/sdata4 table every
 * linker writes; another layout is answered 0), and then every call frame
 * instruction of the CIE and the FDE is read. The whole function is
 * judged, not only the rules in force at pc: a function that is plain at
 * one address and not at another is not plain. Formats: the System V
 * x86-64 ABI (3.7, DWARF-based unwinding) and the LSB's .eh_frame and
 * .eh_frame_hdr descriptions.
 */
#include "cfi.h"

#include <link.h>
#include <string.h>

enum {
    PE_OMIT = 0xff,
    PE_PCREL = 0x10,
    PE_DATAREL = 0x30,
    PE_TABLE_SDATA4_DATAREL = 0x3b,
    REG_RBP = 6,
    REG_RSP = 7,
    REG_RA = 16,
};

/* A bounded reader: any read past end sets bad. */
struct rd {
    const uint8_t *p, *end;
    int bad;
};

static uint64_t rd_fixed(struct rd *r, unsigned n)
{
    uint64_t v = 0;
    if ((size_t)(r->end - r->p) < n) {
        r->bad = 1;
        return 0;
    }
    memcpy(&v, r->p, n); /* x86-64 is little-endian, as the data is */
    r->p += n;
    return v;
}

static uint64_t rd_uleb(struct rd *r)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        uint8_t b = (uint8_t)rd_fixed(r, 1);
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80) || r->bad)
            return v;
    }
    r->bad = 1;
    return 0;
}

static int64_t rd_sleb(struct rd *r)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        uint8_t b = (uint8_t)rd_fixed(r, 1);
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80) || r->bad) {
            if ((b & 0x40) && shift + 7 < 64)
                v |= ~(uint64_t)0 << (shift + 7);
            return (int64_t)v;
        }
    }
    r->bad = 1;
    return 0;
}

/* Bytes of a DW_EH_PE value format; 0 for one this reader does not take. */
static unsigned encoded_size(uint8_t enc)
{
    switch (enc & 0x0f) {
    case 0x00: /* absptr */
    case 0x04: /* udata8 */
    case 0x0c: /* sdata8 */
        return 8;
    case 0x02: /* udata2 */
    case 0x0a: /* sdata2 */
        return 2;
    case 0x03: /* udata4 */
    case 0x0b: /* sdata4 */
        return 4;
    default:
        return 0;
    }
}

/* A DW_EH_PE-encoded value; pcrel is applied, datarel against base, indirection never. */
static uint64_t rd_encoded(struct rd *r, uint8_t enc, uintptr_t base)
{
    const uint8_t *at = r->p;
    unsigned n = encoded_size(enc);
    if (enc == PE_OMIT || !n) {
        r->bad = 1;
        return 0;
    }
    uint64_t v = rd_fixed(r, n);
    if ((enc & 0x0f) == 0x0a)
        v = (uint64_t)(int64_t)(int16_t)v;
    else if ((enc & 0x0f) == 0x0b)
        v = (uint64_t)(int64_t)(int32_t)v;
    switch (enc & 0x70) {
    case 0:
        return v;
    case PE_PCREL:
        return v + (uintptr_t)at;
    case PE_DATAREL:
        return v + base;
    default:
        r->bad = 1;
        return 0;
    }
}

struct eh_hdr_find {
    uintptr_t pc;
    const uint8_t *hdr;
};

static int find_eh_hdr(struct dl_phdr_info *info, size_t size, void *arg)
{
    struct eh_hdr_find *f = arg;
    const ElfW(Phdr) *eh = NULL;
    int holds = 0;
    (void)size;
    for (unsigned i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *p = &info->dlpi_phdr[i];
        if (p->p_type == PT_LOAD && f->pc - (info->dlpi_addr + p->p_vaddr) < p->p_memsz)
            holds = 1;
        else if (p->p_type == PT_GNU_EH_FRAME)
            eh = p;
    }
    if (!holds)
        return 0;
    f->hdr = eh ? (const uint8_t *)(info->dlpi_addr + eh->p_vaddr) : NULL;
    return 1;
}

/* The FDE the object's search table gives for pc (it may still not cover pc); NULL if none. */
static const uint8_t *fde_lookup(const uint8_t *hdr, uintptr_t pc)
{
    struct rd r = { hdr, hdr + 4 + 2 * 8, 0 };
    uint8_t version = (uint8_t)rd_fixed(&r, 1), ptr_enc = (uint8_t)rd_fixed(&r, 1);
    uint8_t count_enc = (uint8_t)rd_fixed(&r, 1), table_enc = (uint8_t)rd_fixed(&r, 1);
    if (version != 1 || table_enc != PE_TABLE_SDATA4_DATAREL)
        return NULL;
    rd_encoded(&r, ptr_enc, (uintptr_t)hdr);
    uint64_t count = rd_encoded(&r, count_enc, (uintptr_t)hdr);
    if (r.bad || !count)
        return NULL;
    const uint8_t *table = r.p;
    uint64_t lo = 0, hi = count; /* the answer is the last entry whose start is <= pc */
    while (hi - lo > 1) {
        uint64_t mid = lo + (hi - lo) / 2;
        int32_t start;
        memcpy(&start, table + mid * 8, 4);
        if ((uintptr_t)hdr + (intptr_t)start <= pc)
            lo = mid;
        else
            hi = mid;
    }
    int32_t start, fde;
    memcpy(&start, table + lo * 8, 4);
    memcpy(&fde, table + lo * 8 + 4, 4);
    return (uintptr_t)hdr + (intptr_t)start <= pc ? hdr + fde : NULL;
}

/* A CIE or FDE: its body after the length word, or bad for a 64-bit or empty entry. */
static struct rd entry_body(const uint8_t *entry)
{
    uint32_t len;
    memcpy(&len, entry, 4);
    struct rd r = { entry + 4, entry + 4 + len, len == 0 || len == 0xffffffffu };
    return r;
}

struct cie {
    uint8_t fde_enc;
    int augmented; /* 'z': FDEs carry an augmentation length */
    int64_t data_align;
    struct rd ops;
};

/* Skips the augmentation data that the string aug describes; 0, or -1 for a letter not known or not plain ('S'). */
static int cie_augmentation(struct rd *r, const char *aug, struct cie *c)
{
    uint64_t len = rd_uleb(r);
    const uint8_t *end = r->p + len;
    for (const char *a = aug + 1; *a && !r->bad; a++) {
        if (*a == 'R') {
            c->fde_enc = (uint8_t)rd_fixed(r, 1);
        } else if (*a == 'L') {
            rd_fixed(r, 1);
        } else if (*a == 'P') {
            unsigned n = encoded_size((uint8_t)rd_fixed(r, 1));
            if (!n)
                return -1;
            rd_fixed(r, n);
        } else {
            return -1;
        }
    }
    if (r->bad || r->p > end || end > r->end)
        return -1;
    r->p = end;
    return 0;
}

static int cie_parse(const uint8_t *entry, struct cie *c)
{
    struct rd r = entry_body(entry);
    if (rd_fixed(&r, 4) != 0) /* the CIE id of .eh_frame */
        return -1;
    uint8_t version = (uint8_t)rd_fixed(&r, 1);
    const char *aug = (const char *)r.p;
    size_t aug_len = r.bad ? 0 : strnlen(aug, (size_t)(r.end - r.p));
    if (r.bad || (version != 1 && version != 3) || aug_len == (size_t)(r.end - r.p))
        return -1;
    r.p += aug_len + 1;
    rd_uleb(&r); /* code alignment: advances are not followed */
    c->data_align = rd_sleb(&r);
    uint64_t ra = version == 1 ? rd_fixed(&r, 1) : rd_uleb(&r);
    c->fde_enc = 0;
    c->augmented = aug[0] == 'z';
    if (ra != REG_RA || (aug[0] && !c->augmented) || (c->augmented && cie_augmentation(&r, aug, c)))
        return -1;
    c->ops = r;
    return r.bad ? -1 : 0;
}

/* A register saved at CFA + off: the trace's standard frame allows %rbp anywhere near, the return address at -8 only. */
static int save_is_plain(uint64_t reg, int64_t off)
{
    if (reg == REG_RA)
        return off == -8;
    if (reg == REG_RBP)
        return off > -(1 << 14) && off < (1 << 14);
    return 1;
}

/* Reads every instruction in r; adds OBT_CFI_ENDS to *flags where the return address is undefined. 0, or -1. */
static int ops_scan(struct rd r, int64_t data_align, unsigned *flags)
{
    while (r.p < r.end && !r.bad) {
        uint8_t op = (uint8_t)rd_fixed(&r, 1);
        uint64_t reg;
        switch (op & 0xc0) {
        case 0x40: /* advance_loc */
        case 0xc0: /* restore */
            continue;
        case 0x80: /* offset */
            if (!save_is_plain(op & 0x3f, (int64_t)rd_uleb(&r) * data_align))
                return -1;
            continue;
        }
        switch (op) {
        case 0x00: /* nop */
        case 0x0a: /* remember_state */
        case 0x0b: /* restore_state */
            break;
        case 0x02: /* advance_loc1, 2, 4 */
        case 0x03:
        case 0x04:
            rd_fixed(&r, op == 0x02 ? 1 : op == 0x03 ? 2 : 4);
            break;
        case 0x05: /* offset_extended */
            reg = rd_uleb(&r);
            if (!save_is_plain(reg, (int64_t)rd_uleb(&r) * data_align))
                return -1;
            break;
        case 0x11: /* offset_extended_sf */
            reg = rd_uleb(&r);
            if (!save_is_plain(reg, rd_sleb(&r) * data_align))
                return -1;
            break;
        case 0x06: /* restore_extended */
            rd_uleb(&r);
            break;
        case 0x08: /* same_value */
            if (rd_uleb(&r) == REG_RA)
                return -1;
            break;
        case 0x07: /* undefined */
            reg = rd_uleb(&r);
            if (reg == REG_RBP || reg == REG_RSP)
                return -1;
            if (reg == REG_RA)
                *flags |= OBT_CFI_ENDS;
            break;
        case 0x0c: /* def_cfa */
        case 0x12: /* def_cfa_sf */
        case 0x0d: /* def_cfa_register */
            reg = rd_uleb(&r);
            if (reg != REG_RSP && reg != REG_RBP)
                return -1;
            if (op == 0x0c)
                rd_uleb(&r);
            else if (op == 0x12)
                rd_sleb(&r);
            break;
        case 0x0e: /* def_cfa_offset */
        case 0x2e: /* GNU_args_size */
            rd_uleb(&r);
            break;
        case 0x13: /* def_cfa_offset_sf */
            rd_sleb(&r);
            break;
        default: /* set_loc, register, the expressions, val_offset, ...: not a standard frame */
            return -1;
        }
    }
    return r.bad ? -1 : 0;
}

/* The flags of fde for pc, 0 when it does not cover pc or is not plain. */
static unsigned fde_classify(const uint8_t *fde, uintptr_t pc)
{
    struct rd r = entry_body(fde);
    uint32_t cie_off = (uint32_t)rd_fixed(&r, 4);
    struct cie c;
    if (r.bad || !cie_off || cie_parse(fde + 4 - cie_off, &c))
        return 0;
    uint64_t begin = rd_encoded(&r, c.fde_enc, 0);
    uint64_t range = rd_encoded(&r, c.fde_enc & 0x0f, 0);
    if (c.augmented) {
        uint64_t skip = rd_uleb(&r);
        if (skip > (uint64_t)(r.end - r.p))
            r.bad = 1;
        else
            r.p += skip;
    }
    if (r.bad || pc - begin >= range)
        return 0;
    unsigned flags = OBT_CFI_PLAIN;
    if (ops_scan(c.ops, c.data_align, &flags) || ops_scan(r, c.data_align, &flags))
        return 0;
    return flags;
}

unsigned obt_cfi_classify(uintptr_t pc)
{
    struct eh_hdr_find f = { pc, NULL };
    if (!dl_iterate_phdr(find_eh_hdr, &f) || !f.hdr)
        return 0;
    const uint8_t *fde = fde_lookup(f.hdr, pc);
    return fde ? fde_classify(fde, pc) : 0;
}

unsigned obt_cfi_classify_cached(struct obt_cfi_cache *c, uintptr_t pc)
{
    unsigned i = (unsigned)((pc * 0x9e3779b97f4a7c15ull) >> 58) % OBT_CFI_CACHE_SLOTS;
    if (c->pc[i] != pc) {
        c->flags[i] = (uint8_t)obt_cfi_classify(pc);
        c->pc[i] = pc;
    }
    return c->flags[i];
}
