/* barrier.h - memory barriers for the shared rings.  x86 is TSO: read and
 * write barriers only have to stop the compiler; a full one is mfence.
 * (xen/io/ring.h's own xen_mb() expects the OS to supply mb().) */
#ifndef BLANKET_BARRIER_H
#define BLANKET_BARRIER_H

#define bl_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define bl_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define bl_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)

#endif
