/* image_b.c - a second, different tiny "driver image" for the tracer's module-instance test: references an object. */
#include "wdm.h"

__attribute__((visibility("default"), noinline)) LONG_PTR image_entry(PVOID Object);
LONG_PTR image_entry(PVOID Object)
{
    LONG_PTR n = ObfReferenceObject(Object);
    n += 0 * ObfReferenceObject(Object);
    ObfDereferenceObject(Object);
    __asm__ volatile("" ::: "memory");
    return n;
}
