/*
 * toastmon.c - the clean twin of the toastmon notification leaks.
 *
 * The monitor of samples/pnp_notify_iface_leak, built with its fix: on
 * removal of the target it unregisters the target notification, and on its
 * own removal it unregisters everything (the interface registration too),
 * so it unloads cleanly.
 */
#define SAMPLE_FIXED 1
#include "../pnp_notify_iface_leak/toastmon_iface_leak.c"
