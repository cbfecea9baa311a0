/*
 * pricing_builtin.h - the default price table built into the binary.
 *
 * server/store/model_prices.json (LiteLLM format) is turned into C source at
 * build time by scripts/embed-file.sh (see the Makefile), so the Docker image
 * and `make run` need no file at run time. It seeds Redis `model_pricing` on
 * the first start and is the table used while Redis has none.
 */
#ifndef RELAY_PRICING_BUILTIN_H
#define RELAY_PRICING_BUILTIN_H

#include <stddef.h>

/* The file's bytes followed by a NUL (so it is also a C string). */
extern const unsigned char pricing_builtin_json[];
/* Its length without the NUL. */
extern const size_t pricing_builtin_json_len;

#endif
