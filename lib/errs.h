/*
 * errs.h - generic error codes shared by lib/ and server/.
 *
 * Functions return 0 or -ERR_x. The table is an X-macro so names and
 * descriptions stay beside each other (Varnish include/tbl style).
 */
#ifndef RELAY_ERRS_H
#define RELAY_ERRS_H

#define ERRS_TABLE(X)                                                                              \
    X(OK, "ok")                                                                                    \
    X(NOMEM, "out of memory")                                                                      \
    X(INVAL, "invalid argument")                                                                   \
    X(TOOBIG, "input too large")                                                                   \
    X(PARSE, "parse error")                                                                        \
    X(IO, "I/O error")                                                                             \
    X(TIMEOUT, "timed out")                                                                        \
    X(NOTFOUND, "not found")                                                                       \
    X(EXISTS, "already exists")                                                                    \
    X(CRYPTO, "cryptographic failure")                                                             \
    X(REDIS, "redis error")                                                                        \
    X(CLOSED, "connection closed")                                                                 \
    X(BUSY, "resource busy")                                                                       \
    X(DENIED, "permission denied")                                                                 \
    X(UPSTREAM, "upstream error")

enum err_code {
#define ERRS_ENUM(name, desc) ERR_##name,
    ERRS_TABLE(ERRS_ENUM)
#undef ERRS_ENUM
        ERR__COUNT
};

/* Human text for an error code (positive or negative). Never NULL. */
const char *err_str(int code);

#endif
