/* Client side of the totpd protocol: build a request in a caller-provided buffer, exchange it
   over the Unix socket under one deadline, and parse the answer into a typed struct.
   No PAM dependency, no allocation, no global state. */
#ifndef TOTPD_CLIENT_H
#define TOTPD_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "totpd_wire.h"

enum {
    /* A buffer of this size holds any request frame the protocol allows. */
    TOTPD_MAX_REQUEST_FRAME = TOTPD_FRAME_LENGTH_SIZE + TOTPD_MAX_REQUEST_BODY,
};

typedef enum totpd_status {
    TOTPD_CLIENT_OK = 0,
    TOTPD_CLIENT_NO_SPACE,       /* the request would not fit the buffer or the body limit */
    TOTPD_CLIENT_BAD_FIELD,      /* unknown tag, or value too long for its tag */
    TOTPD_CLIENT_BAD_PATH,       /* socket path empty, relative or too long for sun_path */
    TOTPD_CLIENT_NO_SOCKET,      /* lstat of the socket path failed (see the errno) */
    TOTPD_CLIENT_NOT_SOCKET,     /* the path is not a socket (symlinks included) */
    TOTPD_CLIENT_NOT_ROOT_OWNED, /* the socket file is not owned by root */
    TOTPD_CLIENT_CONNECT_FAILED, /* socket() or connect() failed (see the errno) */
    TOTPD_CLIENT_PEER_NOT_ROOT,  /* the listening process is not root (SO_PEERCRED) */
    TOTPD_CLIENT_TIMEOUT,        /* the exchange did not finish before the deadline */
    TOTPD_CLIENT_IO_ERROR,       /* send, receive or poll failed (see the errno) */
    TOTPD_CLIENT_CLOSED,         /* the daemon closed before a complete answer */
    TOTPD_CLIENT_TOO_LARGE,      /* the answer's length is over TOTPD_MAX_RESPONSE_BODY */
    TOTPD_CLIENT_MALFORMED,      /* the answer breaks the protocol */
} totpd_status;

/* A short English description of a status, for logs. Never NULL. */
const char *totpd_status_text(totpd_status status);

/* A request being built: frame[0..length) is always a complete, valid frame. */
typedef struct totpd_request {
    uint8_t *frame;
    size_t capacity;
    size_t length;
} totpd_request;

/* Starts a request for operation in buffer (capacity bytes; TOTPD_MAX_REQUEST_FRAME always
   suffices). NO_SPACE if the buffer cannot hold the length, version and operation. */
totpd_status totpd_request_begin(totpd_request *request, uint8_t *buffer, size_t capacity,
                                 uint8_t operation);

/* Appends a string field of length bytes (no NUL on the wire). BAD_FIELD if tag is not a
   string tag or length is over its limit; NO_SPACE if the buffer or the body limit would be
   exceeded. On error the request is unchanged. */
totpd_status totpd_request_add_string(totpd_request *request, uint8_t tag, const char *value,
                                      size_t length);

/* The typed answer: the fields a module acts on or shows. */
typedef struct totpd_response {
    uint8_t result; /* a TOTPD_RESULT_* value, or an unknown code the caller must fail on */
    bool has_message;
    bool has_retry_after;
    uint64_t retry_after;
    bool has_state; /* PRECHECK: the account's enrollment state */
    char state[TOTPD_MAXLEN_STATE + 1];
    /* NUL-terminated; control bytes replaced by '?' so it is safe to log. */
    char message[TOTPD_MAXLEN_MESSAGE + 1];
    /* LOGIN_ENROLL: the new secret (base32) and the QR code drawn as lines of text, both
       NUL-terminated with control bytes other than the QR's newlines replaced by '?'. */
    bool has_secret;
    char secret[TOTPD_MAXLEN_SECRET + 1];
    bool has_qr;
    char qr[TOTPD_MAXLEN_QR + 1];
    /* ENROLL_CONFIRM: the new recovery codes, in the order sent (extra ones are ignored). */
    size_t recovery_code_count;
    char recovery_codes[TOTPD_RECOVERY_CODE_COUNT][TOTPD_MAXLEN_RECOVERY_CODE + 1];
} totpd_response;

/* Parses a response body (the bytes after the length). MALFORMED unless: at least 2 bytes,
   version 1, every field inside the body, known u64 fields exactly 8 bytes, known fields within
   their limit. Unknown tags are skipped; for a repeated known field the first one counts.
   TOO_LARGE if length is over TOTPD_MAX_RESPONSE_BODY. */
totpd_status totpd_response_parse_body(const uint8_t *body, size_t length,
                                       totpd_response *response);

/* Parses a whole frame (length prefix and body); it must be exactly length bytes long. */
totpd_status totpd_response_parse_frame(const uint8_t *frame, size_t length,
                                        totpd_response *response);

/* Sends frame to the daemon at socket_path and reads the answer, all within timeout_ms.
   The path must be a root-owned socket (not a symlink) and the listening process root.
   On failure *error_number (if not NULL) is the errno behind it, or 0. */
totpd_status totpd_exchange(const char *socket_path, unsigned timeout_ms, const uint8_t *frame,
                            size_t frame_length, totpd_response *response, int *error_number);

/* Field checks and helpers for building requests. */

/* 6 to 8 ASCII digits, or a recovery code (10 base32 characters, optionally abcde-fghij). */
bool totpd_code_is_wellformed(const char *code);

/* 6 to 8 ASCII digits only: what confirms a new enrollment. */
bool totpd_totp_code_is_wellformed(const char *code);

/* What the module sends as USER: 1 to 256 bytes of valid UTF-8 without control characters
   (C0, DEL and C1), which the daemon refuses too, and without a double quote. */
bool totpd_user_is_acceptable(const char *user);

/* Length of the longest prefix of text that is at most max bytes and does not end inside a
   UTF-8 sequence; used to truncate audit fields. */
size_t totpd_utf8_prefix_length(const char *text, size_t max);

#endif
