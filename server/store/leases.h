/*
 * leases.h - the concurrency leases this instance holds for running
 * requests (members of concurrency:{keyId}, see admission.h). A lease ends
 * by itself CONCURRENCY_LEASE_SECONDS after it was last renewed, so a
 * relay killed with -9 frees its slots; while a request runs, the
 * maintenance thread renews every lease it holds in one pipelined round
 * trip per renewal period (none when no lease is held).
 */
#ifndef RELAY_LEASES_H
#define RELAY_LEASES_H

struct leases;
struct lease;
struct rds_conn;

struct leases *leases_new(void);
void leases_free(struct leases *ls);
/* Register a lease taken by admission (strings copied). Thread-safe. */
struct lease *leases_add(struct leases *ls, const char *key_id, const char *member);
/* The request ended; its lease is returned by the accounting script.
 * NULL is a no-op. Thread-safe. */
void leases_remove(struct leases *ls, struct lease *l);
/* Leases held now. Thread-safe. */
long leases_count(struct leases *ls);
/* Renew every lease held to end_ms (one round trip). 0 or -ERR_REDIS. */
int leases_renew(struct leases *ls, struct rds_conn *c, long long end_ms)
    __attribute__((warn_unused_result));

#endif
