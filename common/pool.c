#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* RTLD_NEXT */
#endif
#include "pool.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#include <cblas.h>

#include "util.h"

/* OpenBLAS's own functions (exported by every build of it, declared in no
 * header of Debian's serial build). */
void openblas_set_num_threads(int);
int openblas_get_parallel(void);
void *blas_memory_alloc(int procpos);
void blas_memory_free(void *buffer);

/* Debian's serial OpenBLAS (0.3.21, built without USE_LOCKING) keeps its
 * work buffers in one table that blas_memory_alloc searches and marks
 * without a lock: two threads calling sgemm at once may take the same
 * buffer, and one result in some dozens of runs differed. Its sgemm calls
 * blas_memory_alloc and blas_memory_free through its PLT, so the two
 * definitions below, in the program, are the ones it calls: they call
 * OpenBLAS's own under one mutex (what USE_LOCKING would do). */
static pthread_mutex_t blas_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned long blas_wrapped_calls; /* under blas_mu */

void *
blas_memory_alloc(int procpos)
{
	static void *(*real)(int);
	void *p;

	pthread_mutex_lock(&blas_mu);
	blas_wrapped_calls++;
	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "blas_memory_alloc");
	p = real ? real(procpos) : NULL;
	pthread_mutex_unlock(&blas_mu);
	if (!p)
		die("OpenBLAS gave no work buffer");
	return p;
}

void
blas_memory_free(void *buffer)
{
	static void (*real)(void *);

	pthread_mutex_lock(&blas_mu);
	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "blas_memory_free");
	if (real)
		real(buffer);
	pthread_mutex_unlock(&blas_mu);
}

/* OpenBLAS's sgemm packs its operands into a work buffer that it maps
 * (mmap, then malloc) the first time a thread needs one, and keeps for
 * reuse: one per thread calling it at once. Up to 0.3.29, when that fails
 * it retries for ever at 100 % CPU (and unet-train, which stops between
 * batches when a signal asks, never stops), as under
 * a `ulimit -v` too small for it. So each thread of ours takes its buffer
 * once, before any sgemm, right after checking that BLAS_BUFFER bytes can
 * be mapped: out of memory then is our message. 0.3.21's buffer is 128 MiB
 * and its header (BUFFER_SIZE, a constant of its build); the margin covers
 * the header and page rounding. */
#define BLAS_BUFFER (((size_t)128 << 20) + ((size_t)64 << 10))

/* A thread's scratch: an im2col tile, private gradients, and OpenBLAS's
 * work buffer while the threads take theirs. */
struct scratch {
	float *col;
	float *grad;
	void *blas;
};

/* How long a thread waiting for a job, or the caller waiting for its
 * workers, polls before it sleeps: jobs follow each other within
 * microseconds inside a pass of the network, and a wake-up from sleep
 * costs tens of them (37 us a job on a 2-core guest); a thread that finds
 * no job in this time sleeps, and takes no CPU from other programs of a
 * pipeline. A job on more threads than the process may use CPUs is never
 * polled for: a thread polling would keep the one it waits for from a
 * CPU. */
#define POLL_NS 100000

/* A job handed to one worker: `posted` counts the jobs handed to it, on a
 * cache line of its own. */
struct mailbox {
	_Alignas(64) atomic_uint posted;
};

static struct {
	int started;            /* threads, the caller being thread 0 */
	int ready;              /* threads with an OpenBLAS buffer */
	pthread_t th[POOL_MAX_THREADS];
	/* The job: written by the caller before it posts to the workers of
	 * the job, read by them after; rewritten only when all are done. */
	void (*fn)(void *arg, int t, int nt);
	void *arg;
	int nt;
	int poll;               /* nt <= cpus: wait for it by polling */
	int cpus;               /* the CPUs this process may run on */
	struct mailbox box[POOL_MAX_THREADS];
	_Alignas(64) atomic_int pending;  /* workers still on the job */
	pthread_mutex_t mu;
	pthread_cond_t go, done;
	int asleep_go;          /* workers asleep on go, under mu */
	int asleep_done;        /* the caller asleep on done (0 or 1), under mu */
	size_t col_floats, grad_floats;
	struct scratch s[POOL_MAX_THREADS];
	int blas_buffers;       /* OpenBLAS's buffers: the most held at once */
	int blas_held;          /* buffers held while the threads take them */
	int blas_failed;        /* a thread found no room for one */
} pool = {
	.started = 1,
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.go = PTHREAD_COND_INITIALIZER,
	.done = PTHREAD_COND_INITIALIZER,
};

static void
scratch_alloc(struct scratch *s, int t)
{
	char what[64];

	snprintf(what, sizeof what, "the scratch memory of thread %d", t + 1);
	free(s->col);
	free(s->grad);
	s->col = xmalloc_for(pool.col_floats, sizeof(float), what);
	s->grad = xmalloc_for(pool.grad_floats, sizeof(float), what);
}

void
pool_reserve(size_t col_floats, size_t grad_floats)
{
	if (col_floats <= pool.col_floats && grad_floats <= pool.grad_floats)
		return;
	if (col_floats > pool.col_floats)
		pool.col_floats = col_floats;
	if (grad_floats > pool.grad_floats)
		pool.grad_floats = grad_floats;
	for (int t = 0; t < pool.started; t++)
		scratch_alloc(&pool.s[t], t);
}

float *
pool_col(int t)
{
	return pool.s[t].col;
}

size_t
pool_col_floats(void)
{
	return pool.col_floats;
}

float *
pool_grad(int t)
{
	return pool.s[t].grad;
}

void
pool_share(size_t total, int t, int nt, size_t *lo, size_t *hi)
{
	*lo = total * t / nt;
	*hi = total * (t + 1) / nt;
}

static long long
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void
cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* Poll until stop(arg) holds, for at most POLL_NS; 1 when it does. */
static int
poll_until(int (*stop)(const void *), const void *arg)
{
	long long deadline = 0;

	for (unsigned i = 1;; i++) {
		if (stop(arg))
			return 1;
		cpu_relax();
		if (i % 64 == 0) {
			long long t = now_ns();

			if (deadline == 0)
				deadline = t + POLL_NS;
			else if (t > deadline)
				return 0;
		}
	}
}

struct wait_job {
	int t;
	unsigned seen;
};

static int
job_posted(const void *arg)
{
	const struct wait_job *w = arg;

	return atomic_load_explicit(&pool.box[w->t].posted,
				    memory_order_acquire) != w->seen;
}

static int
workers_done(const void *arg)
{
	(void)arg;
	return atomic_load_explicit(&pool.pending, memory_order_acquire) == 0;
}

/* Wait until ready(arg) holds: by polling first when poll, then asleep on
 * cv, counted in *asleep under mu. Whoever makes ready hold calls wake
 * after, so a sleeper that checked ready under mu is woken. */
static void
await(int (*ready)(const void *), const void *arg, int poll,
      pthread_cond_t *cv, int *asleep)
{
	if (poll && poll_until(ready, arg))
		return;
	pthread_mutex_lock(&pool.mu);
	(*asleep)++;
	while (!ready(arg))
		pthread_cond_wait(cv, &pool.mu);
	(*asleep)--;
	pthread_mutex_unlock(&pool.mu);
}

/* Wake the threads asleep on cv, if any (see await). */
static void
wake(pthread_cond_t *cv, const int *asleep)
{
	pthread_mutex_lock(&pool.mu);
	if (*asleep > 0)
		pthread_cond_broadcast(cv);
	pthread_mutex_unlock(&pool.mu);
}

static void *
worker(void *arg)
{
	/* nothing is posted to a thread before it starts */
	struct wait_job w = { .t = (int)(intptr_t)arg, .seen = 0 };
	int poll = 0;           /* the last job's: likely the next one's */

	for (;;) {
		await(job_posted, &w, poll, &pool.go, &pool.asleep_go);
		w.seen++;
		pool.fn(pool.arg, w.t, pool.nt);
		poll = pool.poll;
		if (atomic_fetch_sub_explicit(&pool.pending, 1,
					      memory_order_acq_rel) == 1)
			wake(&pool.done, &pool.asleep_done);
	}
	return NULL;
}

/* Run the job on threads 0 .. nt-1, all started. Only the workers of the
 * job are posted to, and the next job is written only when all of them
 * are done with this one. */
static void
run(int nt, void (*fn)(void *, int, int), void *arg)
{
	if (nt == 1) {
		fn(arg, 0, 1);
		return;
	}
	pool.fn = fn;
	pool.arg = arg;
	pool.nt = nt;
	pool.poll = nt <= pool.cpus;
	atomic_store_explicit(&pool.pending, nt - 1, memory_order_relaxed);
	for (int t = 1; t < nt; t++)
		atomic_fetch_add_explicit(&pool.box[t].posted, 1,
					  memory_order_release);
	wake(&pool.go, &pool.asleep_go);
	fn(arg, 0, nt);
	await(workers_done, NULL, pool.poll, &pool.done, &pool.asleep_done);
}

/* On thread t, one thread at a time: take OpenBLAS's buffer and hold it,
 * so that the next thread gets a buffer of its own; unless a thread before
 * failed, check first that BLAS_BUFFER bytes can be mapped when OpenBLAS
 * has no free buffer left and will map one. */
static void
blas_take(void *arg, int t, int nt)
{
	static pthread_mutex_t one_at_a_time = PTHREAD_MUTEX_INITIALIZER;
	void *room;

	(void)arg;
	(void)nt;
	pthread_mutex_lock(&one_at_a_time);
	if (!pool.blas_failed && pool.blas_held >= pool.blas_buffers) {
		room = mmap(NULL, BLAS_BUFFER, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (room == MAP_FAILED)
			pool.blas_failed = 1;
		else
			munmap(room, BLAS_BUFFER);
	}
	if (!pool.blas_failed) {
		pool.s[t].blas = blas_memory_alloc(0);
		pool.blas_held++;
	}
	pthread_mutex_unlock(&one_at_a_time);
}

/* On thread t: give back the buffer blas_take took (OpenBLAS keeps it). */
static void
blas_give_back(void *arg, int t, int nt)
{
	(void)arg;
	(void)nt;
	if (pool.s[t].blas)
		blas_memory_free(pool.s[t].blas);
	pool.s[t].blas = NULL;
}

/* Once: a serial OpenBLAS whose sgemm took its buffer without passing
 * through the wrapper above (another build than the one this program was
 * made for) would race between our threads: refuse it rather than give
 * results that differ from run to run. */
static void
blas_check_wrapped(void)
{
	static int checked;
	enum { N = 128 };
	float *a;
	unsigned long before;

	if (checked || openblas_get_parallel() != 0)
		return;
	checked = 1;
	a = xcalloc(3 * N * N, sizeof *a);
	pthread_mutex_lock(&blas_mu);
	before = blas_wrapped_calls;
	pthread_mutex_unlock(&blas_mu);
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, N, N, 1.0f,
		    a, N, a + N * N, N, 0.0f, a + 2 * N * N, N);
	pthread_mutex_lock(&blas_mu);
	before = blas_wrapped_calls - before;
	pthread_mutex_unlock(&blas_mu);
	if (before == 0)
		die("this OpenBLAS takes its work buffers without the lock "
		    "the program adds: it is not safe with several threads");
	free(a);
}

/* Make sure that no sgemm of threads 0 .. nt-1 will have to map a buffer:
 * all nt take one at once, so that OpenBLAS holds at least nt. */
static void
blas_prepare(int nt)
{
	pool.blas_held = 0;
	run(nt, blas_take, NULL);
	if (pool.blas_failed) {
		char what[80];

		snprintf(what, sizeof what, "OpenBLAS's work buffer %d of %d, "
			 "one per thread", pool.blas_held + 1, nt);
		die_out_of_memory(1, BLAS_BUFFER, what);
	}
	if (pool.blas_held > pool.blas_buffers)
		pool.blas_buffers = pool.blas_held;
	run(nt, blas_give_back, NULL);
	blas_check_wrapped();
	pool.ready = nt;
}

void
pool_start(int nt)
{
	int from = pool.started;

	if (nt < 1 || nt > POOL_MAX_THREADS)
		die("pool: %d threads, expected 1 to %d", nt,
		    POOL_MAX_THREADS);
	if (nt <= pool.ready)
		return;
	openblas_set_num_threads(1);
	if (pool.cpus == 0) {
		cpu_set_t set;

		pool.cpus = sched_getaffinity(0, sizeof set, &set) == 0 ?
			CPU_COUNT(&set) : 1;
	}
	for (int t = from; t < nt; t++) {
		int err = pthread_create(&pool.th[t], NULL, worker,
					 (void *)(intptr_t)t);

		if (err) {
			errno = err;
			die("cannot start thread %d of %d:", t + 1, nt);
		}
		pool.started = t + 1;
	}
	for (int t = from; t < nt; t++)
		if (pool.col_floats > 0)
			scratch_alloc(&pool.s[t], t);
	blas_prepare(nt);
}

void
pool_run(int nt, void (*fn)(void *arg, int t, int nt), void *arg)
{
	if (nt > pool.ready || nt < 1)
		pool_start(nt);
	run(nt, fn, arg);
}
