/* Text for the first-login enrollment dialogue: cutting long text into PAM messages and
   grouping a secret for typing. No PAM dependency, so it is unit-tested on its own. */
#ifndef TOTPD_DISPLAY_H
#define TOTPD_DISPLAY_H

#include <stddef.h>

enum {
    /* Linux-PAM's PAM_MAX_MSG_SIZE is 512 bytes including the NUL. */
    TOTPD_MAX_PAM_MESSAGE = 511,
};

/* The next piece of text to send as one PAM message, starting at text: as many whole lines as
   fit in max bytes, without the newline after the last of them (sshd and sudo add one after
   every message). A single line longer than max is cut at the last UTF-8 character boundary
   that fits. Returns the piece's length and sets *advance to where the next piece starts
   (past the newline that ended this one); *advance is 0 only at the end of the text. */
size_t totpd_next_message(const char *text, size_t max, size_t *advance);

/* Writes secret in groups of four characters separated by spaces ("ABCD EFGH IJ") into out,
   NUL-terminated. Returns 0, or -1 (and an empty out) if out_size is too small. */
int totpd_group_secret(const char *secret, char *out, size_t out_size);

#endif
