/*
 * initguid.h - included before headers that DEFINE_GUID, makes those
 * GUIDs definitions in this translation unit instead of declarations, as
 * in the WDK. Include it in one source file of the driver.
 */
#ifndef NTSIM_INITGUID_H
#define NTSIM_INITGUID_H

#include "wdm.h"

#ifndef INITGUID
#define INITGUID
#endif
#undef DEFINE_GUID
#define DEFINE_GUID(name, l, w1, w2, b1, b2, b3, b4, b5, b6, b7, b8) \
    const GUID DECLSPEC_SELECTANY name = { l, w1, w2, { b1, b2, b3, b4, b5, b6, b7, b8 } }

#endif /* NTSIM_INITGUID_H */
