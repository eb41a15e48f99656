/* Text for the first-login enrollment dialogue (see totpd_display.h). */
#include <string.h>

#include "totpd_display.h"

/* A UTF-8 continuation byte (10xxxxxx) never starts a character. */
static int is_continuation(unsigned char byte) { return (byte & 0xC0) == 0x80; }

size_t totpd_next_message(const char *text, size_t max, size_t *advance) {
    size_t length = strlen(text);
    size_t cut = 0; /* end of the last whole line that fits */

    *advance = 0;
    if (length == 0 || max == 0)
        return 0;
    for (size_t end = 0; end < length && end <= max;) {
        const char *newline = memchr(text + end, '\n', length - end);
        size_t line_end = newline != NULL ? (size_t)(newline - text) : length;
        if (line_end > max)
            break;
        cut = line_end;
        *advance = newline != NULL ? line_end + 1 : line_end;
        end = line_end + 1;
    }
    if (*advance > 0)
        return cut;
    /* The first line alone is too long: cut it where a character starts. */
    cut = max;
    while (cut > 0 && is_continuation((unsigned char)text[cut]))
        cut--;
    if (cut == 0)
        cut = max; /* not UTF-8 at all; any cut will do, and the loop must advance */
    *advance = cut;
    return cut;
}

int totpd_group_secret(const char *secret, char *out, size_t out_size) {
    size_t length = strlen(secret);
    size_t needed = length + (length > 0 ? (length - 1) / 4 : 0) + 1;
    size_t pos = 0;

    if (out_size == 0)
        return -1;
    out[0] = '\0';
    if (needed > out_size)
        return -1;
    for (size_t i = 0; i < length; i++) {
        if (i > 0 && i % 4 == 0)
            out[pos++] = ' ';
        out[pos++] = secret[i];
    }
    out[pos] = '\0';
    return 0;
}
