"""Writes the committed seed corpora of the C fuzzers (Tests/fuzz/corpus/): answers of every
kind the daemon sends, every module argument, and dialogue texts. Run again after a wire change."""
from pathlib import Path

HERE = Path(__file__).parent / "corpus"
TAGS = {"MESSAGE": 6, "SECRET": 7, "URI": 8, "EXPIRES_AT": 9, "STATE": 10, "RETRY_AFTER": 11, "FAILURES": 12,
        "ACTIVATED_AT": 13, "LAST_SUCCESS_AT": 14, "RECORD": 15, "RECOVERY_CODE": 16, "LOCKED_UNTIL": 18,
        "RECOVERY_CODES_LEFT": 19, "QR": 28, "COUNT": 29}


def field(tag, value):
    value = value if isinstance(value, bytes) else value.to_bytes(8, "big") if isinstance(value, int) else value.encode()
    return bytes([TAGS[tag] if isinstance(tag, str) else tag]) + len(value).to_bytes(2, "big") + value


def frame(result, *fields):
    body = bytes([1, result]) + b"".join(fields)
    return len(body).to_bytes(4, "big") + body


QR = "\n".join("█▀▄ " * 8 for _ in range(12))
replies = {
    "ok": frame(0),
    "precheck-active": frame(0, field("STATE", "active")),
    "precheck-pending": frame(0, field("STATE", "pending")),
    "rejected": frame(1, field("MESSAGE", "wrong code")),
    "not-enrolled": frame(2, field("MESSAGE", "no enrollment")),
    "locked": frame(3, field("RETRY_AFTER", 300), field("MESSAGE", "locked")),
    "denied": frame(4, field("MESSAGE", "not allowed")),
    "bad-request": frame(5, field("MESSAGE", "bad request")),
    "unsupported-version": frame(6, field("MESSAGE", "version")),
    "unknown-user": frame(7),
    "internal": frame(8, field("MESSAGE", "store unavailable")),
    "exempt": frame(9),
    "grace": frame(10),
    "login-enroll": frame(0, field("SECRET", "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"),
                          field("URI", "otpauth://totp/host:user?secret=JBSWY3DPEHPK3PXP&issuer=host"),
                          field("EXPIRES_AT", 1800000000), field("QR", QR)),
    "enroll-confirm": frame(0, *(field("RECOVERY_CODE", f"abcde-{i:05d}") for i in range(10))),
    "status": frame(0, field("STATE", "active"), field("FAILURES", 2), field("ACTIVATED_AT", 1700000000),
                    field("LAST_SUCCESS_AT", 1700000300), field("LOCKED_UNTIL", 1700000600),
                    field("RECOVERY_CODES_LEFT", 9)),
    "unknown-tag": frame(0, field(200, "future"), field("STATE", "active")),
    "repeated-field": frame(1, field("MESSAGE", "first"), field("MESSAGE", "second")),
    "control-bytes": frame(1, field("MESSAGE", "line\x1b[2Jnext\x00end")),
}
arguments = {
    "defaults": [],
    "socket": ["socket=/run/totpd/socket"],
    "timeout": ["timeout=5"],
    "prompt": ["prompt=Verification code: "],
    "unenrolled-enroll": ["unenrolled=enroll"],
    "unenrolled-allow": ["unenrolled=allow", "debug"],
    "first-pass": ["try_first_pass", "timeout=60"],
    "use-first-pass": ["use_first_pass", "socket=/tmp/t/socket", "unenrolled=deny"],
    "repeated": ["debug", "debug"],
    "unknown": ["nullok"],
}
texts = {
    "qr": "\x40" + QR + "\nScan the code, then type the first code it shows.",
    "long-line": "\x10" + "x" * 900,
    "utf8-cut": "\x05" + "é" * 40,
    "secret": "\x00JBSWY3DPEHPK3PXP",
    "newlines": "\x20\n\n\nline\n",
}
for name, corpus in (("reply", replies), ("args", {k: "\0".join(v).encode() for k, v in arguments.items()}),
                     ("message", {k: v.encode() for k, v in texts.items()})):
    directory = HERE / name
    directory.mkdir(parents=True, exist_ok=True)
    for label, data in corpus.items():
        (directory / label).write_bytes(data)
