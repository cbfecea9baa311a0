/*
 * httpd.h - the libmicrohttpd front end.
 *
 * MHD's internal thread pool (HTTP_THREADS, poll mode; see httpd.c) does socket I/O only.
 * The access handler never blocks: it copies the request, suspends the
 * connection and hands the work to the worker pool; the worker sets a reply
 * and resumes the connection, and the handler (re-entered by MHD) queues it.
 * Streams are answered by the stream module the same way.
 */
#ifndef RELAY_HTTPD_H
#define RELAY_HTTPD_H

#include <microhttpd.h>

struct app;
struct httpd;
struct reqctx;
struct relay_config;

/* Bind and listen on HOST:PORT (SO_REUSEADDR, never SO_REUSEPORT: a second
 * relay on a busy port fails here). Call before anything else starts, so a
 * refused start touches nothing. 0 and *fd_out, or -ERR_INVAL / -ERR_IO
 * with the reason ("address already in use") in err. */
int httpd_listen(const struct relay_config *cfg, int *fd_out, char *err, size_t errlen);
/* Serve on listen_fd (from httpd_listen). The fd is taken: closed by
 * httpd_stop, or here on failure. */
int httpd_start(struct app *app, int listen_fd, struct httpd **out, char *err, size_t errlen);
/* Stop accepting (new requests on open connections get 503). */
void httpd_quiesce(struct httpd *h);
/* Requests still being handled or streamed. */
long httpd_inflight(struct httpd *h);
/* Stop the daemon; every suspended connection must have been resumed. */
void httpd_stop(struct httpd *h);

#endif
