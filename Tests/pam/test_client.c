/* Unit tests of the socket client (Sources/pam_totpd/client.c): request frames, response
   parsing, field checks, and real exchanges with servers forked by this test. Run as root: the
   client insists on a root-owned socket and a root peer. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "totpd_client.h"
#include "check.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHECK_STATUS(actual, expected)                                                             \
    do {                                                                                           \
        totpd_status got_ = (actual);                                                              \
        if (got_ == (expected)) {                                                                  \
            passed++;                                                                              \
        } else {                                                                                   \
            failed++;                                                                              \
            fprintf(stderr, "%s:%d: %s gave \"%s\", expected \"%s\"\n", __FILE__, __LINE__,        \
                    #actual, totpd_status_text(got_), totpd_status_text(expected));                \
        }                                                                                          \
    } while (0)

/* The VERIFY example of docs/PROTOCOL.md, and its REJECTED answer. */
static const uint8_t EXAMPLE_REQUEST[] = {
    0x00, 0x00, 0x00, 0x1a, 0x01, 0x01, 0x01, 0x00, 0x05, 'a',  'l',  'i', 'c', 'e', 0x02,
    0x00, 0x06, '1',  '2',  '3',  '4',  '5',  '6',  0x03, 0x00, 0x04, 's', 'u', 'd', 'o'};
static const uint8_t EXAMPLE_ANSWER[] = {0x00, 0x00, 0x00, 0x02, 0x01, 0x01};

static double seconds_now(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static void sleep_ms(long ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0 && errno == EINTR) {
    }
}

/* ---- request frames ------------------------------------------------------------------------ */

static void test_example_frame(void) {
    uint8_t buffer[TOTPD_MAX_REQUEST_FRAME];
    totpd_request request;
    CHECK_STATUS(totpd_request_begin(&request, buffer, sizeof buffer, TOTPD_OP_VERIFY),
                 TOTPD_CLIENT_OK);
    CHECK_STATUS(totpd_request_add_string(&request, TOTPD_TAG_USER, "alice", 5), TOTPD_CLIENT_OK);
    CHECK_STATUS(totpd_request_add_string(&request, TOTPD_TAG_CODE, "123456", 6), TOTPD_CLIENT_OK);
    CHECK_STATUS(totpd_request_add_string(&request, TOTPD_TAG_SERVICE, "sudo", 4), TOTPD_CLIENT_OK);
    CHECK(request.frame == buffer);
    CHECK(request.length == sizeof EXAMPLE_REQUEST);
    CHECK(memcmp(buffer, EXAMPLE_REQUEST, sizeof EXAMPLE_REQUEST) == 0);

    /* An operation without fields is a 2-byte body; an empty string field is allowed. */
    CHECK_STATUS(totpd_request_begin(&request, buffer, sizeof buffer, TOTPD_OP_LIST),
                 TOTPD_CLIENT_OK);
    CHECK(request.length == 6 && memcmp(buffer, "\0\0\0\x02\x01\x05", 6) == 0);
    CHECK_STATUS(totpd_request_add_string(&request, TOTPD_TAG_TTY, "", 0), TOTPD_CLIENT_OK);
    CHECK(request.length == 9 && memcmp(buffer, "\0\0\0\x05\x01\x05\x05\0\0", 9) == 0);
}

static void test_frame_limits(void) {
    uint8_t buffer[2 * TOTPD_MAX_REQUEST_FRAME];
    char text[TOTPD_MAXLEN_MESSAGE + 1];
    totpd_request request;
    memset(text, 'm', sizeof text);

    /* The buffer cannot hold even the header. */
    CHECK_STATUS(totpd_request_begin(&request, buffer, 5, TOTPD_OP_VERIFY), TOTPD_CLIENT_NO_SPACE);
    CHECK_STATUS(totpd_request_begin(&request, NULL, 100, TOTPD_OP_VERIFY), TOTPD_CLIENT_NO_SPACE);
    CHECK_STATUS(totpd_request_add_string(&request, TOTPD_TAG_USER, "a", 1), TOTPD_CLIENT_NO_SPACE);

    /* The buffer cannot hold the field: refused, and the request is left as it was. */
    CHECK_STATUS(totpd_request_begin(&request, buffer, 13, TOTPD_OP_VERIFY), TOTPD_CLIENT_OK);
    CHECK_STATUS(totpd_request_add_string(&request, TOTPD_TAG_USER, "alice", 5),
                 TOTPD_CLIENT_NO_SPACE);
    CHECK(request.length == 6 && memcmp(buffer, "\0\0\0\x02\x01\x01", 6) == 0);
    /* One byte more and it fits exactly. */
    CHECK_STATUS(totpd_request_begin(&request, buffer, 14, TOTPD_OP_VERIFY), TOTPD_CLIENT_OK);
    CHECK_STATUS(totpd_request_add_string(&request, TOTPD_TAG_USER, "alice", 5), TOTPD_CLIENT_OK);
    CHECK(request.length == 14);

    /* Per-tag limits, unknown and non-string tags. */
    CHECK_STATUS(totpd_request_begin(&request, buffer, sizeof buffer, TOTPD_OP_VERIFY),
                 TOTPD_CLIENT_OK);
    CHECK_STATUS(totpd_request_add_string(&request, TOTPD_TAG_USER, text, TOTPD_MAXLEN_USER + 1),
                 TOTPD_CLIENT_BAD_FIELD);
    CHECK_STATUS(totpd_request_add_string(&request, TOTPD_TAG_USER, text, TOTPD_MAXLEN_USER),
                 TOTPD_CLIENT_OK);
    CHECK_STATUS(totpd_request_add_string(&request, TOTPD_TAG_CODE, text, TOTPD_MAXLEN_CODE + 1),
                 TOTPD_CLIENT_BAD_FIELD);
    CHECK_STATUS(totpd_request_add_string(&request, TOTPD_TAG_RETRY_AFTER, "12345678", 8),
                 TOTPD_CLIENT_BAD_FIELD);
    CHECK_STATUS(totpd_request_add_string(&request, TOTPD_TAG_RECORD, "", 0),
                 TOTPD_CLIENT_BAD_FIELD);
    CHECK_STATUS(totpd_request_add_string(&request, 200, "x", 1), TOTPD_CLIENT_BAD_FIELD);
    CHECK_STATUS(totpd_request_add_string(&request, TOTPD_TAG_USER, NULL, 1),
                 TOTPD_CLIENT_BAD_FIELD);

    /* The body limit holds even when the buffer is larger: fill the body to exactly 4096. */
    CHECK_STATUS(totpd_request_begin(&request, buffer, sizeof buffer, TOTPD_OP_VERIFY),
                 TOTPD_CLIENT_OK);
    for (int i = 0; i < 3; i++)
        CHECK_STATUS(
            totpd_request_add_string(&request, TOTPD_TAG_MESSAGE, text, TOTPD_MAXLEN_MESSAGE),
            TOTPD_CLIENT_OK);
    size_t left = TOTPD_MAX_REQUEST_BODY - (request.length - 4) - 3; /* 1010 */
    CHECK_STATUS(totpd_request_add_string(&request, TOTPD_TAG_MESSAGE, text, left + 1),
                 TOTPD_CLIENT_NO_SPACE);
    CHECK_STATUS(totpd_request_add_string(&request, TOTPD_TAG_MESSAGE, text, left),
                 TOTPD_CLIENT_OK);
    CHECK(request.length == TOTPD_MAX_REQUEST_FRAME);
    CHECK(memcmp(buffer, "\0\0\x10\0", 4) == 0);
    CHECK_STATUS(totpd_request_add_string(&request, TOTPD_TAG_TTY, "", 0), TOTPD_CLIENT_NO_SPACE);
}

/* ---- response parsing ---------------------------------------------------------------------- */

static totpd_status parse(const void *frame, size_t length, totpd_response *response) {
    memset(response, 0x5a, sizeof *response); /* stale data must not survive */
    return totpd_response_parse_frame(frame, length, response);
}

static bool zeroed(const totpd_response *response) {
    totpd_response zero;
    memset(&zero, 0, sizeof zero);
    return memcmp(response, &zero, sizeof zero) == 0;
}

static void test_good_responses(void) {
    totpd_response response;

    CHECK_STATUS(parse(EXAMPLE_ANSWER, sizeof EXAMPLE_ANSWER, &response), TOTPD_CLIENT_OK);
    CHECK(response.result == TOTPD_RESULT_REJECTED);
    CHECK(!response.has_message && !response.has_retry_after);

    CHECK_STATUS(parse("\0\0\0\x02\x01\0", 6, &response), TOTPD_CLIENT_OK);
    CHECK(response.result == TOTPD_RESULT_OK);

    /* LOCKED with RETRY_AFTER, a MESSAGE with a control byte, a known u64 field this client
       does not use, unknown tags (one empty) and a second MESSAGE that must not win. */
    static const uint8_t locked[] = {
        0x00, 0x00, 0x00, 0x43,                                           /* length 67 */
        0x01, 0x03,                                                       /* version 1, LOCKED */
        0x0b, 0x00, 0x08, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, /* RETRY_AFTER */
        0x06, 0x00, 0x0a, 's',  'l',  'o',  'w',  ' ',  'd',  'o',  'w',  'n', '\n', /* MESSAGE */
        0xc8, 0x00, 0x05, 'h',  'e',  'l',  'l',  'o',                               /* tag 200 */
        0xff, 0x00, 0x00,                                              /* tag 255, empty */
        0x0c, 0x00, 0x08, 0,    0,    0,    0,    0,    0,    0,    3, /* FAILURES */
        0x06, 0x00, 0x05, 'l',  'a',  't',  'e',  'r',                 /* second MESSAGE */
        0x0b, 0x00, 0x08, 0,    0,    0,    0,    0,    0,    0,    9, /* second RETRY_AFTER */
    };
    CHECK(sizeof locked == 4 + 0x43);
    CHECK_STATUS(parse(locked, sizeof locked, &response), TOTPD_CLIENT_OK);
    CHECK(response.result == TOTPD_RESULT_LOCKED);
    CHECK(response.has_retry_after && response.retry_after == 0x0102030405060708ULL);
    CHECK(response.has_message && strcmp(response.message, "slow down?") == 0);

    /* An unknown result code parses; the module decides what it means (fail closed). */
    CHECK_STATUS(parse("\0\0\0\x02\x01\x63", 6, &response), TOTPD_CLIENT_OK);
    CHECK(response.result == 99);

    /* A MESSAGE of the largest size, and a body of exactly the largest size. */
    static uint8_t big[4 + TOTPD_MAX_RESPONSE_BODY];
    memset(big, 'x', sizeof big);
    memcpy(big, "\0\0\x04\x05\x01\x05\x06\x04\x00", 9); /* body 2 + 3 + 1024 */
    CHECK_STATUS(parse(big, 4 + 0x405, &response), TOTPD_CLIENT_OK);
    CHECK(response.has_message && strlen(response.message) == TOTPD_MAXLEN_MESSAGE);
    memcpy(big, "\0\0\x40\x00\x01\x08", 6); /* 16384: fields of unknown tag 100 fill it */
    for (size_t pos = 6; pos < sizeof big; pos += 3 + 4093) {
        size_t value = sizeof big - pos - 3 < 4093 ? sizeof big - pos - 3 : 4093;
        big[pos] = 100;
        big[pos + 1] = (uint8_t)(value >> 8);
        big[pos + 2] = (uint8_t)value;
    }
    CHECK_STATUS(parse(big, sizeof big, &response), TOTPD_CLIENT_OK);
    CHECK(response.result == TOTPD_RESULT_INTERNAL_ERROR);
}

/* Appends a field to a response body being built in body (no length prefix). */
static size_t put_field(uint8_t *body, size_t at, uint8_t tag, const char *value, size_t length) {
    body[at] = tag;
    body[at + 1] = (uint8_t)(length >> 8);
    body[at + 2] = (uint8_t)length;
    memcpy(body + at + 3, value, length);
    return at + 3 + length;
}

static void test_enrollment_responses(void) {
    static uint8_t body[TOTPD_MAX_RESPONSE_BODY];
    static char drawing[TOTPD_MAXLEN_QR + 1];
    static totpd_response response;
    size_t length = 2;

    /* LOGIN_ENROLL: the QR keeps its newlines (and loses any other control byte), the secret
       none; a QR of the largest size fits. */
    body[0] = TOTPD_PROTOCOL_VERSION;
    body[1] = TOTPD_RESULT_OK;
    length = put_field(body, length, TOTPD_TAG_SECRET, "ABCD\x1b", 5);
    length = put_field(body, length, TOTPD_TAG_QR, "\xe2\x96\x88 \n \x1b[0m\n", 11);
    CHECK_STATUS(totpd_response_parse_body(body, length, &response), TOTPD_CLIENT_OK);
    CHECK(response.has_secret && strcmp(response.secret, "ABCD?") == 0);
    CHECK(response.has_qr && strcmp(response.qr, "\xe2\x96\x88 \n ?[0m\n") == 0);
    CHECK(response.recovery_code_count == 0);

    memset(drawing, 'x', TOTPD_MAXLEN_QR);
    length = put_field(body, 2, TOTPD_TAG_QR, drawing, TOTPD_MAXLEN_QR);
    CHECK_STATUS(totpd_response_parse_body(body, length, &response), TOTPD_CLIENT_OK);
    CHECK(response.has_qr && strlen(response.qr) == TOTPD_MAXLEN_QR);
    length = put_field(body, 2, TOTPD_TAG_QR, drawing, TOTPD_MAXLEN_QR + 1);
    CHECK_STATUS(totpd_response_parse_body(body, length, &response), TOTPD_CLIENT_MALFORMED);
    CHECK(!response.has_qr);

    /* ENROLL_CONFIRM: up to ten recovery codes are kept, in order; more are ignored. */
    length = 2;
    for (int i = 0; i < TOTPD_RECOVERY_CODE_COUNT + 2; i++) {
        char code[16];
        int n = snprintf(code, sizeof code, "code%d-abcde", i);
        length = put_field(body, length, TOTPD_TAG_RECOVERY_CODE, code, (size_t)n);
    }
    CHECK_STATUS(totpd_response_parse_body(body, length, &response), TOTPD_CLIENT_OK);
    CHECK(response.recovery_code_count == TOTPD_RECOVERY_CODE_COUNT);
    CHECK(strcmp(response.recovery_codes[0], "code0-abcde") == 0);
    CHECK(strcmp(response.recovery_codes[9], "code9-abcde") == 0);
}

static void expect_malformed(const void *frame, size_t length, totpd_status expected, int line) {
    totpd_response response;
    totpd_status status = parse(frame, length, &response);
    if (status == expected && zeroed(&response)) {
        passed++;
    } else {
        failed++;
        fprintf(stderr, "%s:%d: frame gave \"%s\", expected \"%s\"\n", __FILE__, line,
                totpd_status_text(status), totpd_status_text(expected));
    }
}

#define MALFORMED(literal)                                                                         \
    expect_malformed(literal, sizeof literal - 1, TOTPD_CLIENT_MALFORMED, __LINE__)
#define TOO_LARGE(literal)                                                                         \
    expect_malformed(literal, sizeof literal - 1, TOTPD_CLIENT_TOO_LARGE, __LINE__)

static void test_malformed_responses(void) {
    MALFORMED("");                                       /* no length */
    MALFORMED("\0\0\0");                                 /* truncated length */
    MALFORMED("\0\0\0\x02\x01");                         /* truncated body */
    MALFORMED("\0\0\0\x02\x01\x01\x00");                 /* a byte beyond the frame */
    MALFORMED("\0\0\0\0");                               /* empty body */
    MALFORMED("\0\0\0\x01\x01");                         /* body shorter than 2 bytes */
    MALFORMED("\0\0\0\x02\x02\x00");                     /* version 2 */
    MALFORMED("\0\0\0\x02\x00\x00");                     /* version 0 */
    MALFORMED("\0\0\0\x04\x01\x01\x06\x00");             /* field header cut short */
    MALFORMED("\0\0\0\x07\x01\x01\x06\x00\x05\x61\x62"); /* field runs past the body */
    MALFORMED("\0\0\0\x07\x01\x01\xc8\x00\x03\x61\x62"); /* unknown tag runs past the body */
    MALFORMED("\0\0\0\x0c\x01\x03\x0b\x00\x07\0\0\0\0\0\0\x05");     /* u64 of 7 bytes */
    MALFORMED("\0\0\0\x0e\x01\x03\x0b\x00\x09\0\0\0\0\0\0\0\0\x05"); /* u64 of 9 bytes */
    MALFORMED("\0\0\0\x05\x01\x00\x09\x00\x00");                     /* empty u64 */
    MALFORMED("\0\0\0\x0c\x01\x00\x12\x00\x07\0\0\0\0\0\0\x05");     /* LOCKED_UNTIL of 7 */
    MALFORMED("\0\0\0\x0c\x01\x00\x1b\x00\x07\0\0\0\0\0\0\x05");     /* CALLER_PID of 7 */
    TOO_LARGE("\0\0\x40\x01\x01\x01");                               /* 16385 */
    TOO_LARGE("\xff\xff\xff\xff\x01\x01");

    /* A known string field over its limit: MESSAGE of 1025 bytes. */
    static uint8_t long_message[4 + 2 + 3 + TOTPD_MAXLEN_MESSAGE + 1];
    memset(long_message, 'x', sizeof long_message);
    memcpy(long_message, "\0\0\x04\x06\x01\x05\x06\x04\x01", 9);
    expect_malformed(long_message, sizeof long_message, TOTPD_CLIENT_MALFORMED, __LINE__);

    /* The body parser on its own. */
    totpd_response response;
    static uint8_t oversize[TOTPD_MAX_RESPONSE_BODY + 1];
    oversize[0] = 1;
    CHECK_STATUS(totpd_response_parse_body(oversize, sizeof oversize, &response),
                 TOTPD_CLIENT_TOO_LARGE);
    CHECK_STATUS(totpd_response_parse_body((const uint8_t *)"\x01", 1, &response),
                 TOTPD_CLIENT_MALFORMED);
    CHECK_STATUS(totpd_response_parse_body((const uint8_t *)"\x01\x07", 2, &response),
                 TOTPD_CLIENT_OK);
    CHECK(response.result == TOTPD_RESULT_UNKNOWN_USER);
}

/* ---- field checks -------------------------------------------------------------------------- */

static void test_field_checks(void) {
    CHECK(totpd_code_is_wellformed("123456"));
    CHECK(totpd_code_is_wellformed("0000000"));
    CHECK(totpd_code_is_wellformed("12345678"));
    CHECK(!totpd_code_is_wellformed("12345"));
    CHECK(!totpd_code_is_wellformed("123456789"));
    CHECK(!totpd_code_is_wellformed("12345a"));
    CHECK(!totpd_code_is_wellformed(" 123456"));
    CHECK(!totpd_code_is_wellformed("123456\n"));
    CHECK(!totpd_code_is_wellformed("-12345"));
    CHECK(!totpd_code_is_wellformed("\xef\xbc\x91\xef\xbc\x92\xef\xbc\x93")); /* fullwidth */
    /* Recovery codes: 10 base32 characters, any case, optionally hyphenated after the fifth. */
    CHECK(totpd_code_is_wellformed("abcde-fghij"));
    CHECK(totpd_code_is_wellformed("ABCDEFGHIJ"));
    CHECK(totpd_code_is_wellformed("abcdefghij"));
    CHECK(totpd_code_is_wellformed("a2c4e-7ghij"));
    CHECK(!totpd_code_is_wellformed("abcde-fghi"));
    CHECK(!totpd_code_is_wellformed("abcde--fghij"));
    CHECK(!totpd_code_is_wellformed("abcd-efghij"));
    CHECK(!totpd_code_is_wellformed("abcde-fghi1"));
    CHECK(!totpd_code_is_wellformed("abcdefghijk"));
    CHECK(!totpd_code_is_wellformed("abcde fghij"));
    /* Confirming an enrollment takes digits only. */
    CHECK(totpd_totp_code_is_wellformed("123456") && totpd_totp_code_is_wellformed("12345678"));
    CHECK(!totpd_totp_code_is_wellformed("abcde-fghij") && !totpd_totp_code_is_wellformed("12345"));
    CHECK(!totpd_totp_code_is_wellformed("123456789") && !totpd_totp_code_is_wellformed(NULL));
    CHECK(!totpd_code_is_wellformed("abcde-fgh8j"));
    CHECK(!totpd_code_is_wellformed("abcdefghij\n"));
    CHECK(!totpd_code_is_wellformed(""));
    CHECK(!totpd_code_is_wellformed(NULL));

    char name[TOTPD_MAXLEN_USER + 2];
    memset(name, 'a', sizeof name);
    name[TOTPD_MAXLEN_USER] = '\0';
    CHECK(totpd_user_is_acceptable(name));
    name[TOTPD_MAXLEN_USER] = 'a';
    name[TOTPD_MAXLEN_USER + 1] = '\0';
    CHECK(!totpd_user_is_acceptable(name));
    CHECK(totpd_user_is_acceptable("alice"));
    CHECK(!totpd_user_is_acceptable("x\"; accepted the code of user \"root"));
    CHECK(totpd_user_is_acceptable("DOMAIN\\alice")); /* winbind's form */
    CHECK(totpd_user_is_acceptable("j\xc3\xa9r\xc3\xb4me"));
    CHECK(totpd_user_is_acceptable("\xe6\x97\xa5\xe6\x9c\xac"));
    CHECK(totpd_user_is_acceptable("\xf0\x9f\x98\x80"));
    CHECK(!totpd_user_is_acceptable(""));
    CHECK(!totpd_user_is_acceptable(NULL));
    CHECK(!totpd_user_is_acceptable("a\tb"));
    CHECK(!totpd_user_is_acceptable("a\nb"));
    CHECK(!totpd_user_is_acceptable("a\x7f"));
    CHECK(!totpd_user_is_acceptable("a\xc2\x85"));        /* NEL, a C1 control */
    CHECK(!totpd_user_is_acceptable("a\xc3"));            /* cut short */
    CHECK(!totpd_user_is_acceptable("\xc0\xaf"));         /* overlong */
    CHECK(!totpd_user_is_acceptable("\xed\xa0\x80"));     /* surrogate */
    CHECK(!totpd_user_is_acceptable("\xf4\x90\x80\x80")); /* over U+10FFFF */
    CHECK(!totpd_user_is_acceptable("\x80"));

    CHECK(totpd_utf8_prefix_length("abc", 2) == 2);
    CHECK(totpd_utf8_prefix_length("abc", 3) == 3);
    CHECK(totpd_utf8_prefix_length("abc", 256) == 3);
    CHECK(totpd_utf8_prefix_length("a\xc3\xa9", 2) == 1);
    CHECK(totpd_utf8_prefix_length("a\xc3\xa9", 3) == 3);
    CHECK(totpd_utf8_prefix_length("a\xc3\xa9z", 3) == 3);
    CHECK(totpd_utf8_prefix_length("a\xf0\x9f\x98\x80", 4) == 1);
    CHECK(totpd_utf8_prefix_length("a\xf0\x9f\x98\x80", 2) == 1);
    CHECK(totpd_utf8_prefix_length("\x80\x80\x80\x80\x80", 3) == 3); /* not UTF-8: bytes kept */
    CHECK(totpd_utf8_prefix_length(NULL, 3) == 0);
    char host[300];
    memset(host, 'h', sizeof host);
    memcpy(host + 254, "\xe2\x82\xac", 3); /* the euro sign straddles byte 256 */
    host[299] = '\0';
    CHECK(totpd_utf8_prefix_length(host, 256) == 254);
    CHECK(totpd_utf8_prefix_length(host, 257) == 257);
}

/* ---- real exchanges ------------------------------------------------------------------------ */

static char directory[64];
static char socket_path[128];

static void make_directory(void) {
    strcpy(directory, "/tmp/totpd-client-test-XXXXXX");
    if (mkdtemp(directory) == NULL) {
        perror("mkdtemp");
        exit(2);
    }
    snprintf(socket_path, sizeof socket_path, "%s/socket", directory);
}

static int bound_socket(const char *path) {
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    unlink(path);
    strcpy(address.sun_path, path);
    if (fd < 0 || bind(fd, (struct sockaddr *)&address, sizeof address) != 0) {
        perror("bind");
        exit(2);
    }
    return fd;
}

static int listening_socket(const char *path, int backlog) {
    int fd = bound_socket(path);
    if (listen(fd, backlog) != 0) {
        perror("listen");
        exit(2);
    }
    return fd;
}

static bool write_all(int fd, const void *data, size_t length) {
    const uint8_t *p = data;
    while (length > 0) {
        ssize_t n = write(fd, p, length);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        length -= (size_t)n;
    }
    return true;
}

static bool read_all(int fd, void *data, size_t length) {
    uint8_t *p = data;
    while (length > 0) {
        ssize_t n = read(fd, p, length);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        length -= (size_t)n;
    }
    return true;
}

/* Reads one request frame; true if it is exactly the PROTOCOL.md example. */
static bool read_example_request(int fd) {
    uint8_t frame[TOTPD_MAX_REQUEST_FRAME];
    if (!read_all(fd, frame, 4))
        return false;
    size_t length = ((size_t)frame[2] << 8) | frame[3];
    if (frame[0] != 0 || frame[1] != 0 || length > TOTPD_MAX_REQUEST_BODY ||
        !read_all(fd, frame + 4, length))
        return false;
    return length + 4 == sizeof EXAMPLE_REQUEST &&
           memcmp(frame, EXAMPLE_REQUEST, sizeof EXAMPLE_REQUEST) == 0;
}

enum behaviour {
    ANSWER_LOCKED,   /* checks the request, answers LOCKED with RETRY_AFTER and a MESSAGE */
    NEVER_ANSWER,    /* accepts, reads, then says nothing */
    OVERSIZE_LENGTH, /* announces a body over the limit */
    CLOSE_AT_ONCE,   /* accepts and hangs up without reading */
    TRUNCATED_BODY,  /* announces 10 bytes, sends 3, hangs up */
    TRICKLE,         /* a valid answer, one byte every 300 ms */
    WRONG_VERSION,   /* a version 2 answer */
};

static void behave(int connection, enum behaviour behaviour) {
    static const uint8_t locked[] = {
        0,    0, 0, 0x15,                               /* length 21 */
        1,    3,                                        /* version 1, LOCKED */
        0x0b, 0, 8, 0,    0,   0,   0,   0,   0, 0, 42, /* RETRY_AFTER 42 */
        6,    0, 5, 'w',  'a', 'i', 't', '!',           /* MESSAGE */
    };
    static const uint8_t bad_request[] = {0, 0, 0, 2, 1, TOTPD_RESULT_BAD_REQUEST};
    switch (behaviour) {
    case ANSWER_LOCKED:
        if (read_example_request(connection))
            write_all(connection, locked, sizeof locked);
        else
            write_all(connection, bad_request, sizeof bad_request);
        break;
    case NEVER_ANSWER:
        read_example_request(connection);
        sleep(30);
        break;
    case OVERSIZE_LENGTH:
        read_example_request(connection);
        write_all(connection, "\0\0\x40\x01\x01\x00", 6);
        sleep(30); /* keep the connection open: the client must stop on the length alone */
        break;
    case CLOSE_AT_ONCE:
        break;
    case TRUNCATED_BODY:
        read_example_request(connection);
        write_all(connection, "\0\0\0\x0a\x01\x01\x06", 7);
        break;
    case TRICKLE:
        read_example_request(connection);
        for (size_t i = 0; i < sizeof EXAMPLE_ANSWER; i++) {
            write_all(connection, EXAMPLE_ANSWER + i, 1);
            sleep_ms(300);
        }
        sleep(30);
        break;
    case WRONG_VERSION:
        read_example_request(connection);
        write_all(connection, "\0\0\0\x02\x02\x00", 6);
        sleep(30);
        break;
    }
}

/* Forks a server that accepts one connection on listener and behaves as asked. */
static pid_t serve(int listener, enum behaviour behaviour) {
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(2);
    }
    if (pid == 0) {
        int connection = accept(listener, NULL, NULL);
        if (connection >= 0)
            behave(connection, behaviour);
        _exit(0);
    }
    return pid;
}

static void stop(pid_t pid) {
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

static totpd_status exchange(const char *path, unsigned timeout_ms, totpd_response *response,
                             int *error_number, double *elapsed) {
    double started = seconds_now();
    totpd_status status = totpd_exchange(path, timeout_ms, EXAMPLE_REQUEST, sizeof EXAMPLE_REQUEST,
                                         response, error_number);
    if (elapsed != NULL)
        *elapsed = seconds_now() - started;
    return status;
}

/* One exchange against a freshly forked server; returns the status and the time it took. */
static totpd_status against(enum behaviour behaviour, unsigned timeout_ms, totpd_response *response,
                            double *elapsed) {
    int listener = listening_socket(socket_path, 8);
    pid_t pid = serve(listener, behaviour);
    int error_number;
    totpd_status status = exchange(socket_path, timeout_ms, response, &error_number, elapsed);
    stop(pid);
    close(listener);
    unlink(socket_path);
    return status;
}

static void test_normal_exchange(void) {
    totpd_response response;
    double elapsed;
    CHECK_STATUS(against(ANSWER_LOCKED, 3000, &response, &elapsed), TOTPD_CLIENT_OK);
    CHECK(response.result == TOTPD_RESULT_LOCKED);
    CHECK(response.has_retry_after && response.retry_after == 42);
    CHECK(response.has_message && strcmp(response.message, "wait!") == 0);
    CHECK(elapsed < 1.0);
}

static void test_silent_server_times_out(void) {
    totpd_response response;
    double elapsed;
    CHECK_STATUS(against(NEVER_ANSWER, 1000, &response, &elapsed), TOTPD_CLIENT_TIMEOUT);
    printf("silent server: gave up after %.3f s (timeout 1 s)\n", elapsed);
    CHECK(elapsed >= 0.95 && elapsed < 2.5);

    /* One deadline for the whole exchange: a byte every 300 ms must not keep it alive. */
    CHECK_STATUS(against(TRICKLE, 1000, &response, &elapsed), TOTPD_CLIENT_TIMEOUT);
    printf("trickling server: gave up after %.3f s (timeout 1 s)\n", elapsed);
    CHECK(elapsed >= 0.95 && elapsed < 2.5);
}

static void test_bad_servers(void) {
    totpd_response response;
    double elapsed;
    CHECK_STATUS(against(OVERSIZE_LENGTH, 3000, &response, &elapsed), TOTPD_CLIENT_TOO_LARGE);
    CHECK(elapsed < 1.0);
    CHECK_STATUS(against(WRONG_VERSION, 3000, &response, &elapsed), TOTPD_CLIENT_MALFORMED);
    CHECK(elapsed < 1.0);
    CHECK(zeroed(&response));
    CHECK_STATUS(against(TRUNCATED_BODY, 3000, &response, &elapsed), TOTPD_CLIENT_CLOSED);
    totpd_status status = against(CLOSE_AT_ONCE, 3000, &response, &elapsed);
    CHECK(status == TOTPD_CLIENT_CLOSED);
    CHECK(elapsed < 1.0);
}

static void test_socket_file_checks(void) {
    totpd_response response;
    int error_number;
    char path[160];

    /* Nothing there. */
    snprintf(path, sizeof path, "%s/absent", directory);
    CHECK_STATUS(exchange(path, 1000, &response, &error_number, NULL), TOTPD_CLIENT_NO_SOCKET);
    CHECK(error_number == ENOENT);

    /* A regular file. */
    snprintf(path, sizeof path, "%s/file", directory);
    FILE *file = fopen(path, "w");
    CHECK(file != NULL);
    if (file != NULL)
        fclose(file);
    CHECK_STATUS(exchange(path, 1000, &response, &error_number, NULL), TOTPD_CLIENT_NOT_SOCKET);
    unlink(path);

    /* A symlink to a good, listening socket is still refused. */
    int listener = listening_socket(socket_path, 8);
    snprintf(path, sizeof path, "%s/link", directory);
    CHECK(symlink(socket_path, path) == 0);
    CHECK_STATUS(exchange(path, 1000, &response, &error_number, NULL), TOTPD_CLIENT_NOT_SOCKET);
    unlink(path);

    /* A socket file not owned by root. */
    CHECK(chown(socket_path, 65534, 65534) == 0);
    CHECK_STATUS(exchange(socket_path, 1000, &response, &error_number, NULL),
                 TOTPD_CLIENT_NOT_ROOT_OWNED);
    close(listener);
    unlink(socket_path);

    /* A stale socket file nobody listens on. */
    close(bound_socket(socket_path));
    CHECK_STATUS(exchange(socket_path, 1000, &response, &error_number, NULL),
                 TOTPD_CLIENT_CONNECT_FAILED);
    CHECK(error_number == ECONNREFUSED);
    unlink(socket_path);

    /* Paths the client refuses before touching the file system. */
    char too_long[TOTPD_MAX_REQUEST_FRAME];
    memset(too_long, 'a', 200);
    too_long[0] = '/';
    too_long[200] = '\0';
    CHECK_STATUS(exchange(too_long, 1000, &response, &error_number, NULL), TOTPD_CLIENT_BAD_PATH);
    CHECK_STATUS(exchange("relative/socket", 1000, &response, &error_number, NULL),
                 TOTPD_CLIENT_BAD_PATH);
    CHECK_STATUS(exchange("", 1000, &response, &error_number, NULL), TOTPD_CLIENT_BAD_PATH);
    CHECK_STATUS(exchange(NULL, 1000, &response, &error_number, NULL), TOTPD_CLIENT_BAD_PATH);

    /* Frames the client refuses to send. */
    CHECK_STATUS(totpd_exchange(socket_path, 1000, EXAMPLE_REQUEST, 3, &response, NULL),
                 TOTPD_CLIENT_NO_SPACE);
    CHECK_STATUS(totpd_exchange(socket_path, 1000, EXAMPLE_REQUEST, TOTPD_MAX_REQUEST_FRAME + 1,
                                &response, NULL),
                 TOTPD_CLIENT_NO_SPACE);
}

/* The socket file is root's, but the process that listens on it is not. */
static void test_peer_must_be_root(void) {
    totpd_response response;
    int error_number;
    int ready[2];
    char byte = 0;

    CHECK(pipe(ready) == 0);
    int socket_fd = bound_socket(socket_path);
    pid_t pid = fork();
    if (pid == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0 || listen(socket_fd, 8) != 0)
            _exit(1);
        (void)!write(ready[1], "r", 1);
        int connection = accept(socket_fd, NULL, NULL);
        if (connection >= 0)
            behave(connection, ANSWER_LOCKED);
        _exit(0);
    }
    CHECK(read(ready[0], &byte, 1) == 1 && byte == 'r');
    CHECK_STATUS(exchange(socket_path, 2000, &response, &error_number, NULL),
                 TOTPD_CLIENT_PEER_NOT_ROOT);
    stop(pid);
    close(socket_fd);
    close(ready[0]);
    close(ready[1]);
    unlink(socket_path);
}

/* Fills the listener's accept queue; returns how many connections it took. */
static int fill_backlog(int *fillers, int max) {
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    strcpy(address.sun_path, socket_path);
    int count = 0;
    while (count < max) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (connect(fd, (struct sockaddr *)&address, sizeof address) != 0) {
            close(fd);
            break;
        }
        fillers[count++] = fd;
    }
    return count;
}

static void test_full_backlog(void) {
    totpd_response response;
    int error_number;
    int fillers[64];
    double elapsed;

    /* Nobody accepts: connect keeps failing with EAGAIN until the deadline. */
    int listener = listening_socket(socket_path, 0);
    int count = fill_backlog(fillers, 64);
    CHECK(count > 0 && count < 64);
    CHECK_STATUS(exchange(socket_path, 1000, &response, &error_number, &elapsed),
                 TOTPD_CLIENT_TIMEOUT);
    printf("full backlog: gave up after %.3f s (timeout 1 s)\n", elapsed);
    CHECK(elapsed >= 0.95 && elapsed < 2.5);

    /* The server catches up after 300 ms: the retried connect gets through and is answered. */
    pid_t pid = fork();
    if (pid == 0) {
        sleep_ms(300);
        for (int i = 0; i < count; i++)
            close(accept(listener, NULL, NULL));
        int connection = accept(listener, NULL, NULL);
        if (connection >= 0)
            behave(connection, ANSWER_LOCKED);
        _exit(0);
    }
    CHECK_STATUS(exchange(socket_path, 3000, &response, &error_number, &elapsed), TOTPD_CLIENT_OK);
    CHECK(response.result == TOTPD_RESULT_LOCKED && response.retry_after == 42);
    CHECK(elapsed >= 0.25 && elapsed < 2.0);
    stop(pid);
    for (int i = 0; i < count; i++)
        close(fillers[i]);
    close(listener);
    unlink(socket_path);
}

int main(void) {
    test_enrollment_responses();
    if (geteuid() != 0) {
        fprintf(stderr, "test_client must run as root (root-owned socket and peer checks)\n");
        return 2;
    }
    test_example_frame();
    test_frame_limits();
    test_good_responses();
    test_malformed_responses();
    test_field_checks();

    make_directory();
    test_normal_exchange();
    test_silent_server_times_out();
    test_bad_servers();
    test_socket_file_checks();
    test_peer_must_be_root();
    test_full_backlog();
    rmdir(directory);

    return report();
}
