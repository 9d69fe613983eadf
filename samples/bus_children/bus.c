/*
 * bus.c - a WDM bus driver in the style of the WDK toaster bus enumerator.
 *
 * The bus driver of samples/bus_child_leak, built with its fix: its FDO
 * exposes a device interface through which an application plugs and
 * unplugs toaster children (each a PDO, reported in BusRelations), and on
 * the last REMOVE of a child reported missing it deletes the child's PDO,
 * so once the children are gone the bus driver can unload.
 */
#define SAMPLE_FIXED 1
#include "../bus_child_leak/bus_leak.c"
