/* Unit tests of the module argument parser (Sources/pam_totpd/args.c). */
#include "totpd_args.h"
#include "check.h"

#include <stdio.h>
#include <string.h>

#define COUNT(array) ((int)(sizeof(array) / sizeof((array)[0])))

static int parse(int argc, const char *const *argv, totpd_args *args, char *error,
                 size_t error_size) {
    memset(error, 'x', error_size); /* so a missing message shows */
    return totpd_args_parse(argc, argv, args, error, error_size);
}

static void expect_rejected(const char *argument, const char *named) {
    totpd_args args;
    char error[256];
    const char *argv[] = {"debug", argument};
    int rc = parse(COUNT(argv), argv, &args, error, sizeof error);
    CHECK(rc == -1);
    CHECK(memchr(error, '\0', sizeof error) != NULL);
    if (strstr(error, named) == NULL) {
        failed++;
        fprintf(stderr, "error for \"%.40s\" does not name \"%s\": %s\n", argument, named, error);
    } else {
        passed++;
    }
}

static void test_defaults(void) {
    totpd_args args;
    char error[256];
    CHECK(parse(0, NULL, &args, error, sizeof error) == 0);
    CHECK(strcmp(args.socket_path, "/run/totpd/socket") == 0);
    CHECK(strcmp(args.root_socket_path, "/run/totpd/socket.root") == 0);
    CHECK(args.timeout_seconds == 3);
    CHECK(strcmp(args.prompt, "Verification code: ") == 0);
    CHECK(args.unenrolled == TOTPD_UNENROLLED_DENY);
    CHECK(args.first_pass == TOTPD_FIRST_PASS_NONE);
    CHECK(!args.debug);
    CHECK(error[0] == '\0');
}

static void test_prompt_policy_and_first_pass(void) {
    totpd_args args;
    char error[256];

    const char *prompt[] = {"prompt=Your TOTP code: "};
    CHECK(parse(COUNT(prompt), prompt, &args, error, sizeof error) == 0);
    CHECK(strcmp(args.prompt, "Your TOTP code: ") == 0);

    const char *utf8[] = {"prompt=Code à usage unique : "};
    CHECK(parse(COUNT(utf8), utf8, &args, error, sizeof error) == 0);

    const char *allow[] = {"unenrolled=allow"};
    CHECK(parse(COUNT(allow), allow, &args, error, sizeof error) == 0);
    CHECK(args.unenrolled == TOTPD_UNENROLLED_ALLOW);

    const char *deny[] = {"unenrolled=deny"};
    CHECK(parse(COUNT(deny), deny, &args, error, sizeof error) == 0);
    CHECK(args.unenrolled == TOTPD_UNENROLLED_DENY);

    const char *use[] = {"use_first_pass"};
    CHECK(parse(COUNT(use), use, &args, error, sizeof error) == 0);
    CHECK(args.first_pass == TOTPD_FIRST_PASS_USE);

    const char *try[] = {"try_first_pass", "unenrolled=allow", "prompt=Code: "};
    CHECK(parse(COUNT(try), try, &args, error, sizeof error) == 0);
    CHECK(args.first_pass == TOTPD_FIRST_PASS_TRY && args.unenrolled == TOTPD_UNENROLLED_ALLOW);

    const char *enroll[] = {"unenrolled=enroll"};
    CHECK(parse(COUNT(enroll), enroll, &args, error, sizeof error) == 0);
    CHECK(args.unenrolled == TOTPD_UNENROLLED_ENROLL);

    expect_rejected("unenrolled=register", "unenrolled must be deny, allow or enroll");
    expect_rejected("unenrolled=", "unenrolled=");
    expect_rejected("unenrolled=Allow", "unenrolled=Allow");
    expect_rejected("prompt=", "prompt=");
    expect_rejected("prompt=a\033[2Jb", "prompt=");
    expect_rejected("prompt=line\nbreak", "prompt=");
    char long_prompt[8 + TOTPD_PROMPT_SIZE];
    memcpy(long_prompt, "prompt=", 7);
    memset(long_prompt + 7, 'p', TOTPD_PROMPT_SIZE);
    long_prompt[7 + TOTPD_PROMPT_SIZE] = '\0';
    expect_rejected(long_prompt, "prompt=ppp");

    const char *both[] = {"use_first_pass", "try_first_pass"};
    CHECK(parse(COUNT(both), both, &args, error, sizeof error) == -1);
    CHECK(strstr(error, "exclude each other") != NULL);
    const char *twice[] = {"unenrolled=allow", "unenrolled=deny"};
    CHECK(parse(COUNT(twice), twice, &args, error, sizeof error) == -1);
}

static void test_valid_arguments(void) {
    totpd_args args;
    char error[256];

    const char *socket[] = {"socket=/tmp/t/sock"};
    CHECK(parse(COUNT(socket), socket, &args, error, sizeof error) == 0);
    CHECK(strcmp(args.socket_path, "/tmp/t/sock") == 0);
    CHECK(strcmp(args.root_socket_path, "/tmp/t/sock.root") == 0);
    CHECK(args.timeout_seconds == 3 && !args.debug);

    /* The longest socket path: the one that still fits sun_path, with its NUL, once ".root" is
       appended for root's socket. One byte more is refused. */
    char near_limit[TOTPD_SOCKET_PATH_SIZE + 8] = "socket=/";
    memset(near_limit + 8, 'a', TOTPD_SOCKET_PATH_SIZE - 7);
    near_limit[8 + TOTPD_SOCKET_PATH_SIZE - 7] = '\0';
    const char *long_name[] = {near_limit};
    CHECK(parse(COUNT(long_name), long_name, &args, error, sizeof error) == 0);
    CHECK(strlen(args.root_socket_path) == TOTPD_SOCKET_PATH_SIZE - 1);
    near_limit[8 + TOTPD_SOCKET_PATH_SIZE - 7] = 'a';
    near_limit[8 + TOTPD_SOCKET_PATH_SIZE - 6] = '\0';
    CHECK(parse(COUNT(long_name), long_name, &args, error, sizeof error) == -1);
    CHECK(strstr(error, "it would not fit") != NULL);

    const char *timeout[] = {"timeout=1"};
    CHECK(parse(COUNT(timeout), timeout, &args, error, sizeof error) == 0);
    CHECK(args.timeout_seconds == 1);

    const char *max[] = {"timeout=60"};
    CHECK(parse(COUNT(max), max, &args, error, sizeof error) == 0);
    CHECK(args.timeout_seconds == 60);

    const char *debug[] = {"debug"};
    CHECK(parse(COUNT(debug), debug, &args, error, sizeof error) == 0);
    CHECK(args.debug);
    CHECK(strcmp(args.socket_path, "/run/totpd/socket") == 0);

    const char *all[] = {"debug", "timeout=10", "socket=/run/other/socket"};
    CHECK(parse(COUNT(all), all, &args, error, sizeof error) == 0);
    CHECK(args.debug && args.timeout_seconds == 10);
    CHECK(strcmp(args.socket_path, "/run/other/socket") == 0);

}

/* Each argument alone must be refused with a message that names it. */

static void test_invalid_arguments(void) {
    expect_rejected("timeout=", "timeout=");
    expect_rejected("timeout=0", "timeout=0");
    expect_rejected("timeout=61", "timeout=61");
    expect_rejected("timeout=-1", "timeout=-1");
    expect_rejected("timeout=+3", "timeout=+3");
    expect_rejected("timeout= 3", "timeout= 3");
    expect_rejected("timeout=3x", "timeout=3x");
    expect_rejected("timeout=3 ", "timeout=3");
    expect_rejected("timeout=0x10", "timeout=0x10");
    expect_rejected("timeout=99999999999999999999", "timeout=9999");
    expect_rejected("timeout=4294967299", "timeout=4294967299"); /* 3 after a 32-bit wrap */
    expect_rejected("timeout", "timeout");
    expect_rejected("socket=relative/path", "socket=relative/path");
    expect_rejected("socket=", "socket=");
    expect_rejected("socket", "socket");
    expect_rejected("bogus=1", "bogus=1");
    expect_rejected("Debug", "Debug");
    expect_rejected("debug=1", "debug=1");
    expect_rejected("", "unknown argument");

    char too_long[8 + TOTPD_SOCKET_PATH_SIZE];
    memcpy(too_long, "socket=/", 8);
    memset(too_long + 8, 'a', TOTPD_SOCKET_PATH_SIZE - 1);
    too_long[7 + TOTPD_SOCKET_PATH_SIZE] = '\0';
    CHECK(strlen(too_long + 7) == TOTPD_SOCKET_PATH_SIZE);
    expect_rejected(too_long, "socket=/aaa");
}

static void test_repeated_and_odd_lists(void) {
    totpd_args args;
    char error[256];

    const char *twice[] = {"timeout=3", "timeout=4"};
    CHECK(parse(COUNT(twice), twice, &args, error, sizeof error) == -1);
    CHECK(strstr(error, "timeout=4") != NULL);

    const char *sockets[] = {"socket=/a", "socket=/b"};
    CHECK(parse(COUNT(sockets), sockets, &args, error, sizeof error) == -1);
    CHECK(strstr(error, "socket=/b") != NULL);

    /* A bad value is reported as such, even after a good one. */
    const char *second_bad[] = {"socket=/a", "socket=relative"};
    CHECK(parse(COUNT(second_bad), second_bad, &args, error, sizeof error) == -1);
    CHECK(strstr(error, "absolute") != NULL);

    const char *debugs[] = {"debug", "debug"};
    CHECK(parse(COUNT(debugs), debugs, &args, error, sizeof error) == -1);

    const char *null_entry[] = {"debug", NULL};
    CHECK(parse(COUNT(null_entry), null_entry, &args, error, sizeof error) == -1);
    CHECK(parse(1, NULL, &args, error, sizeof error) == -1);
    CHECK(parse(-1, NULL, &args, error, sizeof error) == -1);

    /* A tiny or absent error buffer is never overrun. */
    const char *bad[] = {"bogus"};
    char small[4];
    CHECK(parse(COUNT(bad), bad, &args, small, sizeof small) == -1);
    CHECK(small[3] == '\0');
    CHECK(totpd_args_parse(COUNT(bad), bad, &args, NULL, 0) == -1);
}

int main(void) {
    test_prompt_policy_and_first_pass();
    test_defaults();
    test_valid_arguments();
    test_invalid_arguments();
    test_repeated_and_odd_lists();
    return report();
}
