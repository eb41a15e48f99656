/* pam_totpd: the PAM entry points. The module prompts for a code, asks totpd over its socket
   and maps the answer to a PAM code; it never holds a secret, except to show a new one during
   an enrollment at login. Argument parsing (args.c), the socket client (client.c) and the
   enrollment dialogue's text helpers (display.c) live apart so they can be tested without PAM. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "totpd_args.h"
#include "totpd_client.h"
#include "totpd_display.h"
#include "totpd_wire.h"

/* The .so is built with -fvisibility=hidden; only these two are exported (see pam_totpd.map). */
#define TOTPD_EXPORT __attribute__((visibility("default")))

static const char WRONG_CODE_TEXT[] = "Wrong code.";
static const char UNAVAILABLE_TEXT[] = "The verification service is unavailable.";

/* The enrollment dialogue (unenrolled=enroll). */
static const char ENROLL_INTRO_TEXT[] =
    "This account needs a verification code from an authenticator app, and none is set up yet.\n"
    "Scan this QR code with the app:";
static const char ENROLL_PROMPT[] = "Code shown by the app: ";
static const char NOT_A_CODE_TEXT[] = "That is not a code from the app.";
enum { ENROLL_ATTEMPTS = 3 };

static const char *result_name(uint8_t result) {
    switch (result) {
    case TOTPD_RESULT_OK:
        return "OK";
    case TOTPD_RESULT_REJECTED:
        return "REJECTED";
    case TOTPD_RESULT_NOT_ENROLLED:
        return "NOT_ENROLLED";
    case TOTPD_RESULT_LOCKED:
        return "LOCKED";
    case TOTPD_RESULT_DENIED:
        return "DENIED";
    case TOTPD_RESULT_BAD_REQUEST:
        return "BAD_REQUEST";
    case TOTPD_RESULT_UNSUPPORTED_VERSION:
        return "UNSUPPORTED_VERSION";
    case TOTPD_RESULT_UNKNOWN_USER:
        return "UNKNOWN_USER";
    case TOTPD_RESULT_INTERNAL_ERROR:
        return "INTERNAL_ERROR";
    case TOTPD_RESULT_EXEMPT:
        return "EXEMPT";
    case TOTPD_RESULT_GRACE:
        return "GRACE";
    default:
        return "an unknown result code";
    }
}

/* Error text for the user; PAM_SILENT asks modules not to talk. */
static void tell_user(pam_handle_t *pamh, bool silent, const char *text) {
    if (!silent)
        (void)pam_error(pamh, "%s", text);
}

/* Sends text as PAM_TEXT_INFO messages, cut at line ends to fit Linux-PAM's message size. */
static int show_text(pam_handle_t *pamh, const char *text) {
    size_t position = 0, advance;
    for (;;) {
        size_t length = totpd_next_message(text + position, TOTPD_MAX_PAM_MESSAGE, &advance);
        if (advance == 0)
            return PAM_SUCCESS;
        int rc = pam_info(pamh, "%.*s", (int)length, text + position);
        if (rc != PAM_SUCCESS)
            return rc;
        position += advance;
    }
}

static int64_t monotonic_ms(void) {
    struct timespec now;
    if (clock_gettime(CLOCK_MONOTONIC, &now) != 0)
        return 0;
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* Adds the PAM item (service, remote host or tty) for the daemon's audit log when it is set,
   cut to the field limit without splitting a UTF-8 character. */
static totpd_status add_audit_item(pam_handle_t *pamh, totpd_request *request, int item,
                                   uint8_t tag, size_t max_length) {
    const void *value = NULL;
    if (pam_get_item(pamh, item, &value) != PAM_SUCCESS || value == NULL ||
        *(const char *)value == '\0')
        return TOTPD_CLIENT_OK;
    const char *text = value;
    return totpd_request_add_string(request, tag, text, totpd_utf8_prefix_length(text, max_length));
}

/* USER, CODE when given, and the audit items: the shape of every request the module sends. */
static totpd_status build_request(pam_handle_t *pamh, totpd_request *request, uint8_t *buffer,
                                  size_t capacity, uint8_t operation, const char *user,
                                  const char *code) {
    totpd_status status = totpd_request_begin(request, buffer, capacity, operation);
    if (status == TOTPD_CLIENT_OK)
        status = totpd_request_add_string(request, TOTPD_TAG_USER, user, strlen(user));
    if (status == TOTPD_CLIENT_OK && code != NULL)
        status = totpd_request_add_string(request, TOTPD_TAG_CODE, code, strlen(code));
    if (status == TOTPD_CLIENT_OK)
        status =
            add_audit_item(pamh, request, PAM_SERVICE, TOTPD_TAG_SERVICE, TOTPD_MAXLEN_SERVICE);
    if (status == TOTPD_CLIENT_OK)
        status = add_audit_item(pamh, request, PAM_RHOST, TOTPD_TAG_RHOST, TOTPD_MAXLEN_RHOST);
    if (status == TOTPD_CLIENT_OK)
        status = add_audit_item(pamh, request, PAM_TTY, TOTPD_TAG_TTY, TOTPD_MAXLEN_TTY);
    return status;
}

/* Sends one request and reads the answer into response. Each exchange has its own timeout
   budget. Returns PAM_SUCCESS when an answer arrived, else PAM_AUTHINFO_UNAVAIL (logged, and
   told to the user): the module fails closed. The frame, which may hold the code, is zeroed. */
static int ask_daemon(pam_handle_t *pamh, const totpd_args *args, bool silent, uint8_t operation,
                      const char *user, const char *code, totpd_response *response) {
    uint8_t frame[TOTPD_MAX_REQUEST_FRAME];
    totpd_request request;
    int error_number = 0;
    int retval = PAM_SUCCESS;
    int64_t started;
    const char *path;

    totpd_status status = build_request(pamh, &request, frame, sizeof frame, operation, user, code);
    if (status != TOTPD_CLIENT_OK) {
        pam_syslog(pamh, LOG_ERR, "cannot build the request for user \"%s\": %s", user,
                   totpd_status_text(status));
        retval = PAM_AUTHINFO_UNAVAIL;
        goto out;
    }
    /* As root (sshd, sudo, su, login), root's own socket: its queue is not one that every local
       user can fill. A daemon set up without it leaves only the shared one. */
    path = geteuid() == 0 ? args->root_socket_path : args->socket_path;
    if (args->debug)
        pam_syslog(pamh, LOG_DEBUG, "asking totpd at %s about user \"%s\" (timeout %u s)", path,
                   user, args->timeout_seconds);
    started = monotonic_ms();
    status = totpd_exchange(path, args->timeout_seconds * 1000u, request.frame, request.length,
                            response, &error_number);
    if (path != args->socket_path && status == TOTPD_CLIENT_NO_SOCKET && error_number == ENOENT) {
        path = args->socket_path;
        status = totpd_exchange(path, args->timeout_seconds * 1000u, request.frame, request.length,
                                response, &error_number);
    }
    if (status != TOTPD_CLIENT_OK) {
        char reason[128] = "";
        /* GNU strerror_r: thread-safe, returns the text (maybe not in reason). */
        const char *text = error_number != 0 ? strerror_r(error_number, reason, sizeof reason) : "";
        pam_syslog(pamh, LOG_ERR, "totpd at %s is unavailable: %s%s%s", path,
                   totpd_status_text(status), error_number != 0 ? ": " : "", text);
        retval = PAM_AUTHINFO_UNAVAIL;
        goto out;
    }
    if (args->debug)
        pam_syslog(pamh, LOG_DEBUG, "totpd answered %s for user \"%s\" in %" PRId64 " ms%s%s",
                   result_name(response->result), user, monotonic_ms() - started,
                   response->has_message ? ": " : "", response->has_message ? response->message : "");
out:
    if (retval != PAM_SUCCESS)
        tell_user(pamh, silent, UNAVAILABLE_TEXT);
    explicit_bzero(frame, sizeof frame);
    return retval;
}

/* map_result's answers that are steps of the dialogue, not PAM codes: ask for a code; start an
   enrollment (PRECHECK of an unenrolled user with unenrolled=enroll); show the one the daemon
   started (LOGIN_ENROLL). */
enum { ASK_FOR_CODE = -1, START_ENROLLMENT = -2, SHOW_ENROLLMENT = -3 };

/* The one place where answers become PAM codes (docs/PROTOCOL.md, "Result codes"). Every
   refusal shows the same text, so the dialogue does not reveal enrollment. EXEMPT and GRACE are
   meaningful only as answers to PRECHECK; OK to PRECHECK means "ask for a code". A daemon that
   will not start an enrollment at login leaves the user to the unenrolled=deny path. Only the
   states none and pending are unenrolled: revoked means an admin took the second factor away
   (a lost phone, a compromised session), so neither allow nor enroll may skip it, and a state
   the module does not know is asked for a code too. */
static int map_result(pam_handle_t *pamh, const totpd_args *args, bool silent, const char *user,
                      uint8_t operation, const totpd_response *response) {
    const bool precheck = operation == TOTPD_OP_PRECHECK;
    const bool login_enroll = operation == TOTPD_OP_LOGIN_ENROLL;
    const bool unenrolled =
        precheck && response->has_state &&
        (strcmp(response->state, "none") == 0 || strcmp(response->state, "pending") == 0);
    const char *service = NULL;
    switch (response->result) {
    case TOTPD_RESULT_OK:
        if (unenrolled && args->unenrolled == TOTPD_UNENROLLED_ALLOW) {
            /* The admin chose to let users without an enrollment through: ignore, never grant. */
            pam_syslog(pamh, LOG_INFO, "user \"%s\" is not enrolled (%s); unenrolled=allow", user,
                       response->state);
            return PAM_IGNORE;
        }
        if (unenrolled && args->unenrolled == TOTPD_UNENROLLED_ENROLL)
            return START_ENROLLMENT;
        if (precheck)
            return ASK_FOR_CODE;
        if (login_enroll) {
            if (!response->has_secret)
                break;
            pam_syslog(pamh, LOG_INFO, "started an enrollment at login for user \"%s\"", user);
            return SHOW_ENROLLMENT;
        }
        if (operation == TOTPD_OP_ENROLL_CONFIRM)
            pam_syslog(pamh, LOG_NOTICE, "user \"%s\" set up a second factor at login", user);
        else
            pam_syslog(pamh, LOG_INFO, "accepted the code of user \"%s\"", user);
        return PAM_SUCCESS;
    case TOTPD_RESULT_EXEMPT:
        if (!precheck)
            break;
        pam_syslog(pamh, LOG_INFO, "user \"%s\" is exempt from the second factor", user);
        return PAM_IGNORE;
    case TOTPD_RESULT_GRACE:
        if (!precheck)
            break;
        (void)pam_get_item(pamh, PAM_SERVICE, (const void **)&service);
        pam_syslog(pamh, LOG_INFO, "user \"%s\" is within the grace period of service %s", user,
                   service != NULL ? service : "(unknown)");
        return PAM_SUCCESS;
    case TOTPD_RESULT_REJECTED:
        pam_syslog(pamh, LOG_NOTICE, "wrong or already used code for user \"%s\"", user);
        tell_user(pamh, silent, WRONG_CODE_TEXT);
        return PAM_AUTH_ERR;
    case TOTPD_RESULT_NOT_ENROLLED:
        pam_syslog(pamh, LOG_NOTICE, "user \"%s\" has no %s enrollment", user,
                   operation == TOTPD_OP_ENROLL_CONFIRM ? "pending (it lapsed)" : "active");
        tell_user(pamh, silent, WRONG_CODE_TEXT);
        return PAM_AUTH_ERR;
    case TOTPD_RESULT_DENIED:
        if (login_enroll) {
            pam_syslog(pamh, LOG_NOTICE, "no enrollment at login for user \"%s\"%s%s", user,
                       response->has_message ? ": " : "",
                       response->has_message ? response->message : "");
            return ASK_FOR_CODE;
        }
        pam_syslog(pamh, LOG_WARNING, "totpd refused to answer about user \"%s\" for uid %u%s%s",
                   user, (unsigned)getuid(), response->has_message ? ": " : "",
                   response->has_message ? response->message : "");
        tell_user(pamh, silent, WRONG_CODE_TEXT);
        return PAM_AUTH_ERR;
    case TOTPD_RESULT_UNKNOWN_USER:
        pam_syslog(pamh, LOG_NOTICE, "totpd does not know user \"%s\"", user);
        if (login_enroll)
            return ASK_FOR_CODE; /* prompt as for anyone, so the dialogue does not reveal it */
        tell_user(pamh, silent, WRONG_CODE_TEXT);
        return PAM_AUTH_ERR;
    case TOTPD_RESULT_LOCKED:
        if (response->has_retry_after) {
            pam_syslog(pamh, LOG_NOTICE, "user \"%s\" is locked out for %" PRIu64 " more seconds",
                       user, response->retry_after);
            if (!silent)
                (void)pam_error(pamh, "Too many attempts. Try again in %" PRIu64 " seconds.",
                                response->retry_after);
        } else {
            pam_syslog(pamh, LOG_NOTICE, "user \"%s\" is locked out until an admin unlocks", user);
            tell_user(pamh, silent,
                      "Too many failed attempts. Ask an administrator to unlock your account.");
        }
        return PAM_MAXTRIES;
    default:
        break;
    }
    /* Fail closed on anything the module cannot act on. */
    pam_syslog(pamh, LOG_ERR, "totpd answered %s (%u) for user \"%s\"%s%s",
               result_name(response->result), (unsigned)response->result, user,
               response->has_message ? ": " : "", response->has_message ? response->message : "");
    tell_user(pamh, silent, UNAVAILABLE_TEXT);
    return PAM_AUTHINFO_UNAVAIL;
}

/* Shows the QR code and the key of the enrollment the daemon just started, and says where the
   recovery codes will be. */
static int show_enrollment(pam_handle_t *pamh, const totpd_response *response) {
    char grouped[TOTPD_MAXLEN_SECRET + TOTPD_MAXLEN_SECRET / 4 + 1];
    int rc = pam_info(pamh, "%s", ENROLL_INTRO_TEXT);
    if (rc == PAM_SUCCESS && response->has_qr)
        rc = show_text(pamh, response->qr);
    if (rc == PAM_SUCCESS && totpd_group_secret(response->secret, grouped, sizeof grouped) == 0)
        rc = pam_info(pamh,
                      "%s this key into the app: %s\n"
                      "Ten recovery codes are shown once the code is accepted. If they do not\n"
                      "appear, make new ones after logging in: totpctl recovery-codes --regenerate",
                      response->has_qr ? "Or type" : "Type", grouped);
    explicit_bzero(grouped, sizeof grouped);
    return rc;
}

static int show_recovery_codes(pam_handle_t *pamh, const totpd_response *response) {
    char text[TOTPD_MAX_PAM_MESSAGE + 1];
    size_t used = (size_t)snprintf(text, sizeof text, "%s",
                                   "Done. Your recovery codes, each good for one login without "
                                   "the app (keep them somewhere safe, offline):");
    for (size_t i = 0; i < response->recovery_code_count && used < sizeof text; i++)
        used += (size_t)snprintf(text + used, sizeof text - used, "%s%s", i % 2 == 0 ? "\n  " : "   ",
                                 response->recovery_codes[i]);
    int rc = show_text(pamh, text);
    explicit_bzero(text, sizeof text);
    return rc;
}

/* The first-login enrollment (unenrolled=enroll): asks the daemon to start one for the user,
   shows it, and takes codes until one activates it. The dialogue talks even under PAM_SILENT
   (sudo sets it by default): without its text the user could not finish. Returns a PAM code,
   or ASK_FOR_CODE when the daemon declines, which leaves the user to the unenrolled=deny path.
   The response is reused for every exchange. */
static int enroll_at_login(pam_handle_t *pamh, const totpd_args *args, const char *user,
                           totpd_response *response) {
    char *code = NULL;
    int retval = ask_daemon(pamh, args, false, TOTPD_OP_LOGIN_ENROLL, user, NULL, response);
    if (retval != PAM_SUCCESS)
        goto out;
    retval = map_result(pamh, args, false, user, TOTPD_OP_LOGIN_ENROLL, response);
    if (retval != SHOW_ENROLLMENT)
        goto out;
    retval = show_enrollment(pamh, response);
    if (retval != PAM_SUCCESS) {
        pam_syslog(pamh, LOG_ERR, "cannot show the enrollment to user \"%s\": %s", user,
                   pam_strerror(pamh, retval));
        retval = PAM_CONV_ERR;
        goto out;
    }

    retval = PAM_AUTH_ERR; /* what the attempts leave when none succeeds */
    for (int attempt = 1; attempt <= ENROLL_ATTEMPTS; attempt++) {
        int rc = pam_prompt(pamh, PAM_PROMPT_ECHO_OFF, &code, "%s", ENROLL_PROMPT);
        if (rc != PAM_SUCCESS || code == NULL) {
            pam_syslog(pamh, LOG_ERR, "conversation failed for user \"%s\": %s", user,
                       pam_strerror(pamh, rc));
            retval = PAM_CONV_ERR;
            goto out;
        }
        if (totpd_totp_code_is_wellformed(code)) {
            retval = ask_daemon(pamh, args, false, TOTPD_OP_ENROLL_CONFIRM, user, code, response);
            if (retval == PAM_SUCCESS)
                retval = map_result(pamh, args, false, user, TOTPD_OP_ENROLL_CONFIRM, response);
            if (retval != PAM_AUTH_ERR || response->result != TOTPD_RESULT_REJECTED)
                break;
        } else {
            (void)pam_error(pamh, "%s", NOT_A_CODE_TEXT);
            retval = PAM_AUTH_ERR;
        }
        explicit_bzero(code, strlen(code));
        free(code);
        code = NULL;
    }
    if (retval == PAM_SUCCESS && show_recovery_codes(pamh, response) != PAM_SUCCESS)
        pam_syslog(pamh, LOG_WARNING, "could not show the recovery codes to user \"%s\"", user);
out:
    if (code != NULL) {
        explicit_bzero(code, strlen(code));
        free(code);
    }
    return retval;
}

TOTPD_EXPORT int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv) {
    const bool silent = (flags & PAM_SILENT) != 0;
    int retval = PAM_AUTH_ERR;
    int rc;
    totpd_args args;
    char problem[256];
    const char *user = NULL;
    char *code = NULL;          /* typed at our prompt: ours to wipe and free */
    const char *earlier = NULL; /* PAM_AUTHTOK from an earlier module: libpam's */
    /* On the heap: with room for a QR code it is too big for the small thread stacks some
       programs run PAM on. */
    totpd_response *response = calloc(1, sizeof *response);

    if (response == NULL) {
        pam_syslog(pamh, LOG_CRIT, "out of memory");
        retval = PAM_BUF_ERR;
        goto out;
    }
    if (totpd_args_parse(argc, argv, &args, problem, sizeof problem) != 0) {
        pam_syslog(pamh, LOG_ERR, "bad module argument: %s", problem);
        retval = PAM_SERVICE_ERR;
        goto out;
    }

    rc = pam_get_user(pamh, &user, NULL);
    if (rc != PAM_SUCCESS || user == NULL) {
        pam_syslog(pamh, LOG_NOTICE, "cannot determine the user name: %s", pam_strerror(pamh, rc));
        retval = PAM_USER_UNKNOWN;
        goto out;
    }
    /* The name is checked before it is logged: no control characters reach syslog. */
    if (!totpd_user_is_acceptable(user)) {
        pam_syslog(pamh, LOG_NOTICE,
                   "refusing a user name that is empty, longer than %d bytes, not UTF-8 or "
                   "contains control characters or a double quote",
                   TOTPD_MAXLEN_USER);
        retval = PAM_AUTH_ERR;
        goto out;
    }

    /* Is a code needed at all (exempt users, grace periods)? The daemon answers "ask" for
       unknown and unenrolled users too, so the dialogue does not reveal enrollment. */
    retval = ask_daemon(pamh, &args, silent, TOTPD_OP_PRECHECK, user, NULL, response);
    if (retval != PAM_SUCCESS)
        goto out;
    retval = map_result(pamh, &args, silent, user, TOTPD_OP_PRECHECK, response);
    if (retval == START_ENROLLMENT)
        retval = enroll_at_login(pamh, &args, user, response);
    if (retval != ASK_FOR_CODE)
        goto out;

    /* A code collected by an earlier module (PAM_AUTHTOK), when asked to use it. It belongs to
       libpam: read only, never freed or wiped here. */
    if (args.first_pass != TOTPD_FIRST_PASS_NONE) {
        const void *item = NULL;
        if (pam_get_item(pamh, PAM_AUTHTOK, &item) == PAM_SUCCESS && item != NULL &&
            totpd_code_is_wellformed(item)) {
            earlier = item;
        } else if (args.first_pass == TOTPD_FIRST_PASS_USE) {
            pam_syslog(pamh, LOG_NOTICE, "use_first_pass: no code from an earlier module for user "
                                         "\"%s\"",
                       user);
            retval = PAM_AUTH_ERR;
            goto out;
        }
    }
    if (earlier != NULL) {
        retval = ask_daemon(pamh, &args, silent, TOTPD_OP_VERIFY, user, earlier, response);
        if (retval != PAM_SUCCESS)
            goto out;
        /* With try_first_pass the item may be a password that only looks like a code: when it is
           not the code, ask for the code, as pam_unix does with a password it cannot use. Not
           enrolled is asked too, so the dialogue does not reveal enrollment. */
        if (args.first_pass == TOTPD_FIRST_PASS_USE ||
            (response->result != TOTPD_RESULT_REJECTED &&
             response->result != TOTPD_RESULT_NOT_ENROLLED)) {
            retval = map_result(pamh, &args, silent, user, TOTPD_OP_VERIFY, response);
            goto out;
        }
        pam_syslog(pamh, LOG_INFO,
                   "try_first_pass: the earlier item is not a code of user \"%s\"; asking for one",
                   user);
    }

    rc = pam_prompt(pamh, PAM_PROMPT_ECHO_OFF, &code, "%s", args.prompt);
    if (rc != PAM_SUCCESS || code == NULL) {
        pam_syslog(pamh, LOG_ERR, "conversation failed for user \"%s\": %s", user,
                   pam_strerror(pamh, rc));
        retval = PAM_CONV_ERR;
        goto out;
    }

    /* Not a code at all: say no without bothering the daemon (and without logging it). */
    if (!totpd_code_is_wellformed(code)) {
        pam_syslog(pamh, LOG_NOTICE,
                   "user \"%s\" entered something that is neither a %d to %d digit code nor a "
                   "recovery code",
                   user, TOTPD_CODE_MIN_DIGITS, TOTPD_CODE_MAX_DIGITS);
        tell_user(pamh, silent, WRONG_CODE_TEXT);
        retval = PAM_AUTH_ERR;
        goto out;
    }

    retval = ask_daemon(pamh, &args, silent, TOTPD_OP_VERIFY, user, code, response);
    if (retval != PAM_SUCCESS)
        goto out;
    retval = map_result(pamh, &args, silent, user, TOTPD_OP_VERIFY, response);

out:
    /* The response held what the daemon said of the code, or a new secret and recovery codes;
       the typed code is wiped. */
    if (response != NULL) {
        explicit_bzero(response, sizeof *response);
        free(response);
    }
    if (code != NULL) {
        explicit_bzero(code, strlen(code));
        free(code);
    }
    return retval;
}

TOTPD_EXPORT int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv) {
    /* No credentials to establish: a verification code grants nothing beyond authentication. */
    (void)pamh;
    (void)flags;
    (void)argc;
    (void)argv;
    return PAM_SUCCESS;
}
