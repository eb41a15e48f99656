/* The floors a verification cannot go below on this machine: one HMAC-SHA1 code, one
   fdatasync of a small write on the store's filesystem, one NSS account lookup of a bench
   user. Prints one JSON line.

   usage: floors DIRECTORY USER */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bench_otp.h"

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: floors DIRECTORY USER\n");
        return 2;
    }
    enum { CODES = 200000, SYNCS = 200, LOOKUPS = 200 };
    char code[7], path[4096];
    uint8_t secret[BENCH_SECRET_LENGTH];
    bench_secret(argv[2], secret);
    uint64_t started = bench_now_ns();
    for (int i = 0; i < CODES; i++)
        bench_code_of(secret, 1700000000 + 30 * i, 0, code);
    double hmac_ns = (double)(bench_now_ns() - started) / CODES;

    snprintf(path, sizeof path, "%s/floor-fdatasync", argv[1]);
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
    if (fd < 0) {
        perror(path);
        return 1;
    }
    char block[4096] = {0};
    uint64_t *syncs = malloc(SYNCS * sizeof(uint64_t));
    for (int i = 0; i < SYNCS; i++) {
        uint64_t begun = bench_now_ns();
        if (pwrite(fd, block, sizeof block, (off_t)(i % 16) * 4096) < 0 || fdatasync(fd) != 0) {
            perror("fdatasync");
            return 1;
        }
        syncs[i] = bench_now_ns() - begun;
    }
    close(fd);
    unlink(path);
    qsort(syncs, SYNCS, sizeof *syncs, bench_compare_u64);

    uint64_t *lookups = malloc(LOOKUPS * sizeof(uint64_t));
    int found = 0;
    for (int i = 0; i < LOOKUPS; i++) {
        struct passwd entry, *result = NULL;
        char buffer[4096];
        uint64_t begun = bench_now_ns();
        getpwnam_r(argv[2], &entry, buffer, sizeof buffer, &result);
        lookups[i] = bench_now_ns() - begun;
        found += result != NULL;
    }
    qsort(lookups, LOOKUPS, sizeof *lookups, bench_compare_u64);
    printf("{\"point\":\"floors\",\"hmac_us\":%.2f,\"fdatasync_p50_us\":%.1f,\"fdatasync_p99_us\":%.1f,"
           "\"getpwnam_p50_us\":%.1f,\"lookup_found\":%s}\n",
           hmac_ns / 1e3, bench_quantile(syncs, SYNCS, 0.5) / 1e3, bench_quantile(syncs, SYNCS, 0.99) / 1e3,
           bench_quantile(lookups, LOOKUPS, 0.5) / 1e3, found == LOOKUPS ? "true" : "false");
    return 0;
}
