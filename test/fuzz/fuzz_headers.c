/* fuzz_headers.c - request header parsing: X-Forwarded-For (the client
 * address taken TRUST_PROXY_HOPS from the right, server/http/clientaddr.c)
 * and the header filter (server/http/hdrfilter.c). Input: one byte of hop
 * count, then header values separated by newlines. */
#include "compat.h"
#include "clientaddr.h"
#include "hdrfilter.h"

#include <arpa/inet.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_VALUES 16

static void check_addr(const char *ip)
{
    unsigned char bin[16];
    if (inet_pton(AF_INET, ip, bin) != 1 && inet_pton(AF_INET6, ip, bin) != 1)
        abort(); /* clientaddr must only ever return an address */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 8192)
        return 0;
    int hops = 1 + data[0] % 16;
    char *text = malloc(size);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    const char *vals[MAX_VALUES];
    size_t n = 0;
    for (char *p = text; n < MAX_VALUES && p;) {
        vals[n++] = p;
        p = strchr(p, '\n');
        if (p)
            *p++ = '\0';
    }
    char ip[64];
    if (clientaddr_from_xff(vals, n, hops, ip, sizeof(ip)) == 0)
        check_addr(ip);
    for (size_t i = 0; i < n; i++) {
        (void)hdrfilter_claude(vals[i]);
        (void)hdrfilter_hop_by_hop(vals[i]);
        if (i + 1 < n)
            (void)hdrfilter_in_token_list(vals[i], vals[i + 1]);
    }
    free(text);
    return 0;
}
