/*
 * usage_writer.h - group commit of per-key usage totals.
 *
 * Each finished request pushes its usage here (no I/O on the caller's
 * thread). A single flush job on the worker pool takes everything queued and
 * writes it in one pipelined round trip (one usage script per request), then
 * looks again. At low load a push is written at once, as before; under load
 * requests share round trips and worker wake-ups instead of paying one each.
 * Totals stay exact: every usage is written, nothing is summed away. While
 * Redis is away usages wait in a bounded in-memory spool and are retried
 * with back-off; what the spool cannot hold is counted (see usage_writer.c).
 */
#ifndef RELAY_USAGE_WRITER_H
#define RELAY_USAGE_WRITER_H

#include <stddef.h>

struct app;
struct accounting;
struct usage_writer;

/* app->redis, app->workers and app->usage_stats must outlive the writer. */
struct usage_writer *usage_writer_new(struct app *app);
/* Queue one request's accounting (copied). Thread-safe. 0, or -ERR_BUSY
 * when the spool holds its maximum (it is dropped, counted and logged). */
int usage_writer_push(struct usage_writer *w, const struct accounting *a);
/* Start a retry of spooled usages when their back-off is over (the
 * maintenance thread calls it every second). Thread-safe, never blocks. */
void usage_writer_tick(struct usage_writer *w);
/* Usages waiting in the spool, and usages dropped since start (spool full,
 * refused by Redis, or Redis still away at exit). Thread-safe. */
void usage_writer_counts(struct usage_writer *w, size_t *spooled, unsigned long long *dropped);
/* Write whatever is still queued on the calling thread (retrying for up to
 * 5 s while Redis is away), then free. Call after the worker pool has stopped. */
void usage_writer_free(struct usage_writer *w);

#endif
