/*
 * rules_files.c - open file objects on a device of the image: a handle an
 * application or driver still holds (open-handle), or the file object
 * IoGetDeviceObjectPointer handed to a driver that never dereferenced it
 * (leaked-reference), each with who holds it and what it blocks.
 */
#include "rules_chain.h"

#include <stdio.h>

#include "ntnames.h"

/* ---- open file objects on a device ---------------------------------------------------------------- */

/* "driver x.so" when a driver image made the call recorded with stack, else "the application". */
static const char *caller_of(const struct chain *c, uint32_t stack, uint64_t seq, char *buf, size_t len)
{
    const struct module *mod = model_stack_driver(c->m, stack, seq);
    if (!mod)
        return "the application";
    snprintf(buf, len, "driver %s", model_module_basename(mod));
    return buf;
}

/* The reference IoGetDeviceObjectPointer handed to its caller, if file still holds it. */
static const struct ref_entry *device_pointer_ref(const struct object *file)
{
    for (size_t i = 0; i < file->nrefs; i++)
        if (file->refs[i].via == VIA_DEVICE_POINTER)
            return &file->refs[i];
    return NULL;
}

static void open_handle_finding(struct chain *c, const struct object *file, const struct object *dev)
{
    char dbuf[300], who[160];
    long h = -1;
    for (size_t i = 0; i < file->nrefs && h < 0; i++)
        if (file->refs[i].label == LBL_HANDLE)
            h = (long)i;
    const struct ref_entry *at = h >= 0 ? &file->refs[h] : NULL;
    struct finding *f = chain_add(c, F_OPEN_HANDLE, file);
    finding_subject(f, "%s still holds %d handle%s open on %s",
                    at ? caller_of(c, at->stack, at->seq, who, sizeof(who)) : "a process", file->handles,
                    file->handles == 1 ? "" : "s", device_name(c->m, dev, dbuf, sizeof(dbuf)));
    rules_add_ref_sites(f, file, LBL_BIT(LBL_HANDLE), "handle opened");
    rules_add_ref_sites(f, file, LBL_BIT(LBL_REF), "references taken");
    finding_set_fix(f, "close the handle (CloseHandle / ZwClose) before the driver is stopped or its device removed");
}

/* A live target-device notification registration made on file (its driver watches the device), or NULL. */
static const struct object *target_registration_on(const struct chain *c, const struct object *file)
{
    for (size_t i = 0; i < c->live->n; i++) {
        const struct object *r = c->live->items[i];
        if (r->type == OBT_OBJ_NOTIFY && r->notify_file == file->id)
            return r;
    }
    return NULL;
}

/* A handle-less file object kept by a pointer reference: IoGetDeviceObjectPointer's, or another leaked one. */
static void file_reference_finding(struct chain *c, const struct object *file, const struct object *dev)
{
    char dbuf[300], who[160];
    const struct ref_entry *gdop = device_pointer_ref(file);
    struct finding *f = chain_add(c, F_LEAKED_REFERENCE, file);
    if (!gdop) {
        finding_subject(f, "file object File #%u on %s is still referenced, without a handle", file->id,
                        device_name(c->m, dev, dbuf, sizeof(dbuf)));
        add_event_site(f, "opened", file->opened);
        rules_add_ref_sites(f, file, LBL_BIT(LBL_REF) | LBL_BIT(LBL_CREATE), "references taken");
        return;
    }
    const struct module *client = model_stack_driver(c->m, gdop->stack, gdop->seq);
    const struct driver *cd = client && client->driver ? model_driver(c->m, client->driver) : NULL;
    finding_subject(f, "%s holds the file object on %s that IoGetDeviceObjectPointer returned to it, "
                    "and never dereferenced it", caller_of(c, gdop->stack, gdop->seq, who, sizeof(who)),
                    device_name(c->m, dev, dbuf, sizeof(dbuf)));
    rules_add_ref_sites(f, file, LBL_BIT(LBL_REF) | LBL_BIT(LBL_CREATE), "IoGetDeviceObjectPointer called");
    if (cd && cd->unload.seq && cd->own_unload)
        finding_add_code_site(f, "its DriverUnload, which did not dereference it:", cd->own_unload, cd->unload.seq);
    if (client && client->unload_seq)
        finding_note(f, "%s was unloaded while still holding it; nothing can release it now",
                     model_module_basename(client));
    const struct object *reg = target_registration_on(c, file);
    if (reg) {
        add_event_site(f, "registered for target-device notification on it", reg->created);
        finding_note(f, "the registration's callback is where the file object must be let go: on "
                        "GUID_TARGET_DEVICE_QUERY_REMOVE (the PnP manager then checks for open files)");
    }
    if (client && reg)
        finding_set_fix(f, "ObDereferenceObject the file object in %s's target-device notification callback on "
                           "GUID_TARGET_DEVICE_QUERY_REMOVE (re-open it on GUID_TARGET_DEVICE_REMOVE_CANCELLED)",
                        model_module_basename(client));
    else if (client && cd && cd->pnp)
        finding_set_fix(f, "ObDereferenceObject the file object in %s when its own device is removed "
                           "(IRP_MN_REMOVE_DEVICE) and when the target's removal is queried (register for "
                           "target-device notification: GUID_TARGET_DEVICE_QUERY_REMOVE)",
                        model_module_basename(client));
    else if (client)
        finding_set_fix(f, "ObDereferenceObject the file object in %s when done with the device, at the latest in "
                           "its DriverUnload", model_module_basename(client));
    else
        finding_set_fix(f, "ObDereferenceObject the file object from IoGetDeviceObjectPointer when done with the device");
    if (cd && cd->pnp && !cd->unload.seq && client && !client->unload_seq)
        finding_note(f, "%s is a PnP driver whose devices are still present: its DriverUnload has not run (the PnP "
                        "manager calls it only after its last device is removed), so a release there comes too late "
                        "for this device's removal", model_module_basename(client));
}

/* Reports each live file object opened on dev: an open handle, or a kernel pointer reference without one. */
unsigned report_open_files(struct chain *c, const struct object *dev, const char *blocked)
{
    unsigned n = 0;
    char dbuf[300], vbuf[24];
    for (size_t i = 0; i < c->live->n; i++) {
        const struct object *file = c->live->items[i];
        if (file->type != OBT_OBJ_FILE || file->file_device != dev->id || !file->nrefs)
            continue;
        n++;
        if (file->handles > 0)
            open_handle_finding(c, file, dev);
        else if (!report_wdf_open_target(c, file, dev))
            file_reference_finding(c, file, dev);
        struct finding *f = &c->v->findings[c->v->nfindings - 1];
        if (blocked)
            finding_note(f, "%s", blocked);
        const struct object *pdo = bottom_device(c->m, dev);
        const char *inst = pdo->veto.seq ? model_string(c->m, pdo->instance) : NULL;
        if (pdo->veto.seq)
            finding_note(f, "it vetoed the removal of %s (%s)", inst ? inst : device_name(c->m, pdo, dbuf, sizeof(dbuf)),
                         nt_veto_name(pdo->veto_type, vbuf));
    }
    return n;
}
