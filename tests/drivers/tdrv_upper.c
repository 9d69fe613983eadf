/*
 * tdrv_upper.c - a second legacy test driver image (same code as
 * tdrv_legacy.c, device \Device\TdUpper), for attach/detach tests that need
 * two drivers.
 */
#define TD_NAME L"TdUpper"
#include "tdrv_legacy.c"
