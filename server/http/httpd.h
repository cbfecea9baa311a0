/*
 * httpd.h - the libmicrohttpd front end.
 *
 * MHD's internal thread pool (HTTP_THREADS, epoll) does socket I/O only.
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

int httpd_start(struct app *app, struct httpd **out, char *err, size_t errlen);
/* Stop accepting (new requests on open connections get 503). */
void httpd_quiesce(struct httpd *h);
/* Requests still being handled or streamed. */
long httpd_inflight(struct httpd *h);
/* Stop the daemon; every suspended connection must have been resumed. */
void httpd_stop(struct httpd *h);

#endif
