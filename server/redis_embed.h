/*
 * redis_embed.h - the private redis-server started when no Redis is
 * configured: a child process with the customer's persistence settings
 * (RDB "save 60 1", AOF everysec) under DATA_DIR/redis, listening only on a
 * unix socket (mode 0700 directory, no TCP port), stopped on exit.
 */
#ifndef RELAY_REDIS_EMBED_H
#define RELAY_REDIS_EMBED_H

#include <stddef.h>

struct relay_config;
struct redis_embed;

/* Start it and wait until it accepts connections (up to 15 s). */
int redis_embed_start(const struct relay_config *cfg, struct redis_embed **out, char *err,
                      size_t errlen) __attribute__((warn_unused_result));
/* The unix socket path to connect to. */
const char *redis_embed_socket(const struct redis_embed *r);
/* SIGTERM (Redis writes its final snapshot), wait, free. */
void redis_embed_stop(struct redis_embed *r);

#endif
