/* Module arguments from the PAM configuration line, parsed into a typed struct.
   No PAM dependency, so the parser is unit-tested on its own. */
#ifndef TOTPD_ARGS_H
#define TOTPD_ARGS_H

#include <stdbool.h>
#include <stddef.h>

#define TOTPD_DEFAULT_SOCKET "/run/totpd/socket"

enum {
    /* sizeof(((struct sockaddr_un *)0)->sun_path) on Linux; args.c asserts it. The path and
       its NUL must fit. */
    TOTPD_SOCKET_PATH_SIZE = 108,
    TOTPD_DEFAULT_TIMEOUT_SECONDS = 3,
    TOTPD_MIN_TIMEOUT_SECONDS = 1,
    TOTPD_MAX_TIMEOUT_SECONDS = 60,
    TOTPD_PROMPT_SIZE = 129, /* at most 128 bytes of prompt text and its NUL */
};

#define TOTPD_DEFAULT_PROMPT "Verification code: "

/* What to do for a user without an active enrollment: refuse; let through with PAM_IGNORE;
   or set up an enrollment in the login, where the daemon allows it (else refuse). */
typedef enum {
    TOTPD_UNENROLLED_DENY,
    TOTPD_UNENROLLED_ALLOW,
    TOTPD_UNENROLLED_ENROLL
} totpd_unenrolled_policy;

/* Whether to take the code from PAM_AUTHTOK, set by an earlier module in the stack. */
typedef enum { TOTPD_FIRST_PASS_NONE, TOTPD_FIRST_PASS_TRY, TOTPD_FIRST_PASS_USE } totpd_first_pass;

typedef struct totpd_args {
    char socket_path[TOTPD_SOCKET_PATH_SIZE]; /* absolute, NUL-terminated */
    /* socket_path with ".root" appended: root's own socket, used when the module runs as root */
    char root_socket_path[TOTPD_SOCKET_PATH_SIZE];
    unsigned timeout_seconds;                 /* bounds each exchange (connect + send + receive) */
    char prompt[TOTPD_PROMPT_SIZE];           /* NUL-terminated, no control characters */
    totpd_unenrolled_policy unenrolled;
    totpd_first_pass first_pass;
    bool debug; /* extra LOG_DEBUG lines (never the code) */
} totpd_args;

/* Fills *args from argv: defaults first, then each of `socket=PATH`, `timeout=SECONDS`,
   `prompt=TEXT` (use PAM's [prompt=text with spaces] form), `unenrolled=deny|allow|enroll`,
   `use_first_pass` or `try_first_pass`, and `debug`, each at most once. Returns 0 on success. On any unknown, malformed or repeated
   argument returns -1 and writes a NUL-terminated explanation naming the argument into
   error (if error_size > 0); *args is then unspecified. */
int totpd_args_parse(int argc, const char *const *argv, totpd_args *args, char *error,
                     size_t error_size);

#endif
