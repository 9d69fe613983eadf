/* image_a.c - a tiny "driver image" for the tracer's module-instance test: references an object. */
#include "wdm.h"

__attribute__((visibility("default"), noinline)) LONG_PTR image_entry(PVOID Object);
LONG_PTR image_entry(PVOID Object)
{
    LONG_PTR n = ObfReferenceObject(Object);
    __asm__ volatile("" ::: "memory");
    return n;
}
