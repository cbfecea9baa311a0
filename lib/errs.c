/* errs.c - text for the generic error codes in errs.h. */
#include "compat.h"
#include "errs.h"

static const char *const err_text[] = {
#define ERRS_TEXT(name, desc) desc,
    ERRS_TABLE(ERRS_TEXT)
#undef ERRS_TEXT
};

const char *err_str(int code)
{
    if (code < 0)
        code = -code;
    if (code >= ERR__COUNT)
        return "unknown error";
    return err_text[code];
}
