/* Strict parsing of the module arguments: anything unexpected is an error, because a typo in
   a PAM line must not silently change how logins are checked. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "totpd_args.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

_Static_assert(TOTPD_SOCKET_PATH_SIZE == sizeof(((struct sockaddr_un *)0)->sun_path),
               "TOTPD_SOCKET_PATH_SIZE must equal the size of sun_path");

__attribute__((format(printf, 3, 4))) static int fail(char *error, size_t error_size,
                                                      const char *format, ...) {
    if (error != NULL && error_size > 0) {
        va_list ap;
        va_start(ap, format);
        vsnprintf(error, error_size, format, ap);
        va_end(ap);
    }
    return -1;
}

/* If argument is `name=...`, returns the value after '='; otherwise NULL. */
static const char *value_of(const char *argument, const char *name) {
    size_t n = strlen(name);
    if (strncmp(argument, name, n) == 0 && argument[n] == '=')
        return argument + n + 1;
    return NULL;
}

/* Digits only (no sign, space or suffix), within bounds; stops before it could overflow. */
static int parse_seconds(const char *text, unsigned *out) {
    unsigned value = 0;
    if (*text == '\0')
        return -1;
    for (const char *p = text; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        value = value * 10 + (unsigned)(*p - '0');
        if (value > TOTPD_MAX_TIMEOUT_SECONDS)
            return -1;
    }
    if (value < TOTPD_MIN_TIMEOUT_SECONDS)
        return -1;
    *out = value;
    return 0;
}

/* Control bytes in a prompt could rewrite the user's terminal. */
static bool has_control_byte(const char *text) {
    for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++)
        if (*p < 0x20 || *p == 0x7f)
            return true;
    return false;
}

/* Root's socket is the socket's path with ".root" appended, as the daemon derives it: each
   socket has its own, so two daemons in one directory never answer for each other. */
static int derive_root_socket(totpd_args *args, char *error, size_t error_size) {
    static const char suffix[] = ".root";
    size_t length = strlen(args->socket_path);
    if (length + sizeof suffix > sizeof args->root_socket_path)
        return fail(error, error_size,
                    "socket path \"%.40s...\": with \".root\" appended (root's socket) it would not "
                    "fit in %zu bytes",
                    args->socket_path, sizeof args->root_socket_path - 1);
    memcpy(args->root_socket_path, args->socket_path, length);
    memcpy(args->root_socket_path + length, suffix, sizeof suffix);
    return 0;
}

int totpd_args_parse(int argc, const char *const *argv, totpd_args *args, char *error,
                     size_t error_size) {
    bool seen_socket = false, seen_timeout = false, seen_debug = false, seen_prompt = false,
         seen_unenrolled = false;

    if (error != NULL && error_size > 0)
        error[0] = '\0';
    if (args == NULL || argc < 0 || (argc > 0 && argv == NULL))
        return fail(error, error_size, "invalid argument list");

    memset(args, 0, sizeof *args);
    memcpy(args->socket_path, TOTPD_DEFAULT_SOCKET, sizeof TOTPD_DEFAULT_SOCKET);
    args->timeout_seconds = TOTPD_DEFAULT_TIMEOUT_SECONDS;
    memcpy(args->prompt, TOTPD_DEFAULT_PROMPT, sizeof TOTPD_DEFAULT_PROMPT);
    args->unenrolled = TOTPD_UNENROLLED_DENY;
    args->first_pass = TOTPD_FIRST_PASS_NONE;
    args->debug = false;

    for (int i = 0; i < argc; i++) {
        const char *argument = argv[i];
        const char *value;

        if (argument == NULL)
            return fail(error, error_size, "argument %d is missing", i + 1);

        if ((value = value_of(argument, "socket")) != NULL) {
            size_t length = strlen(value);
            if (value[0] != '/')
                return fail(error, error_size, "argument \"%s\": the socket path must be absolute",
                            argument);
            if (length >= sizeof args->socket_path)
                return fail(error, error_size,
                            "argument \"%.40s...\": the socket path is %zu bytes, at most %zu fit",
                            argument, length, sizeof args->socket_path - 1);
            if (seen_socket)
                return fail(error, error_size, "argument \"%s\": socket= given twice", argument);
            memcpy(args->socket_path, value, length + 1);
            seen_socket = true;
        } else if ((value = value_of(argument, "timeout")) != NULL) {
            if (parse_seconds(value, &args->timeout_seconds) != 0)
                return fail(error, error_size,
                            "argument \"%.40s\": timeout must be a whole number of seconds from "
                            "%d to %d",
                            argument, TOTPD_MIN_TIMEOUT_SECONDS, TOTPD_MAX_TIMEOUT_SECONDS);
            if (seen_timeout)
                return fail(error, error_size, "argument \"%s\": timeout= given twice", argument);
            seen_timeout = true;
        } else if ((value = value_of(argument, "prompt")) != NULL) {
            size_t length = strlen(value);
            if (length == 0 || length >= sizeof args->prompt || has_control_byte(value))
                return fail(error, error_size,
                            "argument \"%.40s\": the prompt must be 1 to %zu bytes of text",
                            argument, sizeof args->prompt - 1);
            if (seen_prompt)
                return fail(error, error_size, "argument \"%.40s\": prompt= given twice", argument);
            memcpy(args->prompt, value, length + 1);
            seen_prompt = true;
        } else if ((value = value_of(argument, "unenrolled")) != NULL) {
            if (strcmp(value, "deny") == 0)
                args->unenrolled = TOTPD_UNENROLLED_DENY;
            else if (strcmp(value, "allow") == 0)
                args->unenrolled = TOTPD_UNENROLLED_ALLOW;
            else if (strcmp(value, "enroll") == 0)
                args->unenrolled = TOTPD_UNENROLLED_ENROLL;
            else
                return fail(error, error_size,
                            "argument \"%.40s\": unenrolled must be deny, allow or enroll",
                            argument);
            if (seen_unenrolled)
                return fail(error, error_size, "argument \"%s\": unenrolled= given twice",
                            argument);
            seen_unenrolled = true;
        } else if (strcmp(argument, "use_first_pass") == 0 ||
                   strcmp(argument, "try_first_pass") == 0) {
            if (args->first_pass != TOTPD_FIRST_PASS_NONE)
                return fail(error, error_size,
                            "argument \"%s\": use_first_pass and try_first_pass exclude each "
                            "other and may be given once",
                            argument);
            args->first_pass =
                argument[0] == 'u' ? TOTPD_FIRST_PASS_USE : TOTPD_FIRST_PASS_TRY;
        } else if (strcmp(argument, "debug") == 0) {
            if (seen_debug)
                return fail(error, error_size, "argument \"%s\" given twice", argument);
            args->debug = true;
            seen_debug = true;
        } else {
            return fail(error, error_size, "unknown argument \"%.64s\"", argument);
        }
    }
    return derive_root_socket(args, error, error_size);
}
