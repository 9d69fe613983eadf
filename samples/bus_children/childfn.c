/*
 * childfn.c - the function driver of a toaster child on the bus.
 *
 * The child driver of samples/bus_remlock_deadlock, built with its fix: it
 * keeps one request pended in the bus driver, holding its remove lock for
 * it, and on IRP_MN_REMOVE_DEVICE passes the IRP down FIRST - the bus
 * driver completes the pended request when it sees REMOVE - and only then
 * waits for its remove lock, detaches and deletes its device.
 */
#define SAMPLE_FIXED 1
#include "../bus_remlock_deadlock/childfn_deadlock.c"
