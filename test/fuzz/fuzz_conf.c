/* fuzz_conf.c - .env and configuration parsing: the input is written as the
 * working directory's .env and the whole relay table is loaded from it
 * (lib/conf.c dotenv lines and typed values, server/config.c checks). */
#include "compat.h"
#include "buf.h"
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        char dir[] = "/tmp/fuzz-conf-XXXXXX";
        if (!mkdtemp(dir) || chdir(dir) != 0)
            abort();
        ready = true;
    }
    FILE *f = fopen(".env", "wb");
    if (!f)
        abort();
    fwrite(data, 1, size, f);
    fclose(f);
    clearenv();
    struct buf errors;
    buf_init(&errors, 64 * 1024);
    struct relay_config *cfg = NULL;
    if (config_load(&cfg, &errors) == 0)
        config_free(cfg);
    buf_release(&errors);
    clearenv();
    return 0;
}
