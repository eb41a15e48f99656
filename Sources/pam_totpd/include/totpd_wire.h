/* Wire constants of totpd protocol version 1 (docs/PROTOCOL.md is authoritative).
   The Swift side has the same numbers in WireConstants.swift; a test imports this header and
   compares every value, so keep it plain C that Swift can import. */
#ifndef TOTPD_WIRE_H
#define TOTPD_WIRE_H

#include <stddef.h>
#include <stdint.h>

enum {
    TOTPD_PROTOCOL_VERSION = 1,
    /* Largest body (the bytes after the 4-byte length) in each direction. */
    TOTPD_MAX_REQUEST_BODY = 4096,
    TOTPD_MAX_RESPONSE_BODY = 16384,
};

/* Sizes of the fixed parts of a frame. */
enum {
    TOTPD_FRAME_LENGTH_SIZE = 4, /* big-endian body length */
    TOTPD_BODY_HEADER_SIZE = 2,  /* version, then operation or result code */
    TOTPD_FIELD_HEADER_SIZE = 3, /* tag, then big-endian value length */
    TOTPD_U64_SIZE = 8,          /* every u64 value is exactly this long */
};

/* Operation codes (second body byte of a request). */
enum {
    TOTPD_OP_VERIFY = 1,
    TOTPD_OP_ENROLL_BEGIN = 2,
    TOTPD_OP_ENROLL_CONFIRM = 3,
    TOTPD_OP_STATUS = 4,
    TOTPD_OP_LIST = 5,
    TOTPD_OP_REVOKE = 6,
    TOTPD_OP_UNLOCK = 7,
    TOTPD_OP_AUDIT_LOG = 8,
    TOTPD_OP_RECOVERY_REGENERATE = 9,
    TOTPD_OP_RESYNC = 10,
    TOTPD_OP_PRECHECK = 11,
    TOTPD_OP_LOGIN_ENROLL = 12,
    TOTPD_OP_RESET = 13,
    TOTPD_OP_ROTATE_KEY = 14,
    TOTPD_OP_METRICS = 15,
};

/* Result codes (second body byte of a response). */
enum {
    TOTPD_RESULT_OK = 0,
    TOTPD_RESULT_REJECTED = 1,
    TOTPD_RESULT_NOT_ENROLLED = 2,
    TOTPD_RESULT_LOCKED = 3,
    TOTPD_RESULT_DENIED = 4,
    TOTPD_RESULT_BAD_REQUEST = 5,
    TOTPD_RESULT_UNSUPPORTED_VERSION = 6,
    TOTPD_RESULT_UNKNOWN_USER = 7,
    TOTPD_RESULT_INTERNAL_ERROR = 8,
    TOTPD_RESULT_EXEMPT = 9, /* PRECHECK: no second factor for this user */
    TOTPD_RESULT_GRACE = 10, /* PRECHECK: a recent success stands */
};

/* Field tags. */
enum {
    TOTPD_TAG_USER = 1,
    TOTPD_TAG_CODE = 2,
    TOTPD_TAG_SERVICE = 3,
    TOTPD_TAG_RHOST = 4,
    TOTPD_TAG_TTY = 5,
    TOTPD_TAG_MESSAGE = 6,
    TOTPD_TAG_SECRET = 7,
    TOTPD_TAG_URI = 8,
    TOTPD_TAG_EXPIRES_AT = 9,
    TOTPD_TAG_STATE = 10,
    TOTPD_TAG_RETRY_AFTER = 11,
    TOTPD_TAG_FAILURES = 12,
    TOTPD_TAG_ACTIVATED_AT = 13,
    TOTPD_TAG_LAST_SUCCESS_AT = 14,
    TOTPD_TAG_RECORD = 15,
    TOTPD_TAG_RECOVERY_CODE = 16,
    TOTPD_TAG_NEXT_CODE = 17,
    TOTPD_TAG_LOCKED_UNTIL = 18,
    TOTPD_TAG_RECOVERY_CODES_LEFT = 19,
    TOTPD_TAG_SINCE = 20,
    TOTPD_TAG_AFTER_ID = 21,
    TOTPD_TAG_ID = 22,
    TOTPD_TAG_TIME = 23,
    TOTPD_TAG_EVENT = 24,
    TOTPD_TAG_RESULT = 25,
    TOTPD_TAG_CALLER_UID = 26,
    TOTPD_TAG_CALLER_PID = 27,
    TOTPD_TAG_QR = 28,
    TOTPD_TAG_COUNT = 29,
    TOTPD_TAG_AFTER_USER = 30,
    TOTPD_TAG_KEY_ID = 31,
    TOTPD_TAG_METRICS = 32,
};

/* Largest value in bytes, per tag (u64 tags are exactly TOTPD_U64_SIZE). */
enum {
    TOTPD_MAXLEN_USER = 256,
    TOTPD_MAXLEN_CODE = 64,
    TOTPD_MAXLEN_SERVICE = 256,
    TOTPD_MAXLEN_RHOST = 256,
    TOTPD_MAXLEN_TTY = 256,
    TOTPD_MAXLEN_MESSAGE = 1024,
    TOTPD_MAXLEN_SECRET = 128,
    TOTPD_MAXLEN_URI = 1024,
    TOTPD_MAXLEN_EXPIRES_AT = 8,
    TOTPD_MAXLEN_STATE = 16,
    TOTPD_MAXLEN_RETRY_AFTER = 8,
    TOTPD_MAXLEN_FAILURES = 8,
    TOTPD_MAXLEN_ACTIVATED_AT = 8,
    TOTPD_MAXLEN_LAST_SUCCESS_AT = 8,
    TOTPD_MAXLEN_RECORD = 4096,
    TOTPD_MAXLEN_RECOVERY_CODE = 64,
    TOTPD_MAXLEN_NEXT_CODE = 64,
    TOTPD_MAXLEN_LOCKED_UNTIL = 8,
    TOTPD_MAXLEN_RECOVERY_CODES_LEFT = 8,
    TOTPD_MAXLEN_SINCE = 8,
    TOTPD_MAXLEN_AFTER_ID = 8,
    TOTPD_MAXLEN_ID = 8,
    TOTPD_MAXLEN_TIME = 8,
    TOTPD_MAXLEN_EVENT = 64,
    TOTPD_MAXLEN_RESULT = 64,
    TOTPD_MAXLEN_CALLER_UID = 8,
    TOTPD_MAXLEN_CALLER_PID = 8,
    TOTPD_MAXLEN_QR = 12288,
    TOTPD_MAXLEN_COUNT = 8,
    TOTPD_MAXLEN_AFTER_USER = 256,
    TOTPD_MAXLEN_KEY_ID = 64,
    TOTPD_MAXLEN_METRICS = 12288,
};

/* A verification code on the wire: 6 to 8 ASCII digits, or a recovery code of 10 base32
   characters (optionally hyphenated after the fifth). */
enum {
    TOTPD_CODE_MIN_DIGITS = 6,
    TOTPD_CODE_MAX_DIGITS = 8,
    TOTPD_RECOVERY_CODE_LENGTH = 10,
    TOTPD_RECOVERY_CODE_COUNT = 10, /* an ENROLL_CONFIRM answer holds this many */
};

#endif
