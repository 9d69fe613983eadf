/*
 * dump.c - `obtrace dump`: one line per record (see dump.h). The line
 * formats are a stable interface: fields appear in a fixed order and
 * optional event fields only when the event carries them.
 */
#include "dump.h"

#include <inttypes.h>
#include <string.h>

#include "trace_reader.h"

void dump_quoted(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"')
            fputs("\\\"", out);
        else if (*p < 0x20 || *p >= 0x7f)
            fprintf(out, "\\x%02x", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

static void dump_header(FILE *out, const struct tr_header *h)
{
    fprintf(out, "header version=%u pointer_size=%u clock=%s flags=0x%04x chunk_size=%u pid=%u ppid=%u cmdline=",
            h->version, h->pointer_size, h->clock == OBT_CLOCK_MONOTONIC ? "monotonic" : "unknown",
            h->flags, h->chunk_size, h->pid, h->ppid);
    char buf[4096];
    size_t n = h->cmdline_len < sizeof(buf) - 1 ? h->cmdline_len : sizeof(buf) - 1;
    memcpy(buf, h->cmdline, n);
    while (n && buf[n - 1] == 0)
        n--;
    for (size_t i = 0; i < n; i++)
        if (buf[i] == 0)
            buf[i] = ' ';
    buf[n] = 0;
    dump_quoted(out, buf);
    fputc('\n', out);
}

static void dump_name(FILE *out, const char *label, const char *name, unsigned value)
{
    if (name)
        fprintf(out, " %s=%s", label, name);
    else
        fprintf(out, " %s=%u", label, value);
}

static void dump_event(FILE *out, const struct tr_event *e, uint64_t start_ns)
{
    char tag[16];
    fprintf(out, "seq=%" PRIu64 " tid=%u EVENT", e->seq, e->tid);
    dump_name(out, "op", tr_op_name(e->op), e->op);
    dump_name(out, "type", tr_obj_type_name(e->obj_type), e->obj_type);
    fprintf(out, " obj=%u count=%d stack=%u", e->object, e->count, e->stack);
    if (e->flags & OBT_EV_TAG)
        fprintf(out, " tag=%s", tr_format_tag(e->tag, tag));
    if (e->flags & OBT_EV_STATUS)
        fprintf(out, " status=0x%08x", (uint32_t)e->status);
    if (e->flags & OBT_EV_OBJ2)
        fprintf(out, " obj2=%u", e->obj2);
    if (e->flags & OBT_EV_ARG)
        fprintf(out, " arg=0x%" PRIx64, e->arg);
    if (e->flags & OBT_EV_STRING)
        fprintf(out, " string=%u", e->string);
    if (e->flags & OBT_EV_MODULE)
        fprintf(out, " module=%u", e->module);
    if (e->flags & OBT_EV_ARG2)
        fprintf(out, " arg2=0x%" PRIx64, e->arg2);
    if (e->flags & OBT_EV_PRE)
        fputs(" pre", out);
    fprintf(out, " t=%" PRId64 "ns\n", (int64_t)(e->ns - start_ns));
}

static void dump_record(FILE *out, const struct tr_record *rec, uint64_t start_ns)
{
    if (rec->type == OBT_REC_EVENT) {
        dump_event(out, &rec->u.ev, start_ns);
        return;
    }
    const char *name = tr_record_type_name(rec->type);
    fprintf(out, "seq=%" PRIu64 " tid=%u ", rec->seq, rec->tid);
    switch (rec->type) {
    case OBT_REC_STACK:
        fprintf(out, "%s id=%u depth=%u frames=", name, rec->u.stack.id, rec->u.stack.depth);
        for (uint32_t i = 0; i < rec->u.stack.depth; i++)
            fprintf(out, "%s0x%" PRIx64, i ? "," : "", rec->u.stack.frames[i]);
        if (!rec->u.stack.depth)
            fputc('-', out);
        break;
    case OBT_REC_MODULE_LOAD: {
        const struct tr_module_load *m = &rec->u.mload;
        fprintf(out, "%s instance=%u seq_hint=%u base=0x%" PRIx64 " start=0x%" PRIx64 " end=0x%" PRIx64 " build_id=",
                name, m->instance, m->seq_hint, m->base, m->start, m->end);
        for (unsigned i = 0; i < m->build_id_len; i++)
            fprintf(out, "%02x", m->build_id[i]);
        if (!m->build_id_len)
            fputc('-', out);
        fputs(" path=", out);
        dump_quoted(out, m->path);
        break;
    }
    case OBT_REC_MODULE_UNLOAD:
        fprintf(out, "%s instance=%u seq_hint=%u", name, rec->u.munload.instance, rec->u.munload.seq_hint);
        break;
    case OBT_REC_OBJECT: {
        const struct tr_object *o = &rec->u.object;
        fprintf(out, "%s id=%u", name, o->id);
        dump_name(out, "type", tr_obj_type_name(o->type), o->type);
        fprintf(out, " address=0x%" PRIx64 " owner=%u image=%u name=", o->address, o->owner, o->image);
        dump_quoted(out, o->name);
        break;
    }
    case OBT_REC_STRING:
        fprintf(out, "%s id=%u text=", name, rec->u.string.id);
        dump_quoted(out, rec->u.string.text);
        break;
    case OBT_REC_DROPPED:
        fprintf(out, "%s count=%u", name, rec->u.dropped.count);
        dump_name(out, "reason", tr_drop_reason_name(rec->u.dropped.reason), rec->u.dropped.reason);
        break;
    case OBT_REC_END:
        fprintf(out, "%s events=%" PRIu64 " dropped=%" PRIu64 " failures=%" PRIu64 " last_seq=%" PRIu64, name,
                rec->u.end.events, rec->u.end.dropped, rec->u.end.failures, rec->u.end.last_seq);
        break;
    case OBT_REC_REBASE:
        fprintf(out, "%s base_seq=%" PRIu64 " base_ns=%" PRIu64, name, rec->u.rebase.base_seq, rec->u.rebase.base_ns);
        break;
    default:
        fprintf(out, "UNKNOWN type=%u size=%u", rec->type, rec->size);
        break;
    }
    fputc('\n', out);
}

int dump_trace(const char *path, FILE *out, FILE *err)
{
    struct trace_reader *r;
    char msg[512];
    if (trace_reader_open(&r, path, TR_DELIVER_UNKNOWN, msg, sizeof(msg)) < 0) {
        fprintf(err, "obtrace: %s: %s\n", path, msg);
        return 2;
    }
    const struct tr_header *h = trace_reader_header(r);
    dump_header(out, h);
    struct tr_record rec;
    while (trace_reader_next(r, &rec))
        dump_record(out, &rec, h->start_clock_ns);
    int rc = 0;
    if (trace_reader_damage(r)) {
        fflush(out);
        fprintf(err, "obtrace: %s: %s\n", path, trace_reader_damage(r));
        rc = 2;
    }
    trace_reader_free(r);
    return rc;
}
