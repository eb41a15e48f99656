"""Every row of the design guide's return-code table, asserted exactly: the built module's
pam_sm_authenticate is called on a real libpam handle (pam_start_confdir, a private service
directory), with a real conversation, against a real daemon or a deliberately broken one."""

import ctypes
import os
import socket
import threading

import pytest

from conftest import totp, wrong_code
from test_pam_login import enroll

PAM_SUCCESS, PAM_SERVICE_ERR, PAM_AUTH_ERR, PAM_AUTHINFO_UNAVAIL = 0, 3, 7, 9
PAM_MAXTRIES, PAM_CONV_ERR, PAM_IGNORE = 11, 19, 25
PAM_PROMPT_ECHO_OFF, PAM_PROMPT_ECHO_ON = 1, 2


class Message(ctypes.Structure):
    _fields_ = [("msg_style", ctypes.c_int), ("msg", ctypes.c_char_p)]


class Reply(ctypes.Structure):
    _fields_ = [("resp", ctypes.c_void_p), ("resp_retcode", ctypes.c_int)]


CONVERSE = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.POINTER(Message)),
                            ctypes.POINTER(ctypes.POINTER(Reply)), ctypes.c_void_p)


class Conversation(ctypes.Structure):
    _fields_ = [("conv", CONVERSE), ("appdata_ptr", ctypes.c_void_p)]


libc = ctypes.CDLL("libc.so.6")
libc.calloc.restype = ctypes.c_void_p
libc.strdup.restype = ctypes.c_void_p
libpam = ctypes.CDLL("libpam.so.0")


def authenticate(workdir, user, arguments, typed, conversation_fails=False):
    """Returns (PAM code from the module, messages shown). `typed` answers every prompt, or is a
    function from the messages shown so far to the answer."""
    shown = []

    def converse(count, messages, replies, _):
        if conversation_fails:
            return PAM_CONV_ERR
        array = ctypes.cast(libc.calloc(count, ctypes.sizeof(Reply)), ctypes.POINTER(Reply))
        for index in range(count):
            message = messages[index].contents
            shown.append(message.msg.decode())
            if message.msg_style in (PAM_PROMPT_ECHO_OFF, PAM_PROMPT_ECHO_ON):
                answer = typed(shown) if callable(typed) else typed
                array[index].resp = libc.strdup(answer.encode())  # the module frees it
        replies[0] = array
        return PAM_SUCCESS

    callback = CONVERSE(converse)
    confdir = workdir / "pam.d"
    confdir.mkdir(exist_ok=True)
    (confdir / "matrix").write_text("auth required pam_permit.so\n")
    handle = ctypes.c_void_p()
    conversation = Conversation(callback, None)
    assert libpam.pam_start_confdir(b"matrix", user.encode(), ctypes.byref(conversation), str(confdir).encode(),
                                    ctypes.byref(handle)) == PAM_SUCCESS
    module = ctypes.CDLL(str(workdir / "pam_totpd.so"))
    argv = (ctypes.c_char_p * len(arguments))(*[a.encode() for a in arguments])
    result = module.pam_sm_authenticate(handle, 0, len(arguments), argv)
    libpam.pam_end(handle, result)
    return result, shown


@pytest.fixture
def daemon_config():
    return "rate_limit:\n  attempts: 20\nenroll_at_login: [matrix]\n"


def fake_daemon(path, answer):
    """A root-owned listener that reads a request and sends `answer` (None: never answers)."""
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))
    listener.listen(8)

    def serve():
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            connection.recv(4096)
            if answer is not None:
                connection.sendall(answer)
                connection.close()

    threading.Thread(target=serve, daemon=True).start()
    return listener


def the_shown_key_s_code(shown):
    key = next(text for text in shown if "type this key into the app: " in text)
    return totp(key.split("type this key into the app: ", 1)[1].split("\n", 1)[0].replace(" ", ""))


def test_every_row_of_the_return_code_table(tools, workdir, make_user):
    enrolled, newcomer, revoked = make_user(), make_user(), make_user()
    secret = enroll(tools, enrolled)
    revoked_secret = enroll(tools, revoked)
    assert tools.totpctl("revoke", revoked).returncode == 0
    socket_argument = f"socket={tools.daemon.socket}"

    def code_of(user, arguments, typed, **options):
        return authenticate(workdir, user, [socket_argument] + arguments, typed, **options)[0]

    assert code_of(enrolled, [], totp(secret, 1)) == PAM_SUCCESS                 # code accepted
    assert code_of(enrolled, [], totp(secret, 1)) == PAM_AUTH_ERR                # replayed
    assert code_of(enrolled, [], wrong_code(secret)) == PAM_AUTH_ERR             # wrong
    assert code_of(newcomer, [], "123456") == PAM_AUTH_ERR                       # not enrolled, deny
    assert code_of(newcomer, ["unenrolled=allow"], "") == PAM_IGNORE             # not enrolled, allow
    result, shown = authenticate(workdir, revoked, [socket_argument, "unenrolled=allow"], totp(revoked_secret, 1))
    assert result == PAM_AUTH_ERR and "Verification code: " in shown             # revoked, allow: asked, refused
    result, shown = authenticate(workdir, revoked, [socket_argument, "unenrolled=enroll"], totp(revoked_secret, 1))
    assert result == PAM_AUTH_ERR and "Verification code: " in shown, shown      # revoked, enroll: no new one
    assert not any("QR" in text for text in shown), shown
    result, shown = authenticate(workdir, newcomer, [socket_argument, "unenrolled=enroll"], "no-code")
    assert result == PAM_AUTH_ERR and shown.count("That is not a code from the app.") == 3  # enroll, no code
    assert code_of(newcomer, ["unenrolled=enroll"], the_shown_key_s_code) == PAM_SUCCESS  # enroll, right code
    assert code_of(newcomer, ["unenrolled=enroll"], "") == PAM_AUTH_ERR          # enrolled now: a code is due
    assert code_of(enrolled, ["bogus"], totp(secret, 2)) == PAM_SERVICE_ERR      # bad argument
    assert code_of(enrolled, [], "", conversation_fails=True) == PAM_CONV_ERR   # conversation failure
    for _ in range(3):
        code_of(enrolled, [], wrong_code(secret))
    result, shown = authenticate(workdir, enrolled, [socket_argument], totp(secret, 2))
    assert result == PAM_MAXTRIES                                                # locked out
    assert any(text.startswith("Too many attempts. Try again in ") for text in shown), shown

    def unavailable(path, prepare=None):
        if prepare:
            prepare()
        result, shown = authenticate(workdir, enrolled, [f"socket={path}", "timeout=1"], "123456")
        assert "The verification service is unavailable." in shown, shown
        return result

    assert unavailable(workdir / "nothing-here") == PAM_AUTHINFO_UNAVAIL       # daemon unreachable
    silent = fake_daemon(workdir / "silent", None)
    assert unavailable(workdir / "silent") == PAM_AUTHINFO_UNAVAIL             # timeout
    garbage = fake_daemon(workdir / "garbage", b"\x00\x00\x00\x03\x07\x07\x07")
    assert unavailable(workdir / "garbage") == PAM_AUTHINFO_UNAVAIL            # malformed reply
    unknown = fake_daemon(workdir / "unknown", b"\x00\x00\x00\x02\x01\x63")
    assert unavailable(workdir / "unknown") == PAM_AUTHINFO_UNAVAIL            # unknown result code
    impostor = fake_daemon(workdir / "impostor", b"\x00\x00\x00\x02\x01\x00")  # would say OK...
    os.chown(workdir / "impostor", 65534, 65534)                                 # ...but is not root's
    assert unavailable(workdir / "impostor") == PAM_AUTHINFO_UNAVAIL           # server not root
    for listener in (silent, garbage, unknown, impostor):
        listener.close()
