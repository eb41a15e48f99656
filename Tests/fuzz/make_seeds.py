"""Writes the committed seed corpora of the fuzzers (Tests/fuzz/corpus/). The module's: answers of
every kind the daemon sends, every module argument, dialogue texts. The daemon's: requests of every
operation (as frame bodies, and as connection streams), configuration files using every key. Run
again after a wire or configuration change."""
from pathlib import Path

HERE = Path(__file__).parent / "corpus"
TAGS = {"USER": 1, "CODE": 2, "SERVICE": 3, "RHOST": 4, "TTY": 5, "NEXT_CODE": 17, "SINCE": 20, "AFTER_ID": 21,
        "AFTER_USER": 30, "MESSAGE": 6, "SECRET": 7, "URI": 8, "EXPIRES_AT": 9, "STATE": 10, "RETRY_AFTER": 11, "FAILURES": 12,
        "ACTIVATED_AT": 13, "LAST_SUCCESS_AT": 14, "RECORD": 15, "RECOVERY_CODE": 16, "LOCKED_UNTIL": 18,
        "RECOVERY_CODES_LEFT": 19, "QR": 28, "COUNT": 29}


def field(tag, value):
    value = value if isinstance(value, bytes) else value.to_bytes(8, "big") if isinstance(value, int) else value.encode()
    return bytes([TAGS[tag] if isinstance(tag, str) else tag]) + len(value).to_bytes(2, "big") + value


def request(operation, *fields):
    return bytes([1, operation]) + b"".join(fields)


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
CONTEXT = (field("SERVICE", "sshd"), field("RHOST", "192.0.2.7"), field("TTY", "ssh"))
requests = {
    "verify": request(1, field("USER", "alice"), field("CODE", "123456"), *CONTEXT),
    "verify-recovery": request(1, field("USER", "alice"), field("CODE", "abcde-12345"), *CONTEXT),
    "enroll-begin": request(2, field("USER", "alice")),
    "enroll-begin-replacing": request(2, field("USER", "alice"), field("CODE", "123456")),
    "enroll-confirm": request(3, field("USER", "alice"), field("CODE", "123456"), *CONTEXT),
    "status": request(4, field("USER", "alice")),
    "list": request(5),
    "list-page": request(5, field("AFTER_USER", "alice")),
    "revoke": request(6, field("USER", "alice")),
    "unlock": request(7, field("USER", "alice")),
    "audit-log": request(8, field("USER", "alice"), field("SINCE", 1700000000), field("AFTER_ID", 42)),
    "regenerate": request(9, field("USER", "alice"), field("CODE", "123456")),
    "resync": request(10, field("USER", "alice"), field("CODE", "123456"), field("NEXT_CODE", "654321")),
    "precheck": request(11, field("USER", "alice"), *CONTEXT),
    "login-enroll": request(12, field("USER", "alice"), *CONTEXT),
    "reset": request(13, field("USER", "alice")),
    "unknown-operation": request(99, field("USER", "alice")),
    "wrong-version": bytes([2, 1]) + field("USER", "alice"),
    "repeated-field": request(1, field("USER", "alice"), field("USER", "bob"), field("CODE", "123456")),
    "wrong-type": request(8, field("SINCE", "yesterday")),
    "truncated-field": request(1, field("USER", "alice"))[:-2],
    "rotate-key": request(14),
    "metrics": request(15),
}
# A stream's first byte picks the size of the pieces the fuzzer delivers it in.
streams = {name: bytes([index % 16]) + len(body).to_bytes(4, "big") + body
           for index, (name, body) in enumerate(requests.items())}
streams["two-frames"] = bytes([3]) + streams["precheck"][1:] + streams["verify"][1:]
streams["oversize-length"] = bytes([0]) + (4097).to_bytes(4, "big") + b"x" * 16
streams["empty-body"] = bytes([1]) + bytes(4)
streams["cut-off"] = bytes([15]) + streams["verify"][1:-3]

SHIPPED = (Path(__file__).parents[2] / "config" / "totpd.conf").read_text()
configurations = {
    "shipped": SHIPPED,
    "empty": "",
    "everything": """socket: /run/totpd/socket
state_directory: /var/lib/totpd
key_file: /etc/totpd/key
issuer: Example Corp
admin_group: root
enrollment: {algorithm: SHA256, digits: 8, period: 60, expiry: 900}
enroll_at_login: [sshd, login]
verification: {window: 2}
rate_limit: {attempts: 5, interval: 60}
lockout: {failures: 4, initial_delay: 60, max_delay: 7200, hard_limit: 30}
second_factor: {required: ["*", "%root"], exempt: [backup]}
grace_period: {sudo: 300, sshd: 0}
connections: {max: 1024, per_uid: 8, request_timeout: 10}
audit: {max_age: 30, max_rows: 5000}
""",
    "unknown-key": "rate_limit:\n  attempts: 3\n  burst: 9\n",
    "wrong-type": "verification:\n  window: [1]\n",
    "out-of-range": "connections:\n  max: 8\n",
    "relative-path": "socket: run/totpd/socket\n",
    "anchors": "base: &b {attempts: 3}\nrate_limit: *b\n",
    "not-yaml": "rate_limit: [unclosed\n",
}

for name, corpus in (("reply", replies), ("args", {k: "\0".join(v).encode() for k, v in arguments.items()}),
                     ("message", {k: v.encode() for k, v in texts.items()}), ("request", requests),
                     ("frames", streams), ("configuration", {k: v.encode() for k, v in configurations.items()})):
    directory = HERE / name
    directory.mkdir(parents=True, exist_ok=True)
    for label, data in corpus.items():
        (directory / label).write_bytes(data)
