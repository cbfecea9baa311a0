/*
 * usage_writer.h - group commit of per-key usage totals.
 *
 * Each finished request pushes its usage here (no I/O on the caller's
 * thread). A single flush job on the worker pool takes everything queued and
 * writes it in one pipelined round trip (one usage script per request), then
 * looks again. At low load a push is written at once, as before; under load
 * requests share round trips and worker wake-ups instead of paying one each.
 * Totals stay exact: every usage is written once, nothing is summed away.
 */
#ifndef RELAY_USAGE_WRITER_H
#define RELAY_USAGE_WRITER_H

struct app;
struct usage;
struct usage_writer;

/* app->redis, app->workers and app->usage_stats must outlive the writer. */
struct usage_writer *usage_writer_new(struct app *app);
/* Queue one request's usage (copied). Thread-safe. 0, or -ERR_BUSY when the
 * queue holds its maximum (the usage is dropped and logged). */
int usage_writer_push(struct usage_writer *w, const char *key_id, const char *account_id,
                      const struct usage *u);
/* Write whatever is still queued on the calling thread, then free. Call
 * after the worker pool has stopped. */
void usage_writer_free(struct usage_writer *w);

#endif
