# trace_events.awk - turns `obtrace dump` output into stable event lines
# for tests: one line per EVENT whose op is in the space-separated list
# `ops` (-v ops="..."; all when empty), as
#   OP obj=NAME [tag=T] [status=S] [obj2=NAME] [arg=A [irp=NAME]] [string="TEXT"] [arg2=A] [pre]
# with object ids replaced by the object's quoted name (or @"OWNER" for an
# unnamed object owned by OWNER, Irp for an IRP), string ids by their quoted
# text (also HOST_ACTION's arg, a string id), INTERFACE_QUERY's arg split
# into its flags and irp= (the requester's IRP), addresses above 4 GiB by <module>,
# the basename of the module mapped there at that point (ADDR if none).
# Sequence numbers, threads, stacks and times are dropped.
function hex(s,    i, v) {
    s = tolower(s); sub(/^0x/, "", s); v = 0
    for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
    return v
}
function field(line, key,    i, n, f) {
    n = split(line, f, " ")
    for (i = 1; i <= n; i++) if (index(f[i], key "=") == 1) return substr(f[i], length(key) + 2)
    return ""
}
function quoted(line,    i) { i = index(line, "text="); if (!i) i = index(line, "name="); return substr(line, i + 5) }
function objname(id) {
    if (id == "" || id == 0) return "-"
    if (otype[id] == "Irp") return "Irp"
    if (oname[id] != "\"\"") return oname[id]
    return "@" oname[oowner[id]]
}
function where(a,    k, best) {
    v = hex(a)
    if (v < 4294967296) return a
    for (k in mstart) if (v >= mstart[k] && v < mend[k]) best = mpath[k]
    return best == "" ? "ADDR" : "<" best ">"
}
/ STRING id=/ { str[field($0, "id")] = quoted($0); next }
/ OBJECT id=/ {
    id = field($0, "id"); oname[id] = quoted($0); oowner[id] = field($0, "owner"); otype[id] = field($0, "type"); next
}
/ MODULE_LOAD / {
    k = field($0, "instance"); mstart[k] = hex(field($0, "start")); mend[k] = hex(field($0, "end"))
    p = quoted(substr($0, index($0, "path=") - 5)); gsub(/"/, "", p); sub(/.*\//, "", p); mpath[k] = p; next
}
/ MODULE_UNLOAD / { k = field($0, "instance"); delete mstart[k]; delete mend[k]; next }
/ EVENT op=/ {
    op = field($0, "op")
    if (ops != "" && index(" " ops " ", " " op " ") == 0) next
    out = op " obj=" objname(field($0, "obj"))
    if ((v = field($0, "tag")) != "") out = out " tag=" v
    if ((v = field($0, "status")) != "") out = out " status=" v
    if ((v = field($0, "obj2")) != "") out = out " obj2=" objname(v)
    if ((v = field($0, "arg")) != "" && op == "INTERFACE_QUERY")
        out = out sprintf(" arg=0x%x irp=%s", hex(v) % 4294967296, objname(int(hex(v) / 4294967296)))
    else if (v != "") out = out " arg=" (op == "HOST_ACTION" ? str[hex(v)] : where(v))
    if ((v = field($0, "string")) != "") out = out " string=" str[v]
    if ((v = field($0, "arg2")) != "") out = out " arg2=" where(v)
    if ($0 ~ / pre t=/) out = out " pre"
    print out
}
