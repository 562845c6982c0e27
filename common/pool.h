/* pool: the worker threads the layers of nn run on, their scratch memory,
 * and what makes OpenBLAS safe and bounded inside them.
 *
 * - The caller is thread 0. Threads are started lazily, the first time a
 *   job asks for that many, and kept: the pool only grows to the largest
 *   count asked for, and a job on fewer threads leaves the others idle.
 *   The thread count is an argument of each job, never process state.
 * - Each thread has two scratch buffers (an im2col tile, private
 *   gradients) that grow with pool_reserve and never shrink.
 * - OpenBLAS runs single-threaded inside our threads. Debian's serial
 *   build keeps its work buffers in a table it searches without a lock:
 *   pool.c interposes blas_memory_alloc / blas_memory_free to take them
 *   under one mutex, checks once that OpenBLAS does call them, and has
 *   every thread take its 128 MiB buffer once, before any sgemm, after
 *   checking that it can be mapped (OpenBLAS would retry for ever): out of
 *   memory is then one line of ours.
 * - A job is handed to each of its threads through a counter of its own;
 *   a thread waiting for a job, or the caller for its threads, polls for
 *   up to 0.1 ms before it sleeps on a condition variable, except when
 *   the job has more threads than the process has CPUs.
 * - Not reentrant: one job at a time, from one calling thread. */
#ifndef UNETPIPE_POOL_H
#define UNETPIPE_POOL_H

#include <stddef.h>

/* The most threads a job may run on. */
#define POOL_MAX_THREADS 64

/* Make nt threads (1 .. POOL_MAX_THREADS) ready for a job: started, with
 * the scratch reserved so far and OpenBLAS's work buffers; dies (one line)
 * when a thread cannot start or a buffer cannot be mapped. */
void pool_start(int nt);

/* Make every thread's scratch, now and later started, at least col_floats
 * and grad_floats floats (never shrinks). */
void pool_reserve(size_t col_floats, size_t grad_floats);

/* The im2col scratch of thread t and its size in floats. */
float *pool_col(int t);
size_t pool_col_floats(void);

/* The gradient scratch of thread t. */
float *pool_grad(int t);

/* Run fn(arg, t, nt) on the threads t = 0 .. nt-1 (pool_start(nt) first
 * when needed) and wait for all of them. */
void pool_run(int nt, void (*fn)(void *arg, int t, int nt), void *arg);

/* The static share [*lo, *hi) of thread t of nt in 0 .. total. */
void pool_share(size_t total, int t, int nt, size_t *lo, size_t *hi);

#endif
