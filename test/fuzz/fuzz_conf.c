/* fuzz_conf.c - .env and configuration parsing: the input is written as a
 * .env file, loaded into the environment (lib/conf.c dotenv lines), and the
 * whole relay table is parsed from it (typed values, server/config.c checks).
 * The working directory stays put (libFuzzer writes its corpus there). */
#include "compat.h"
#include "buf.h"
#include "conf.h"
#include "config.h"

#include <stdint.h>
#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    if (!path[0]) {
        char dir[] = "/tmp/fuzz-conf-XXXXXX";
        if (!mkdtemp(dir))
            abort();
        snprintf(path, sizeof(path), "%s/.env", dir);
    }
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    fwrite(data, 1, size, f);
    fclose(f);
    clearenv();
    struct buf errors;
    buf_init(&errors, 64 * 1024);
    (void)conf_dotenv_load(path, &errors);
    struct relay_config *cfg = NULL;
    if (config_load(&cfg, &errors) == 0)
        config_free(cfg);
    buf_release(&errors);
    clearenv();
    return 0;
}
