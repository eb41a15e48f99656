/* libFuzzer target: the enrollment dialogue's text helpers (display.c). The first byte picks
   the message size; the rest is the text. Every piece must fit, the walk must advance and end,
   and the pieces with the newlines between them must give the text back. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "totpd_display.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0)
        return 0;
    size_t max = 1 + data[0] % TOTPD_MAX_PAM_MESSAGE;
    char *text = malloc(size);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    size_t length = strlen(text), pos = 0, advance;
    for (;;) {
        size_t piece = totpd_next_message(text + pos, max, &advance);
        if (advance == 0)
            break;
        assert(piece <= max && piece <= advance);
        /* What is skipped between pieces is the one newline that ended a line, or nothing. */
        assert(advance == piece || (advance == piece + 1 && text[pos + piece] == '\n'));
        pos += advance;
        assert(pos <= length);
    }
    assert(pos == length);
    char grouped[64];
    size_t out_size = data[0] % sizeof grouped;
    if (totpd_group_secret(text, grouped, out_size) == 0)
        assert(strlen(grouped) < out_size);
    else if (out_size > 0)
        assert(grouped[0] == '\0');
    free(text);
    return 0;
}
