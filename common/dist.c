/* dist: see dist.h. With UNETPIPE_MPI (the Makefile defines it when it
 * finds Open MPI) over MPI_COMM_WORLD; without it, one process. */
#include "dist.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef UNETPIPE_MPI
#include <mpi.h>
#endif

#include "util.h"

static int rank, size = 1;
static double sum_seconds, sum_bytes;

/* A positive count from the environment variable name, 0 when unset or
 * not a number. */
static long
env_count(const char *name)
{
	const char *s = getenv(name);
	char *end;
	long v;

	if (!s || !*s)
		return 0;
	v = strtol(s, &end, 10);
	return *end || v < 0 ? 0 : v;
}

/* 1 when an MPI launcher started this process. */
static int
launched(void)
{
	return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") ||
	       getenv("PMI_SIZE");
}

#ifdef UNETPIPE_MPI

/* Die with MPI's own words for code, returned by the call what. */
static void
check(int code, const char *what)
{
	char msg[MPI_MAX_ERROR_STRING];
	int len = 0;

	if (code == MPI_SUCCESS)
		return;
	if (MPI_Error_string(code, msg, &len) != MPI_SUCCESS)
		len = 0;
	msg[len] = '\0';
	die("rank %d: %s: %s", rank, what, len ? msg : "MPI error");
}

/* Wait for req, for the collectives of the start where a rank may wait
 * long for another one's reading: tested without pause for a millisecond
 * (ranks that arrive together), then asleep between tests. */
static void
wait_asleep(MPI_Request *req, const char *what)
{
	const struct timespec ms2 = { 0, 2000000 };
	double t0 = now_seconds();
	int done = 0;

	for (;;) {
		check(MPI_Test(req, &done, MPI_STATUS_IGNORE), what);
		if (done)
			return;
		if (now_seconds() - t0 > 1e-3)
			nanosleep(&ms2, NULL);
	}
}

void
dist_init(int *argc, char ***argv)
{
	long tasks = env_count("SLURM_NTASKS");
	int provided;

	if (!launched()) {
		if (getenv("SLURM_STEP_ID") && tasks > 1)
			die("started by srun as one of %ld tasks without MPI "
			    "(srun --mpi=pmix, or mpirun)", tasks);
		return;
	}
	check(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided),
	      "MPI_Init_thread");
	check(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN),
	      "MPI_Comm_set_errhandler");
	check(MPI_Comm_rank(MPI_COMM_WORLD, &rank), "MPI_Comm_rank");
	check(MPI_Comm_size(MPI_COMM_WORLD, &size), "MPI_Comm_size");
}

const char *
dist_library(void)
{
	static char name[MPI_MAX_LIBRARY_VERSION_STRING];
	int len = 0;

	if (!name[0]) {
		if (MPI_Get_library_version(name, &len) != MPI_SUCCESS)
			len = 0;
		name[len] = '\0';
		name[strcspn(name, ",\n")] = '\0';
	}
	return name[0] ? name : "MPI";
}

/* Sum n values of type t (of size bytes each) in place, in pieces of at
 * most INT_MAX. */
static void
sum(void *v, size_t n, MPI_Datatype t, size_t bytes)
{
	char *p = v;

	while (size > 1 && n > 0) {
		int k = n > INT_MAX ? INT_MAX : (int)n;
		check(MPI_Allreduce(MPI_IN_PLACE, p, k, t, MPI_SUM,
				    MPI_COMM_WORLD), "MPI_Allreduce");
		p += (size_t)k * bytes;
		n -= k;
	}
}

void
dist_sum_float(float *v, size_t n)
{
	double t0 = now_seconds();

	sum(v, n, MPI_FLOAT, sizeof *v);
	sum_seconds += now_seconds() - t0;
	sum_bytes += (double)n * sizeof *v;
}

void
dist_sum_double(double *v, size_t n)
{
	sum(v, n, MPI_DOUBLE, sizeof *v);
}

void
dist_sum_u64(uint64_t *v, size_t n)
{
	sum(v, n, MPI_UINT64_T, sizeof *v);
}

int
dist_differs(const void *buf, size_t n)
{
	/* The lengths first: -n as the minimum tells the largest. */
	long long len[2] = { (long long)n, -(long long)n };
	int first = INT_MAX, mine;
	MPI_Request req;
	char *copy;

	if (size == 1)
		return -1;
	check(MPI_Iallreduce(MPI_IN_PLACE, len, 2, MPI_LONG_LONG, MPI_MIN,
			     MPI_COMM_WORLD, &req), "MPI_Iallreduce");
	wait_asleep(&req, "MPI_Iallreduce");
	mine = len[0] != -len[1] ? rank : INT_MAX;
	if (len[0] == -len[1] && n > 0) {
		copy = xmalloc(n);
		if (rank == 0)
			memcpy(copy, buf, n);
		for (size_t at = 0; at < n; at += INT_MAX) {
			int k = n - at > INT_MAX ? INT_MAX : (int)(n - at);
			check(MPI_Ibcast(copy + at, k, MPI_BYTE, 0,
					 MPI_COMM_WORLD, &req), "MPI_Ibcast");
			wait_asleep(&req, "MPI_Ibcast");
		}
		if (memcmp(copy, buf, n) != 0)
			mine = rank;
		free(copy);
	}
	check(MPI_Iallreduce(&mine, &first, 1, MPI_INT, MPI_MIN,
			     MPI_COMM_WORLD, &req), "MPI_Iallreduce");
	wait_asleep(&req, "MPI_Iallreduce");
	/* Lengths that differ: some rank other than 0 has its own. */
	if (first == INT_MAX)
		return -1;
	return first ? first : 1;
}

/* What rank 0 tells the others waiting in dist_serial_begin: go on, or
 * end with status GO_QUIT + status. */
#define GO_ON 1
#define GO_QUIT 2

void
dist_serial_begin(void)
{
	MPI_Request req;
	int go = 0;

	if (size == 1 || rank == 0)
		return;
	check(MPI_Ibcast(&go, 1, MPI_INT, 0, MPI_COMM_WORLD, &req),
	      "MPI_Ibcast");
	wait_asleep(&req, "MPI_Ibcast");
	if (go >= GO_QUIT)
		dist_exit(go - GO_QUIT);
}

/* Rank 0 tells the others waiting in dist_serial_begin what to do. */
static void
serial_tell(int go)
{
	MPI_Request req;

	if (size == 1 || rank != 0)
		return;
	check(MPI_Ibcast(&go, 1, MPI_INT, 0, MPI_COMM_WORLD, &req),
	      "MPI_Ibcast");
	check(MPI_Wait(&req, MPI_STATUS_IGNORE), "MPI_Wait");
}

void
dist_serial_end(void)
{
	serial_tell(GO_ON);
}

void
dist_serial_quit(int status)
{
	int on = 0;

	serial_tell(GO_QUIT + status);
	if (MPI_Initialized(&on) == MPI_SUCCESS && on)
		MPI_Finalize();
}

void
dist_exit(int status)
{
	int on = 0;

	fflush(stdout);
	if (MPI_Initialized(&on) == MPI_SUCCESS && on)
		MPI_Finalize();
	exit(status);
}

#else /* !UNETPIPE_MPI */

/* The number of processes the launcher says it started, 0 when it does
 * not say (PMIx alone tells only after MPI_Init). */
static long
launched_size(void)
{
	long n = env_count("OMPI_COMM_WORLD_SIZE");

	return n ? n : env_count("PMI_SIZE");
}

void
dist_init(int *argc, char ***argv)
{
	long n = launched_size(), tasks = env_count("SLURM_NTASKS");

	(void)argc;
	(void)argv;
	if (!n && getenv("SLURM_STEP_ID"))
		n = tasks;
	if (n > 1)
		die("started as one of %ld processes, but built without MPI "
		    "(install Open MPI, make deps, and build again)", n);
	if (!n && launched())
		die("started by an MPI launcher, but built without MPI "
		    "(install Open MPI, make deps, and build again)");
}

const char *
dist_library(void)
{
	return NULL;
}

void
dist_sum_float(float *v, size_t n)
{
	(void)v;
	(void)n;
}

void
dist_sum_double(double *v, size_t n)
{
	(void)v;
	(void)n;
}

void
dist_sum_u64(uint64_t *v, size_t n)
{
	(void)v;
	(void)n;
}

int
dist_differs(const void *buf, size_t n)
{
	(void)buf;
	(void)n;
	return -1;
}

void
dist_serial_begin(void)
{
}

void
dist_serial_end(void)
{
}

void
dist_serial_quit(int status)
{
	(void)status;
}

void
dist_exit(int status)
{
	fflush(stdout);
	exit(status);
}

#endif /* UNETPIPE_MPI */

int
dist_rank(void)
{
	return rank;
}

int
dist_size(void)
{
	return size;
}

void
dist_stats(double *seconds, double *bytes)
{
	*seconds = sum_seconds;
	*bytes = sum_bytes;
}
