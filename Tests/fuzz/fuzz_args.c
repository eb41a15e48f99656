/* libFuzzer target: the module's argument parser (args.c). The input is split at NUL bytes into
   up to 16 arguments, as a PAM configuration line would give them. Accepted arguments must give
   a usable configuration; refused ones must say why, in a NUL-terminated message. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "totpd_args.h"

enum { MAX_ARGUMENTS = 16 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    const char *argv[MAX_ARGUMENTS];
    int argc = 0;
    for (size_t start = 0; start <= size && argc < MAX_ARGUMENTS; start += strlen(text + start) + 1)
        argv[argc++] = text + start;
    totpd_args args;
    char error[256];
    memset(error, 0x5A, sizeof error);
    if (totpd_args_parse(argc, argv, &args, error, sizeof error) == 0) {
        assert(args.socket_path[0] == '/');
        assert(memchr(args.socket_path, '\0', sizeof args.socket_path) != NULL);
        size_t length = strlen(args.socket_path);
        assert(strncmp(args.root_socket_path, args.socket_path, length) == 0);
        assert(strcmp(args.root_socket_path + length, ".root") == 0);
        assert(args.timeout_seconds >= TOTPD_MIN_TIMEOUT_SECONDS && args.timeout_seconds <= TOTPD_MAX_TIMEOUT_SECONDS);
        assert(memchr(args.prompt, '\0', sizeof args.prompt) != NULL);
        for (const char *c = args.prompt; *c; c++)
            assert((unsigned char)*c >= 0x20 && *c != 0x7F);
    } else {
        assert(memchr(error, '\0', sizeof error) != NULL && error[0] != '\0');
    }
    free(text);
    return 0;
}
