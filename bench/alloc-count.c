// A counting allocator for benchmarks: preload it to count the heap
// allocations made while the native Transcoder runs (bench/codecs.ts reads the
// counter through Transcoder.run()).
//
//   gcc -O2 -shared -fPIC -o /tmp/libcount.so bench/alloc-count.c
//   LD_PRELOAD=/tmp/libcount.so node dist/bench/codecs.js
//
// It counts every malloc, calloc, realloc and aligned allocation of the
// process, all threads together.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>
static uint64_t n;
uint64_t rtpe_alloc_count(void) { return __atomic_load_n(&n, __ATOMIC_RELAXED); }
extern void *__libc_malloc(size_t); extern void *__libc_calloc(size_t, size_t); extern void *__libc_realloc(void*, size_t);

void *malloc(size_t s) { __atomic_add_fetch(&n, 1, __ATOMIC_RELAXED); return __libc_malloc(s); }
void *calloc(size_t a, size_t b) { __atomic_add_fetch(&n, 1, __ATOMIC_RELAXED); return __libc_calloc(a, b); }
void *realloc(void *p, size_t s) { __atomic_add_fetch(&n, 1, __ATOMIC_RELAXED); return __libc_realloc(p, s); }
#include <errno.h>
extern void *__libc_memalign(size_t, size_t);
int posix_memalign(void **p, size_t a, size_t s) { __atomic_add_fetch(&n, 1, __ATOMIC_RELAXED); *p = __libc_memalign(a, s); return *p ? 0 : ENOMEM; }
void *aligned_alloc(size_t a, size_t s) { __atomic_add_fetch(&n, 1, __ATOMIC_RELAXED); return __libc_memalign(a, s); }
void *memalign(size_t a, size_t s) { __atomic_add_fetch(&n, 1, __ATOMIC_RELAXED); return __libc_memalign(a, s); }
