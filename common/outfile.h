/* outfile: the files a run reads and writes, so that no run destroys a
 * user's file. An output is written to a temporary file beside its path
 * and renamed over it only when complete (file and folder synced); no
 * output may be one of the run's inputs or another output; temporary
 * files are removed at exit and on every catchable terminating signal
 * (SIGHUP, SIGINT, SIGQUIT, SIGPIPE, SIGALRM, SIGTERM, SIGUSR1, SIGUSR2,
 * SIGXCPU, SIGVTALRM, SIGPROF), with the program's own cleanup hook. */
#ifndef UNETPIPE_OUTFILE_H
#define UNETPIPE_OUTFILE_H

#include <stddef.h>
#include <stdio.h>

/* Record path as an input of this run ("-" is stdin, recorded when it is
 * a regular file). Dies "prog: PATH: is also the standard output" when
 * stdout is redirected to that very file. A path that does not exist is
 * not recorded (its reader reports it). Call for every input before
 * checking or opening any output. */
void outfile_input(const char *path);

/* Die unless path can be an output of this run: not empty, not "-", not
 * an existing folder, device, FIFO or socket (a rename would put a plain
 * file in its place), not one of the recorded inputs (same path or same
 * file: device and inode, hard links and symbolic links included), not a
 * path already checked as an output. Messages: "prog: PATH: ...". Call for
 * every output before anything is read or written. */
void outfile_check(const char *path);

struct outfile;

/* Create the temporary file PATH.XXXXXX beside path, with the mode that
 * creat() would give, and register it for removal at exit and on the
 * signals above (the handler, outfile_fatal_signal, is installed once,
 * only for a signal whose action is still the default: one ignored by the
 * caller stays ignored, one with the program's own handler keeps it, and
 * that handler calls outfile_cleanup or outfile_fatal_signal). Returns
 * NULL with the reason in err on failure. */
struct outfile *outfile_open(const char *path, char *err, size_t errlen);

/* outfile_open that dies "prog: PATH: reason" on failure. */
struct outfile *outfile_open_or_die(const char *path);

/* The stream to write the contents to (owned by o). */
FILE *outfile_stream(struct outfile *o);

/* Flush, fsync and close the temporary file, rename it over the path and
 * fsync the folder; frees o. Returns 0, or -1 with the reason in err (the
 * temporary file removed, the path left as it was). */
int outfile_commit(struct outfile *o, char *err, size_t errlen);

/* outfile_commit that dies "prog: PATH: reason" on failure. */
void outfile_commit_or_die(struct outfile *o);

/* Remove the temporary file and free o; the path is left as it was. */
void outfile_discard(struct outfile *o);

/* Run fn after the temporary files are removed, at exit and on the
 * signals above: a program's own cleanup, such as a lock file beside its
 * outputs; fn must be async-signal-safe. One hook per program (a later
 * call replaces it). Installs the handlers as outfile_open does. */
void outfile_on_exit(void (*fn)(void));

/* Remove every temporary file not yet committed or discarded, then run
 * the hook of outfile_on_exit. Only async-signal-safe calls: for a
 * program's own signal handlers. */
void outfile_cleanup(void);

/* The handler of the signals above: outfile_cleanup, then die of sig by
 * its default action. A program's own handler may end with it. */
void outfile_fatal_signal(int sig);

/* Open path for reading only when it is a regular file, without ever
 * blocking on a FIFO or a device. Returns the stream, or NULL with the
 * reason in err ("not a regular file", or strerror). */
FILE *fopen_regular(const char *path, char *err, size_t errlen);

#endif
