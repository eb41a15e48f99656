/* libFuzzer target: the module's parser of the daemon's answer (client.c). Whatever the bytes,
   the parser must not read outside them, and an answer it accepts must leave every string
   NUL-terminated within its field and the counts within their arrays. */
#include <assert.h>
#include <string.h>

#include "totpd_client.h"

static void check_string(const char *field, size_t size) { assert(memchr(field, '\0', size) != NULL); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    totpd_response response;
    memset(&response, 0xA5, sizeof response);
    if (totpd_response_parse_frame(data, size, &response) == TOTPD_CLIENT_OK) {
        check_string(response.message, sizeof response.message);
        if (response.has_state)
            check_string(response.state, sizeof response.state);
        if (response.has_secret)
            check_string(response.secret, sizeof response.secret);
        if (response.has_qr)
            check_string(response.qr, sizeof response.qr);
        assert(response.recovery_code_count <= TOTPD_RECOVERY_CODE_COUNT);
        for (size_t i = 0; i < response.recovery_code_count; i++)
            check_string(response.recovery_codes[i], sizeof response.recovery_codes[i]);
    }
    if (size >= TOTPD_FRAME_LENGTH_SIZE)
        (void)totpd_response_parse_body(data + TOTPD_FRAME_LENGTH_SIZE, size - TOTPD_FRAME_LENGTH_SIZE, &response);
    return 0;
}
