/* fuzz_rds.c - the Redis reply path (lib/rds.c): RESP bytes fed to the
 * hiredis reader in two chunkings (as socket reads split them), every reply
 * walked with the typed accessors. Both chunkings must agree. */
#include "compat.h"
#include "rds_int.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk(const redisReply *r, unsigned long long *h, int depth)
{
    *h = *h * 31 + (unsigned)r->type + (rds_reply_ok(r) ? 7 : 0);
    *h = *h * 31 + (unsigned long long)rds_reply_int(r, -1);
    const char *s = rds_reply_str(r);
    for (; s && *s; s++)
        *h = *h * 131 + (unsigned char)*s;
    if (r->type == REDIS_REPLY_ARRAY && depth < 16)
        for (size_t i = 0; i < r->elements; i++)
            walk(r->element[i], h, depth + 1);
}

static void on_reply(void *arg, redisReply *r)
{
    walk(r, arg, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned long long h1 = 0, h2 = 0;
    int n1 = rds_replies_from_bytes((const char *)data, size, size ? size : 1, on_reply, &h1);
    int n2 = rds_replies_from_bytes((const char *)data, size, 3, on_reply, &h2);
    if (n1 >= 0 && n2 >= 0 && (n1 != n2 || h1 != h2))
        abort();
    return 0;
}
