/*
 * toaster.c - a clean WDM function driver for a root-enumerated "toaster"
 * (in the style of the WDK toaster sample), the function driver the PnP
 * samples stack their filters and monitors on.
 *
 * The toaster of samples/pnp_remlock_leak, built with its fix: the IOCTL
 * path releases the remove lock on every outcome, so REMOVE's wait for the
 * remove lock returns and the FDO is detached and deleted.
 */
#define SAMPLE_FIXED 1
#include "../pnp_remlock_leak/remlock_leak.c"
