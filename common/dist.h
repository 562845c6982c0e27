/* dist: the processes of one run started together by an MPI launcher
 * (mpirun, or srun with PMIx): their number, each one's rank, and what
 * they compute together. The one place that knows MPI: a build without
 * it (UNETPIPE_MPI undefined) compiles this header to one process of
 * rank 0, and a process not started by a launcher is that one process
 * too, without ever calling MPI_Init. Every rank makes the collective
 * calls below in the same order. */
#ifndef UNETPIPE_DIST_H
#define UNETPIPE_DIST_H

#include <stddef.h>
#include <stdint.h>
#include <stdnoreturn.h>

/* Join the other processes when a launcher started this one (its
 * environment has OMPI_COMM_WORLD_SIZE, PMIX_RANK or PMI_SIZE), else stay
 * alone. Dies with one line for the tasks of an srun step without MPI
 * (SLURM_NTASKS > 1, none of those) and, in a build without MPI, for a
 * process launched as one of several. Call once, before anything else
 * of dist. */
void dist_init(int *argc, char ***argv);

/* This process's rank, 0 .. dist_size() - 1, and the number of
 * processes (1 when alone). */
int dist_rank(void);
int dist_size(void);

/* The MPI library built in ("Open MPI v4.1.4, ..."), or NULL for a build
 * without MPI. */
const char *dist_library(void);

/* Sum n values over every rank, in place: every rank gets the sum.
 * Dies with one line on an MPI error. */
void dist_sum_float(float *v, size_t n);
void dist_sum_double(double *v, size_t n);
void dist_sum_u64(uint64_t *v, size_t n);

/* The lowest rank whose n bytes at buf differ from rank 0's (n may differ
 * between ranks), or -1 when every rank has the same bytes. */
int dist_differs(const void *buf, size_t n);

/* Between dist_serial_begin and dist_serial_end rank 0 runs first: the
 * other ranks wait in dist_serial_begin (asleep, polling every few
 * milliseconds) until rank 0 reaches dist_serial_end, so that an error
 * every rank would meet is told once, by rank 0, whose exit ends the
 * others. */
void dist_serial_begin(void);
void dist_serial_end(void);

/* Rank 0, between dist_serial_begin and dist_serial_end: the other ranks
 * leave dist_serial_begin and end with status, quietly; then rank 0
 * leaves MPI and returns, to say why and exit with status itself (for
 * --help and --version, which every rank would meet). */
void dist_serial_quit(int status);

/* Leave the run (MPI_Finalize when joined) and exit with status: every
 * rank calls it together. */
noreturn void dist_exit(int status);

/* The seconds spent in dist_sum_float and the bytes it summed (per rank)
 * since dist_init. */
void dist_stats(double *seconds, double *bytes);

#endif
