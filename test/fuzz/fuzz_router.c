/* fuzz_router.c - route matching on arbitrary paths and methods. */
#include "compat.h"
#include "router.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[2048];
    if (size >= sizeof(path))
        size = sizeof(path) - 1;
    memcpy(path, data, size);
    path[size] = '\0';
    static const char *const methods[] = {"GET", "POST", "PUT", "DELETE"};
    for (size_t i = 0; i < ARRAY_SIZE(methods); i++) {
        struct route_match m;
        if (router_match(methods[i], path, &m) == 0 && (!m.route || !m.route->handler))
            abort();
    }
    return 0;
}
