/* Unit tests of the enrollment dialogue's text helpers (Sources/pam_totpd/display.c). */
#include "totpd_display.h"
#include "check.h"

#include <stdio.h>
#include <string.h>

/* Cuts text into messages of at most max bytes and joins them again with newlines, as sshd
   and sudo show them; returns the number of messages. */
static int split_and_join(const char *text, size_t max, char *joined, size_t joined_size) {
    size_t pos = 0, out = 0, advance;
    int messages = 0;
    joined[0] = '\0';
    for (;;) {
        size_t length = totpd_next_message(text + pos, max, &advance);
        if (advance == 0)
            break;
        CHECK(length <= max);
        CHECK(memchr(text + pos, '\0', length) == NULL);
        if (messages > 0)
            joined[out++] = '\n';
        if (out + length + 1 >= joined_size)
            return -1;
        memcpy(joined + out, text + pos, length);
        out += length;
        joined[out] = '\0';
        pos += advance;
        messages++;
    }
    return messages;
}

static void test_whole_lines(void) {
    char joined[256];
    size_t advance;

    CHECK(totpd_next_message("ab\ncd\nef", 5, &advance) == 5 && advance == 6);
    CHECK(totpd_next_message("ab\ncd\nef", 4, &advance) == 2 && advance == 3);
    CHECK(totpd_next_message("abc", 10, &advance) == 3 && advance == 3);
    CHECK(totpd_next_message("", 10, &advance) == 0 && advance == 0);
    CHECK(totpd_next_message("abc\n", 10, &advance) == 3 && advance == 4);

    CHECK(split_and_join("ab\ncd\nef", 5, joined, sizeof joined) == 2);
    CHECK(strcmp(joined, "ab\ncd\nef") == 0);
    CHECK(split_and_join("one\n\nthree", 511, joined, sizeof joined) == 1);
    CHECK(strcmp(joined, "one\n\nthree") == 0);
}

static void test_long_lines_are_cut_between_characters(void) {
    /* "█" is three bytes: a cut at 4 would split the second one. */
    const char *blocks = "\xe2\x96\x88\xe2\x96\x88\xe2\x96\x88";
    char joined[256];
    size_t advance;

    CHECK(totpd_next_message(blocks, 4, &advance) == 3 && advance == 3);
    CHECK(split_and_join(blocks, 4, joined, sizeof joined) == 3);
    CHECK(strcmp(joined, "\xe2\x96\x88\n\xe2\x96\x88\n\xe2\x96\x88") == 0);
    /* Bytes that are not UTF-8 are still cut, and the split always advances. */
    CHECK(totpd_next_message("\x80\x80\x80\x80", 2, &advance) == 2 && advance == 2);
}

static void test_a_qr_sized_text(void) {
    /* 25 lines of 49 three-byte characters, the size of a typical enrollment QR. */
    static char text[25 * (49 * 3 + 1)];
    static char joined[sizeof text + 64];
    size_t pos = 0;
    for (int line = 0; line < 25; line++) {
        for (int column = 0; column < 49; column++) {
            memcpy(text + pos, "\xe2\x96\x80", 3);
            pos += 3;
        }
        text[pos++] = line < 24 ? '\n' : '\0';
    }
    int messages = split_and_join(text, TOTPD_MAX_PAM_MESSAGE, joined, sizeof joined);
    CHECK(messages == 9); /* three 148-byte lines per message */
    CHECK(strcmp(joined, text) == 0);
}

static void test_group_secret(void) {
    char out[64];
    CHECK(totpd_group_secret("ABCDEFGHIJ", out, sizeof out) == 0);
    CHECK(strcmp(out, "ABCD EFGH IJ") == 0);
    CHECK(totpd_group_secret("ABCDEFGH", out, sizeof out) == 0);
    CHECK(strcmp(out, "ABCD EFGH") == 0);
    CHECK(totpd_group_secret("", out, sizeof out) == 0);
    CHECK(strcmp(out, "") == 0);
    CHECK(totpd_group_secret("ABCDEFGHIJ", out, 12) == -1);
    CHECK(out[0] == '\0');
    CHECK(totpd_group_secret("ABCDEFGHIJ", out, 13) == 0);
}

int main(void) {
    test_whole_lines();
    test_long_lines_are_cut_between_characters();
    test_a_qr_sized_text();
    test_group_secret();
    return report();
}
