/*
 * standalone.c - runs a libFuzzer-style target without libFuzzer: a seeded
 * mutation loop over a small built-in corpus (byte flips, inserts, splices
 * of interesting tokens). Used by scripts/fuzz-smoke.sh under ASan+UBSan,
 * so CI fuzzes every parser on every run. Usage: fuzz_x [iterations] [seed].
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const corpus[] = {
    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"m\",\"usage\":"
    "{\"input_tokens\":1,\"cache_creation\":{\"ephemeral_5m_input_tokens\":2}}}}\n\n",
    "event: message_delta\r\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":9}}\r\n\r\n",
    "data: a\rdata: b\r\r: comment\nid: 7\nevent:x\n\n",
    "{\"model\":\"claude\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"stream\":true}",
    "/api/v1/messages/count_tokens", "/admin/api-keys/0b7e6f3a-1111-4222-8333-444455556666/restore",
    "[[[[{\"a\":[1,2,{\"b\":null}]}]]]]", "\xEF\xBB\xBF" "data: bom\n\n",
};
static const char *const tokens[] = {"\n", "\r", "\r\n", "\n\n", ":", "data:", "event:", "{", "}",
                                     "[", "]", "\"", "\\", "/", "//", "\xff", "0", "1e999", ","};

static size_t mutate(uint8_t *buf, size_t len, size_t cap)
{
    int ops = 1 + rand() % 6;
    for (int i = 0; i < ops; i++) {
        int op = rand() % 4;
        if (op == 0 && len) {
            buf[rand() % len] ^= (uint8_t)(1u << (rand() % 8));
        } else if (op == 1 && len) {
            size_t at = (size_t)rand() % len, n = 1 + (size_t)rand() % 8;
            if (at + n > len)
                n = len - at;
            memmove(buf + at, buf + at + n, len - at - n);
            len -= n;
        } else {
            const char *t = tokens[rand() % (sizeof(tokens) / sizeof(tokens[0]))];
            size_t tl = strlen(t), at = len ? (size_t)rand() % (len + 1) : 0;
            if (len + tl > cap)
                continue;
            memmove(buf + at + tl, buf + at, len - at);
            memcpy(buf + at, t, tl);
            len += tl;
        }
    }
    return len;
}

int main(int argc, char **argv)
{
    long iters = argc > 1 ? strtol(argv[1], NULL, 10) : 10000;
    srand(argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 1);
    enum { CAP = 4096 };
    static uint8_t buf[CAP];
    size_t ncorpus = sizeof(corpus) / sizeof(corpus[0]);
    for (size_t i = 0; i < ncorpus; i++)
        LLVMFuzzerTestOneInput((const uint8_t *)corpus[i], strlen(corpus[i]));
    for (long i = 0; i < iters; i++) {
        const char *seed = corpus[(size_t)rand() % ncorpus];
        size_t len = strlen(seed);
        memcpy(buf, seed, len);
        len = mutate(buf, len, CAP);
        LLVMFuzzerTestOneInput(buf, len);
    }
    printf("%s: %ld inputs, no crash\n", argv[0], iters + (long)ncorpus);
    return 0;
}
