"""The totpd protocol from Python, as docs/PROTOCOL.md defines it, for tests that speak to the
daemon directly: frames out, typed answers back."""

import socket
import struct

VERSION = 1
OP = {"VERIFY": 1, "ENROLL_BEGIN": 2, "ENROLL_CONFIRM": 3, "STATUS": 4, "LIST": 5, "REVOKE": 6, "UNLOCK": 7,
      "AUDIT_LOG": 8, "RECOVERY_REGENERATE": 9, "RESYNC": 10, "PRECHECK": 11, "LOGIN_ENROLL": 12, "RESET": 13,
      "ROTATE_KEY": 14, "METRICS": 15}
TAG = {"USER": 1, "CODE": 2, "SERVICE": 3, "RHOST": 4, "MESSAGE": 6, "SECRET": 7, "STATE": 10, "FAILURES": 12,
       "RECOVERY_CODE": 16, "NEXT_CODE": 17, "LOCKED_UNTIL": 18, "COUNT": 29,
       "KEY_ID": 31, "METRICS": 32}
RESULT = {0: "OK", 1: "REJECTED", 2: "NOT_ENROLLED", 3: "LOCKED", 4: "DENIED", 5: "BAD_REQUEST",
          6: "UNSUPPORTED_VERSION", 7: "UNKNOWN_USER", 8: "INTERNAL_ERROR", 9: "EXEMPT", 10: "GRACE"}


def frame(operation, fields=()):
    """A request: length, version, operation, then (tag, length, value) per field; `fields` holds
    (tag, bytes) pairs, tags by number or by name."""
    body = bytes([VERSION, OP.get(operation, operation)]) + b"".join(
        bytes([TAG.get(tag, tag)]) + struct.pack(">H", len(value)) + value for tag, value in fields)
    return struct.pack(">I", len(body)) + body


def parse(body):
    """A response body: (result name, {tag number: [values]})."""
    result = RESULT.get(body[1], str(body[1]))
    fields, offset = {}, 2
    while offset + 3 <= len(body):
        tag, length = body[offset], struct.unpack(">H", body[offset + 1:offset + 3])[0]
        fields.setdefault(tag, []).append(body[offset + 3:offset + 3 + length])
        offset += 3 + length
    return result, fields


def exchange(path, operation, timeout=10, **fields):
    """One request over a new connection; string fields by keyword (user=..., code=...)."""
    request = frame(operation, [(name.upper(), value.encode()) for name, value in fields.items()])
    with socket.socket(socket.AF_UNIX) as connection:
        connection.settimeout(timeout)
        connection.connect(path)
        connection.sendall(request)
        data = b""
        while len(data) < 4 or len(data) < 4 + struct.unpack(">I", data[:4])[0]:
            chunk = connection.recv(65536)
            if not chunk:
                raise ConnectionError("the daemon closed before a complete answer")
            data += chunk
    return parse(data[4:])


def string(fields, tag):
    values = fields.get(TAG[tag])
    return values[0].decode() if values else None


def u64(fields, tag):
    values = fields.get(TAG[tag])
    return struct.unpack(">Q", values[0])[0] if values else None
