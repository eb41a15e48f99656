/* The socket client. Written to be safe inside any process that loads a PAM module (sshd, sudo,
   screen lockers): no allocation, no globals, no signals, close-on-exec descriptors, and one
   deadline for the whole exchange so a stuck daemon cannot hang a login. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "totpd_client.h"

#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* While the daemon's accept queue is full, connect() fails with EAGAIN; retry this often. */
enum { CONNECT_RETRY_MS = 10 };

const char *totpd_status_text(totpd_status status) {
    switch (status) {
    case TOTPD_CLIENT_OK:
        return "success";
    case TOTPD_CLIENT_NO_SPACE:
        return "request does not fit";
    case TOTPD_CLIENT_BAD_FIELD:
        return "invalid request field";
    case TOTPD_CLIENT_BAD_PATH:
        return "socket path is empty, relative or too long";
    case TOTPD_CLIENT_NO_SOCKET:
        return "cannot find the socket";
    case TOTPD_CLIENT_NOT_SOCKET:
        return "path is not a socket (symlinks are refused)";
    case TOTPD_CLIENT_NOT_ROOT_OWNED:
        return "socket is not owned by root";
    case TOTPD_CLIENT_CONNECT_FAILED:
        return "cannot connect";
    case TOTPD_CLIENT_PEER_NOT_ROOT:
        return "the process serving the socket is not root";
    case TOTPD_CLIENT_TIMEOUT:
        return "no answer before the timeout";
    case TOTPD_CLIENT_IO_ERROR:
        return "socket I/O error";
    case TOTPD_CLIENT_CLOSED:
        return "connection closed before a complete answer";
    case TOTPD_CLIENT_TOO_LARGE:
        return "answer exceeds the size limit";
    case TOTPD_CLIENT_MALFORMED:
        return "malformed answer";
    }
    return "unknown client status";
}

/* ---- byte order ---------------------------------------------------------------------------- */

static void put_be16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint16_t get_be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }

static uint32_t get_be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static uint64_t get_be64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

/* ---- field types --------------------------------------------------------------------------- */

enum field_kind { KIND_UNKNOWN, KIND_STRING, KIND_U64, KIND_RECORD };

static enum field_kind field_kind(uint8_t tag, size_t *max_length) {
    switch (tag) {
    case TOTPD_TAG_USER:
        *max_length = TOTPD_MAXLEN_USER;
        return KIND_STRING;
    case TOTPD_TAG_CODE:
        *max_length = TOTPD_MAXLEN_CODE;
        return KIND_STRING;
    case TOTPD_TAG_SERVICE:
        *max_length = TOTPD_MAXLEN_SERVICE;
        return KIND_STRING;
    case TOTPD_TAG_RHOST:
        *max_length = TOTPD_MAXLEN_RHOST;
        return KIND_STRING;
    case TOTPD_TAG_TTY:
        *max_length = TOTPD_MAXLEN_TTY;
        return KIND_STRING;
    case TOTPD_TAG_MESSAGE:
        *max_length = TOTPD_MAXLEN_MESSAGE;
        return KIND_STRING;
    case TOTPD_TAG_SECRET:
        *max_length = TOTPD_MAXLEN_SECRET;
        return KIND_STRING;
    case TOTPD_TAG_URI:
        *max_length = TOTPD_MAXLEN_URI;
        return KIND_STRING;
    case TOTPD_TAG_STATE:
        *max_length = TOTPD_MAXLEN_STATE;
        return KIND_STRING;
    case TOTPD_TAG_QR:
        *max_length = TOTPD_MAXLEN_QR;
        return KIND_STRING;
    case TOTPD_TAG_RECOVERY_CODE:
    case TOTPD_TAG_NEXT_CODE:
    case TOTPD_TAG_EVENT:
    case TOTPD_TAG_RESULT:
        *max_length = TOTPD_MAXLEN_EVENT; /* all four are limited to 64 bytes */
        return KIND_STRING;
    case TOTPD_TAG_EXPIRES_AT:
    case TOTPD_TAG_RETRY_AFTER:
    case TOTPD_TAG_FAILURES:
    case TOTPD_TAG_ACTIVATED_AT:
    case TOTPD_TAG_LAST_SUCCESS_AT:
    case TOTPD_TAG_LOCKED_UNTIL:
    case TOTPD_TAG_RECOVERY_CODES_LEFT:
    case TOTPD_TAG_SINCE:
    case TOTPD_TAG_AFTER_ID:
    case TOTPD_TAG_ID:
    case TOTPD_TAG_TIME:
    case TOTPD_TAG_CALLER_UID:
    case TOTPD_TAG_CALLER_PID:
        *max_length = TOTPD_U64_SIZE;
        return KIND_U64;
    case TOTPD_TAG_RECORD:
        *max_length = TOTPD_MAXLEN_RECORD;
        return KIND_RECORD;
    default:
        *max_length = 0;
        return KIND_UNKNOWN;
    }
}

/* ---- requests ------------------------------------------------------------------------------ */

totpd_status totpd_request_begin(totpd_request *request, uint8_t *buffer, size_t capacity,
                                 uint8_t operation) {
    const size_t header = TOTPD_FRAME_LENGTH_SIZE + TOTPD_BODY_HEADER_SIZE;

    if (request == NULL)
        return TOTPD_CLIENT_NO_SPACE;
    request->frame = buffer;
    request->capacity = buffer == NULL ? 0 : capacity;
    request->length = 0;
    if (request->capacity < header)
        return TOTPD_CLIENT_NO_SPACE;

    put_be32(buffer, TOTPD_BODY_HEADER_SIZE);
    buffer[4] = TOTPD_PROTOCOL_VERSION;
    buffer[5] = operation;
    request->length = header;
    return TOTPD_CLIENT_OK;
}

totpd_status totpd_request_add_string(totpd_request *request, uint8_t tag, const char *value,
                                      size_t length) {
    size_t max_length, body, room;

    if (request == NULL || request->frame == NULL || request->length < TOTPD_FRAME_LENGTH_SIZE)
        return TOTPD_CLIENT_NO_SPACE;
    if (field_kind(tag, &max_length) != KIND_STRING || length > max_length ||
        (value == NULL && length > 0))
        return TOTPD_CLIENT_BAD_FIELD;

    /* length <= TOTPD_MAXLEN_QR here and length <= capacity always: none of this overflows. */
    body = request->length - TOTPD_FRAME_LENGTH_SIZE;
    room = request->capacity - request->length;
    if (body + TOTPD_FIELD_HEADER_SIZE + length > TOTPD_MAX_REQUEST_BODY ||
        TOTPD_FIELD_HEADER_SIZE + length > room)
        return TOTPD_CLIENT_NO_SPACE;

    uint8_t *p = request->frame + request->length;
    p[0] = tag;
    put_be16(p + 1, (uint16_t)length);
    if (length > 0)
        memcpy(p + TOTPD_FIELD_HEADER_SIZE, value, length);
    request->length += TOTPD_FIELD_HEADER_SIZE + length;
    put_be32(request->frame, (uint32_t)(body + TOTPD_FIELD_HEADER_SIZE + length));
    return TOTPD_CLIENT_OK;
}

/* ---- responses ----------------------------------------------------------------------------- */

/* The text goes to syslog and terminals: no control bytes (but newlines where the text is
   made of lines), no early NUL. */
static void copy_text(char *out, const uint8_t *value, size_t length, bool keep_newlines) {
    for (size_t i = 0; i < length; i++) {
        bool control = value[i] < 0x20 || value[i] == 0x7f;
        out[i] = control && !(keep_newlines && value[i] == '\n') ? '?' : (char)value[i];
    }
    out[length] = '\0';
}

static totpd_status parse_fields(const uint8_t *body, size_t length, totpd_response *response) {
    size_t pos = TOTPD_BODY_HEADER_SIZE;

    while (pos < length) {
        size_t max_length;
        if (length - pos < TOTPD_FIELD_HEADER_SIZE)
            return TOTPD_CLIENT_MALFORMED;
        uint8_t tag = body[pos];
        size_t value_length = get_be16(body + pos + 1);
        pos += TOTPD_FIELD_HEADER_SIZE;
        if (value_length > length - pos)
            return TOTPD_CLIENT_MALFORMED;
        const uint8_t *value = body + pos;
        pos += value_length;

        switch (field_kind(tag, &max_length)) {
        case KIND_UNKNOWN:
            continue; /* newer daemons may add fields */
        case KIND_U64:
            if (value_length != TOTPD_U64_SIZE)
                return TOTPD_CLIENT_MALFORMED;
            break;
        case KIND_STRING:
        case KIND_RECORD:
            if (value_length > max_length)
                return TOTPD_CLIENT_MALFORMED;
            break;
        }

        if (tag == TOTPD_TAG_MESSAGE && !response->has_message) {
            copy_text(response->message, value, value_length, false);
            response->has_message = true;
        } else if (tag == TOTPD_TAG_RETRY_AFTER && !response->has_retry_after) {
            response->retry_after = get_be64(value);
            response->has_retry_after = true;
        } else if (tag == TOTPD_TAG_STATE && !response->has_state) {
            copy_text(response->state, value, value_length, false);
            response->has_state = true;
        } else if (tag == TOTPD_TAG_SECRET && !response->has_secret) {
            copy_text(response->secret, value, value_length, false);
            response->has_secret = true;
        } else if (tag == TOTPD_TAG_QR && !response->has_qr) {
            copy_text(response->qr, value, value_length, true);
            response->has_qr = true;
        } else if (tag == TOTPD_TAG_RECOVERY_CODE &&
                   response->recovery_code_count < TOTPD_RECOVERY_CODE_COUNT) {
            copy_text(response->recovery_codes[response->recovery_code_count++], value,
                      value_length, false);
        }
    }
    return TOTPD_CLIENT_OK;
}

totpd_status totpd_response_parse_body(const uint8_t *body, size_t length,
                                       totpd_response *response) {
    totpd_status status;

    if (response == NULL)
        return TOTPD_CLIENT_MALFORMED;
    memset(response, 0, sizeof *response);
    if (length > TOTPD_MAX_RESPONSE_BODY)
        return TOTPD_CLIENT_TOO_LARGE;
    if (body == NULL || length < TOTPD_BODY_HEADER_SIZE || body[0] != TOTPD_PROTOCOL_VERSION)
        return TOTPD_CLIENT_MALFORMED;
    response->result = body[1];
    status = parse_fields(body, length, response);
    if (status != TOTPD_CLIENT_OK)
        memset(response, 0, sizeof *response); /* no half-parsed answer */
    return status;
}

totpd_status totpd_response_parse_frame(const uint8_t *frame, size_t length,
                                        totpd_response *response) {
    if (response != NULL)
        memset(response, 0, sizeof *response);
    if (frame == NULL || length < TOTPD_FRAME_LENGTH_SIZE)
        return TOTPD_CLIENT_MALFORMED;
    uint32_t body_length = get_be32(frame);
    if (body_length > TOTPD_MAX_RESPONSE_BODY)
        return TOTPD_CLIENT_TOO_LARGE;
    if (length - TOTPD_FRAME_LENGTH_SIZE != body_length)
        return TOTPD_CLIENT_MALFORMED;
    return totpd_response_parse_body(frame + TOTPD_FRAME_LENGTH_SIZE, body_length, response);
}

/* ---- the exchange -------------------------------------------------------------------------- */

static int64_t monotonic_ns(void) {
    struct timespec now;
    /* CLOCK_MONOTONIC cannot fail on Linux; if it ever did, 0 makes the deadline expire soon. */
    if (clock_gettime(CLOCK_MONOTONIC, &now) != 0)
        return 0;
    return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

/* Milliseconds left before the deadline, rounded up so poll() never wakes early; 0 = expired. */
static int remaining_ms(int64_t deadline_ns) {
    int64_t left = deadline_ns - monotonic_ns();
    if (left <= 0)
        return 0;
    return (int)((left + 999999) / 1000000);
}

/* Waits until fd is ready for events. POLLERR/POLLHUP also count as ready: the next send or
   recv then reports what happened. */
static totpd_status wait_for(int fd, short events, int64_t deadline_ns, int *error_number) {
    for (;;) {
        int timeout = remaining_ms(deadline_ns);
        if (timeout == 0)
            return TOTPD_CLIENT_TIMEOUT;
        struct pollfd pfd = {.fd = fd, .events = events, .revents = 0};
        int ready = poll(&pfd, 1, timeout);
        if (ready > 0)
            return TOTPD_CLIENT_OK;
        if (ready < 0 && errno != EINTR) {
            *error_number = errno;
            return TOTPD_CLIENT_IO_ERROR;
        }
        /* A timeout or a signal: the loop recomputes what is left. */
    }
}

/* The socket file must be a real socket owned by root. connect() would follow a symlink, and a
   socket planted elsewhere by a user must never be trusted with a login. */
static totpd_status check_socket_file(const char *path, int *error_number) {
    struct stat st;
    if (lstat(path, &st) != 0) {
        *error_number = errno;
        return TOTPD_CLIENT_NO_SOCKET;
    }
    if (!S_ISSOCK(st.st_mode))
        return TOTPD_CLIENT_NOT_SOCKET;
    if (st.st_uid != 0)
        return TOTPD_CLIENT_NOT_ROOT_OWNED;
    return TOTPD_CLIENT_OK;
}

static totpd_status connect_before(int fd, const struct sockaddr_un *address, socklen_t size,
                                   int64_t deadline_ns, int *error_number) {
    for (;;) {
        if (connect(fd, (const struct sockaddr *)address, size) == 0 || errno == EISCONN)
            return TOTPD_CLIENT_OK;
        switch (errno) {
        case EINTR:
            continue;
        case EAGAIN: {
            /* The accept queue is full (a busy daemon, or someone holding connections): it
               does not wait for room on a non-blocking socket, so retry until the deadline. */
            int timeout = remaining_ms(deadline_ns);
            if (timeout == 0)
                return TOTPD_CLIENT_TIMEOUT;
            (void)poll(NULL, 0, timeout < CONNECT_RETRY_MS ? timeout : CONNECT_RETRY_MS);
            continue;
        }
        case EINPROGRESS:
        case EALREADY: {
            int socket_error = 0;
            socklen_t length = sizeof socket_error;
            totpd_status status = wait_for(fd, POLLOUT, deadline_ns, error_number);
            if (status != TOTPD_CLIENT_OK)
                return status;
            if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &socket_error, &length) != 0) {
                *error_number = errno;
                return TOTPD_CLIENT_CONNECT_FAILED;
            }
            if (socket_error == 0)
                return TOTPD_CLIENT_OK;
            *error_number = socket_error;
            return TOTPD_CLIENT_CONNECT_FAILED;
        }
        default:
            *error_number = errno;
            return TOTPD_CLIENT_CONNECT_FAILED;
        }
    }
}

/* SO_PEERCRED on a connected Unix socket names the process that called listen(): it must be
   root, whatever the file system says. */
static totpd_status check_peer(int fd, int *error_number) {
    struct ucred peer;
    socklen_t length = sizeof peer;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &length) != 0) {
        *error_number = errno;
        return TOTPD_CLIENT_IO_ERROR;
    }
    if (length != sizeof peer || peer.uid != 0)
        return TOTPD_CLIENT_PEER_NOT_ROOT;
    return TOTPD_CLIENT_OK;
}

static totpd_status send_all(int fd, const uint8_t *data, size_t length, int64_t deadline_ns,
                             int *error_number) {
    size_t sent = 0;
    while (sent < length) {
        /* MSG_NOSIGNAL: a daemon that hung up must not kill the login process with SIGPIPE. */
        ssize_t n = send(fd, data + sent, length - sent, MSG_NOSIGNAL);
        if (n > 0) {
            sent += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            totpd_status status = wait_for(fd, POLLOUT, deadline_ns, error_number);
            if (status != TOTPD_CLIENT_OK)
                return status;
        } else if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) {
            *error_number = errno;
            return TOTPD_CLIENT_CLOSED;
        } else {
            *error_number = n < 0 ? errno : 0;
            return TOTPD_CLIENT_IO_ERROR;
        }
    }
    return TOTPD_CLIENT_OK;
}

static totpd_status receive_exact(int fd, uint8_t *data, size_t length, int64_t deadline_ns,
                                  int *error_number) {
    size_t received = 0;
    while (received < length) {
        ssize_t n = recv(fd, data + received, length - received, 0);
        if (n > 0) {
            received += (size_t)n;
        } else if (n == 0) {
            return TOTPD_CLIENT_CLOSED;
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            totpd_status status = wait_for(fd, POLLIN, deadline_ns, error_number);
            if (status != TOTPD_CLIENT_OK)
                return status;
        } else if (errno == ECONNRESET) {
            *error_number = errno;
            return TOTPD_CLIENT_CLOSED;
        } else {
            *error_number = errno;
            return TOTPD_CLIENT_IO_ERROR;
        }
    }
    return TOTPD_CLIENT_OK;
}

totpd_status totpd_exchange(const char *socket_path, unsigned timeout_ms, const uint8_t *frame,
                            size_t frame_length, totpd_response *response, int *error_number) {
    /* Everything (lstat, connect, send, receive) shares this one deadline. */
    const int64_t deadline_ns = monotonic_ns() + (int64_t)timeout_ms * 1000000;
    struct sockaddr_un address;
    uint8_t header[TOTPD_FRAME_LENGTH_SIZE];
    uint8_t body[TOTPD_MAX_RESPONSE_BODY];
    uint32_t body_length = 0;
    totpd_status status;
    size_t path_length;
    int ignored_errno = 0;
    int fd = -1;

    if (error_number == NULL)
        error_number = &ignored_errno;
    *error_number = 0;
    if (response != NULL)
        memset(response, 0, sizeof *response);
    if (response == NULL || frame == NULL || frame_length < TOTPD_FRAME_LENGTH_SIZE ||
        frame_length > TOTPD_MAX_REQUEST_FRAME)
        return TOTPD_CLIENT_NO_SPACE;

    if (socket_path == NULL || socket_path[0] != '/')
        return TOTPD_CLIENT_BAD_PATH;
    path_length = strnlen(socket_path, sizeof address.sun_path);
    if (path_length >= sizeof address.sun_path)
        return TOTPD_CLIENT_BAD_PATH;

    status = check_socket_file(socket_path, error_number);
    if (status != TOTPD_CLIENT_OK)
        return status;

    memset(&address, 0, sizeof address);
    address.sun_family = AF_UNIX;
    memcpy(address.sun_path, socket_path, path_length + 1);

    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        *error_number = errno;
        return TOTPD_CLIENT_CONNECT_FAILED;
    }

    status = connect_before(fd, &address,
                            (socklen_t)(offsetof(struct sockaddr_un, sun_path) + path_length + 1),
                            deadline_ns, error_number);
    if (status != TOTPD_CLIENT_OK)
        goto out;
    status = check_peer(fd, error_number);
    if (status != TOTPD_CLIENT_OK)
        goto out;
    status = send_all(fd, frame, frame_length, deadline_ns, error_number);
    if (status != TOTPD_CLIENT_OK)
        goto out;

    status = receive_exact(fd, header, sizeof header, deadline_ns, error_number);
    if (status != TOTPD_CLIENT_OK)
        goto out;
    body_length = get_be32(header);
    /* Refuse an oversize answer before reading any of it. */
    if (body_length > TOTPD_MAX_RESPONSE_BODY) {
        status = TOTPD_CLIENT_TOO_LARGE;
        body_length = 0;
        goto out;
    }
    if (body_length < TOTPD_BODY_HEADER_SIZE) {
        status = TOTPD_CLIENT_MALFORMED;
        body_length = 0;
        goto out;
    }
    status = receive_exact(fd, body, body_length, deadline_ns, error_number);
    if (status != TOTPD_CLIENT_OK)
        goto out;
    status = totpd_response_parse_body(body, body_length, response);

out:
    /* Answers to other operations can carry secrets; leave none on the stack. */
    explicit_bzero(body, body_length);
    close(fd);
    return status;
}

/* ---- field checks -------------------------------------------------------------------------- */

static bool is_digit_code(const char *code, size_t length) {
    if (length < TOTPD_CODE_MIN_DIGITS || length > TOTPD_CODE_MAX_DIGITS)
        return false;
    for (size_t i = 0; i < length; i++)
        if (code[i] < '0' || code[i] > '9')
            return false;
    return true;
}

/* A recovery code: 10 base32 characters in either case, optionally with a hyphen after the
   fifth (the way totpctl prints them). */
static bool is_recovery_code(const char *code, size_t length) {
    const bool hyphenated = length == TOTPD_RECOVERY_CODE_LENGTH + 1;
    if (length != TOTPD_RECOVERY_CODE_LENGTH && !hyphenated)
        return false;
    for (size_t i = 0; i < length; i++) {
        const char c = code[i];
        if (hyphenated && i == 5) {
            if (c != '-')
                return false;
        } else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '2' && c <= '7'))) {
            return false;
        }
    }
    return true;
}

bool totpd_code_is_wellformed(const char *code) {
    if (code == NULL)
        return false;
    size_t length = strnlen(code, TOTPD_RECOVERY_CODE_LENGTH + 2);
    return is_digit_code(code, length) || is_recovery_code(code, length);
}

bool totpd_totp_code_is_wellformed(const char *code) {
    return code != NULL && is_digit_code(code, strnlen(code, TOTPD_CODE_MAX_DIGITS + 1));
}

/* Decodes one UTF-8 sequence of at most available bytes; returns its length, or 0 if the bytes
   are not well-formed UTF-8 (overlong forms, surrogates and values over U+10FFFF included). */
static size_t decode_utf8(const unsigned char *p, size_t available, uint32_t *code_point) {
    uint32_t value, minimum;
    size_t continuation;

    if (p[0] < 0x80) {
        *code_point = p[0];
        return 1;
    } else if (p[0] < 0xC2) {
        return 0;
    } else if (p[0] < 0xE0) {
        value = p[0] & 0x1Fu, minimum = 0x80, continuation = 1;
    } else if (p[0] < 0xF0) {
        value = p[0] & 0x0Fu, minimum = 0x800, continuation = 2;
    } else if (p[0] < 0xF5) {
        value = p[0] & 0x07u, minimum = 0x10000, continuation = 3;
    } else {
        return 0;
    }
    if (available <= continuation)
        return 0;
    for (size_t i = 1; i <= continuation; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        value = (value << 6) | (p[i] & 0x3Fu);
    }
    if (value < minimum || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF))
        return 0;
    *code_point = value;
    return continuation + 1;
}

bool totpd_user_is_acceptable(const char *user) {
    if (user == NULL)
        return false;
    size_t length = strnlen(user, TOTPD_MAXLEN_USER + 1);
    if (length == 0 || length > TOTPD_MAXLEN_USER)
        return false;
    const unsigned char *p = (const unsigned char *)user;
    size_t pos = 0;
    while (pos < length) {
        uint32_t code_point;
        size_t n = decode_utf8(p + pos, length - pos, &code_point);
        /* Unicode's control characters (C0, DEL, C1): the daemon refuses them too. A double quote
           is in no account name (Active Directory forbids it too) and would end the quoted name
           in the module's syslog lines, letting a remote login name forge text there. */
        if (n == 0 || code_point < 0x20 || (code_point >= 0x7F && code_point <= 0x9F) ||
            code_point == '"')
            return false;
        pos += n;
    }
    return true;
}

size_t totpd_utf8_prefix_length(const char *text, size_t max) {
    if (text == NULL)
        return 0;
    size_t length = strnlen(text, max);
    if (length < max || text[max] == '\0')
        return length;
    /* text[max] is the first byte cut off; if it continues a character, cut before that
       character's first byte. A valid character has at most 3 continuation bytes. */
    size_t cut = max;
    for (int steps = 0; steps < 3 && cut > 0 && ((unsigned char)text[cut] & 0xC0) == 0x80; steps++)
        cut--;
    if (((unsigned char)text[cut] & 0xC0) == 0x80)
        return max; /* not UTF-8 anyway: keep the bytes, the daemon replaces them */
    return cut;
}
