/*
 * log.h - levelled, thread-safe, one-line-per-call logging.
 *
 * Lines look like: `2026-11-22T10:00:00.123Z INFO relay msg k=v ... rid=abc`.
 * Every line goes to stdout and, when a directory is set, to
 * <dir>/claude-relay-YYYY-MM-DD.log (the date in the configured UTC offset;
 * the file rolls over at midnight). The logger is the one process-wide sink:
 * its state is guarded by a mutex inside log.c.
 *
 * Secrets never reach the log: use log_mask() to show prefix + last 4 chars.
 */
#ifndef RELAY_LOG_H
#define RELAY_LOG_H

#include <stddef.h>

enum log_level {
    LOG_ERROR = 0,
    LOG_WARN = 1,
    LOG_INFO = 2,
    LOG_DEBUG = 3,
};

/* Open the sink. dir may be NULL (stdout only). tz_offset_min shifts the
 * file-name date. Returns 0 or -ERR_IO (the directory could not be made). */
int log_open(const char *dir, enum log_level level, int tz_offset_min);
void log_close(void);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parse "error|warn|info|debug" (also "warning", "verbose"->debug). -1 if unknown. */
int log_level_parse(const char *s);

/* Per-thread request id slot, appended as rid=... to every line while set.
 * The string is copied (max 63 chars); NULL clears it. */
void log_set_reqid(const char *rid);

void log_msg(enum log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_error(mod, ...) log_msg(LOG_ERROR, mod, __VA_ARGS__)
#define log_warn(mod, ...) log_msg(LOG_WARN, mod, __VA_ARGS__)
#define log_info(mod, ...) log_msg(LOG_INFO, mod, __VA_ARGS__)
#define log_debug(mod, ...) log_msg(LOG_DEBUG, mod, __VA_ARGS__)

/* Copy inlen bytes of in to out (outlen bytes, NUL-terminated), writing
 * each control byte (below 0x20, and 0x7f) as "\xNN" so the text stays on
 * one line and cannot carry terminal escapes. Stops before an escape would
 * not fit. Returns the length written. log_msg applies it to every message;
 * it is public for tests and for callers building their own lines. Pure. */
size_t log_escape(char *out, size_t outlen, const char *in, size_t inlen);

/* Write a masked form of a secret into out: the first 6 characters, "...",
 * and the last 4 ("cr_a1b...9f3c"); short secrets become "***". Returns out. */
char *log_mask(const char *secret, char *out, size_t outlen);

#endif
