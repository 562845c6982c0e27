/* Unit tests of common/pool: static shares, jobs on several thread counts
 * in one process (the pool grows, never re-creates a thread, leaves the
 * threads beyond a job's count idle), jobs with fewer items than threads,
 * results that depend only on the count, scratch that follows the growth,
 * sgemm on every thread, jobs handed over while the workers poll and
 * while they sleep, and the count's bounds. */
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cblas.h>

#include "pool.h"
#include "tap.h"
#include "util.h"

static void
test_share(void)
{
	int ok = 1;

	for (int nt = 1; nt <= 9; nt++)
		for (size_t total = 0; total < 30; total += 1 + total / 3) {
			size_t next = 0, lo, hi;

			for (int t = 0; t < nt; t++) {
				pool_share(total, t, nt, &lo, &hi);
				if (lo != next || hi < lo)
					ok = 0;
				next = hi;
			}
			if (next != total)
				ok = 0;
		}
	tap_ok(ok, "pool_share: consecutive shares that cover 0 .. total, "
	       "also with fewer items than threads");
}

/* What each thread saw of a job. */
static struct {
	int ran[POOL_MAX_THREADS];
	int nt[POOL_MAX_THREADS];
	pthread_t self[POOL_MAX_THREADS];
} seen;

static void
record(void *arg, int t, int nt)
{
	(void)arg;
	seen.ran[t]++;
	seen.nt[t] = nt;
	seen.self[t] = pthread_self();
}

static void
test_counts(void)
{
	int counts[] = { 1, 3, 8, 2, 5, 8, 1, 64, 4, 64, 2 };
	pthread_t first[POOL_MAX_THREADS];
	int known[POOL_MAX_THREADS] = { 0 };

	for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
		int nt = counts[i], ran = 1, same = 1;

		memset(&seen, 0, sizeof seen);
		pool_run(nt, record, NULL);
		for (int t = 0; t < POOL_MAX_THREADS; t++) {
			if (seen.ran[t] != (t < nt) ||
			    (t < nt && seen.nt[t] != nt))
				ran = 0;
			if (t >= nt)
				continue;
			if (t == 0 && !pthread_equal(seen.self[0],
						     pthread_self()))
				same = 0;
			if (known[t] && !pthread_equal(seen.self[t], first[t]))
				same = 0;
			first[t] = seen.self[t];
			known[t] = 1;
		}
		tap_ok(ran && same, "job %zu on %d threads: threads 0 .. %d ran "
		       "it once, the others idle; the caller is thread 0 and "
		       "every thread is the one started first", i + 1, nt,
		       nt - 1);
	}
}

/* Items 0 .. total-1, each counted by the thread whose share it is. */
struct items {
	size_t total;
	int owner[8];
	int hits[8];
};

static void
mark(void *arg, int t, int nt)
{
	struct items *it = arg;
	size_t lo, hi;

	pool_share(it->total, t, nt, &lo, &hi);
	for (size_t i = lo; i < hi; i++) {
		it->owner[i] = t;
		it->hits[i]++;
	}
}

static void
test_few_items(void)
{
	for (int nt = 16; nt <= POOL_MAX_THREADS; nt *= 4) {
		struct items it = { .total = 3 };
		size_t lo, hi;
		int ok = 1;

		pool_run(nt, mark, &it);
		for (size_t i = 0; i < it.total; i++) {
			pool_share(it.total, it.owner[i], nt, &lo, &hi);
			if (it.hits[i] != 1 || i < lo || i >= hi)
				ok = 0;
		}
		tap_ok(ok, "3 items on %d threads: each done once, by its "
		       "owner", nt);
	}
}

/* A float sum in per-thread parts added in thread order: its bits depend
 * on the thread count only. */
#define NSUM 100000
static float values[NSUM];

struct sum {
	float part[POOL_MAX_THREADS];
};

static void
sum_part(void *arg, int t, int nt)
{
	struct sum *s = arg;
	size_t lo, hi;
	float acc = 0;

	pool_share(NSUM, t, nt, &lo, &hi);
	for (size_t i = lo; i < hi; i++)
		acc += values[i];
	s->part[t] = acc;
}

static float
sum_on(int nt)
{
	struct sum s;
	float total = 0;

	pool_run(nt, sum_part, &s);
	for (int t = 0; t < nt; t++)
		total += s.part[t];
	return total;
}

/* The same sum computed serially with the shares of nt threads. */
static float
sum_serial(int nt)
{
	struct sum s;
	float total = 0;

	for (int t = 0; t < nt; t++)
		sum_part(&s, t, nt);
	for (int t = 0; t < nt; t++)
		total += s.part[t];
	return total;
}

static void
test_deterministic(void)
{
	int counts[] = { 3, 7, 64, 3, 7, 1 };
	float first[POOL_MAX_THREADS + 1] = { 0 };
	int differs;

	for (size_t i = 0; i < NSUM; i++)
		values[i] = (float)(i % 1000) * 1.0e-3f + 1.0f / (float)(i + 1);
	for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
		int nt = counts[i];
		float got = sum_on(nt), want = sum_serial(nt);

		if (first[nt] == 0)
			first[nt] = got;
		tap_ok(memcmp(&got, &want, sizeof got) == 0 &&
		       memcmp(&got, &first[nt], sizeof got) == 0,
		       "a sum on %d threads: the bits of its serial "
		       "equivalent, whatever ran before", nt);
	}
	differs = memcmp(&first[3], &first[7], sizeof(float)) != 0 ||
		  memcmp(&first[7], &first[64], sizeof(float)) != 0;
	tap_ok(differs, "the sums on 3, 7 and 64 threads are not all the same "
	       "bits (the test can tell the counts apart)");
}

/* Each thread fills its whole scratch. */
static void
fill_scratch(void *arg, int t, int nt)
{
	(void)arg;
	(void)nt;
	for (size_t i = 0; i < pool_col_floats(); i++)
		pool_col(t)[i] = (float)t;
	for (size_t i = 0; i < 100; i++)
		pool_grad(t)[i] = (float)t;
}

static void
test_scratch(void)
{
	int ok = 1;

	pool_run(8, record, NULL);
	pool_reserve(1000, 100);
	pool_reserve(10, 10);
	pool_run(64, fill_scratch, NULL);
	for (int t = 0; t < 64; t++)
		if (pool_col(t)[999] != (float)t || pool_grad(t)[99] != (float)t)
			ok = 0;
	tap_ok(ok && pool_col_floats() == 1000, "scratch reserved while 8 "
	       "threads run: every one of 64 gets it, and it never shrinks");
}

/* An sgemm on every thread at once, each on its own matrices. */
struct gemm {
	float a[POOL_MAX_THREADS][64 * 64], c[POOL_MAX_THREADS][64 * 64];
	float b[64 * 64];
};

static void
gemm_part(void *arg, int t, int nt)
{
	struct gemm *g = arg;

	(void)nt;
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 64, 64, 64,
		    1.0f, g->a[t], 64, g->b, 64, 0.0f, g->c[t], 64);
}

static void
test_gemm(void)
{
	struct gemm *g = xcalloc(1, sizeof *g);
	int ok = 1;

	/* b the identity times 2: c = 2 a */
	for (int i = 0; i < 64; i++)
		g->b[i * 64 + i] = 2;
	for (int t = 0; t < POOL_MAX_THREADS; t++)
		for (int i = 0; i < 64 * 64; i++)
			g->a[t][i] = (float)(t * 7 + i % 13);
	for (int rep = 0; rep < 3; rep++) {
		pool_run(POOL_MAX_THREADS, gemm_part, g);
		for (int t = 0; t < POOL_MAX_THREADS; t++)
			for (int i = 0; i < 64 * 64; i++)
				if (g->c[t][i] != 2 * g->a[t][i])
					ok = 0;
	}
	tap_ok(ok, "sgemm on %d threads at once, three times: every result "
	       "right", POOL_MAX_THREADS);
	free(g);
}

static void
start_bad(const void *arg)
{
	pool_start(*(const int *)arg);
}

static void
test_bounds(void)
{
	int bad[] = { 0, POOL_MAX_THREADS + 1 };
	char err[256], want[128];

	for (int i = 0; i < 2; i++) {
		int status = tap_child(start_bad, &bad[i], err, sizeof err);
		int same;

		snprintf(want, sizeof want, "test_pool: pool: %d threads, "
			 "expected 1 to %d\n", bad[i], POOL_MAX_THREADS);
		same = strcmp(err, want) == 0;
		err[strcspn(err, "\n")] = '\0';
		tap_ok(status == 1 && same, "pool_start(%d): one line, status 1 "
		       "(%d: %s)", bad[i], status, err);
	}
}

/* Per thread: the jobs it ran and the sum of their values, each value
 * read from the job's argument, written by the caller just before. */
struct tally {
	long value;
	long jobs[8];
	long sum[8];
};

static void
count_job(void *arg, int t, int nt)
{
	struct tally *y = arg;

	(void)nt;
	y->jobs[t]++;
	y->sum[t] += y->value;
}

/* Jobs back to back on 2 threads (the worker finds each while polling),
 * on thread counts that change from job to job, then jobs 300 us apart
 * (longer than a worker polls: each is handed to threads asleep): every
 * thread of a job runs it once and sees its argument, the others none. A
 * job lost in the handover would hang: the alarm ends the test then. */
static void
test_handover(void)
{
	static const struct {
		int jobs, pause, counts[5];
		const char *what;
	} rounds[] = {
		{ 20000, 0, { 2, 2, 2, 2, 2 }, "20000 jobs on 2 threads back "
		  "to back" },
		{ 2000, 0, { 2, 4, 3, 8, 2 }, "2000 jobs on 2, 4, 3, 8 and 2 "
		  "threads in turn, back to back" },
		{ 300, 1, { 2, 4, 3, 8, 2 }, "300 jobs on 2, 4, 3, 8 and 2 "
		  "threads in turn, 300 us apart" },
	};
	struct timespec pause = { 0, 300000 };

	alarm(120);
	for (size_t r = 0; r < sizeof rounds / sizeof rounds[0]; r++) {
		struct tally y;
		long want_jobs[8] = { 0 }, want_sum[8] = { 0 };
		int ok = 1;

		memset(&y, 0, sizeof y);
		for (int j = 0; j < rounds[r].jobs; j++) {
			int nt = rounds[r].counts[j % 5];

			y.value = j + 1;
			for (int t = 0; t < nt; t++) {
				want_jobs[t]++;
				want_sum[t] += j + 1;
			}
			pool_run(nt, count_job, &y);
			if (rounds[r].pause)
				nanosleep(&pause, NULL);
		}
		for (int t = 0; t < 8; t++)
			if (y.jobs[t] != want_jobs[t] || y.sum[t] != want_sum[t])
				ok = 0;
		tap_ok(ok, "%s: each ran by its threads once, with its own "
		       "argument", rounds[r].what);
	}
	alarm(0);
}

int
main(int argc, char **argv)
{
	prog_init(argc, argv);
	/* first: a child forked while threads run would leave LeakSanitizer
	 * lines of its own in the captured stderr */
	test_bounds();
	test_share();
	test_counts();
	test_few_items();
	test_deterministic();
	test_scratch();
	test_gemm();
	test_handover();
	return tap_done();
}
