/*
 * ntddk.h - drivers that include <ntddk.h> get the same API as <wdm.h>;
 * the simulation has no ntddk-only calls.
 */
#ifndef NTSIM_NTDDK_H
#define NTSIM_NTDDK_H
#include "wdm.h"
#endif
