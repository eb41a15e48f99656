/* The benchmark's users and their codes. User i is "<prefix><i>"; its secret is
   HMAC-SHA1("totpd-bench", name), so the provisioning script and the drivers agree on it
   without a file of 1M secrets. Codes are RFC 6238 TOTP, SHA-1, 6 digits, 30 s. */
#ifndef BENCH_OTP_H
#define BENCH_OTP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

enum { BENCH_SECRET_LENGTH = 20, BENCH_PERIOD = 30 };

static inline void bench_secret(const char *name, uint8_t secret[BENCH_SECRET_LENGTH]) {
    static const char key[] = "totpd-bench";
    unsigned length = BENCH_SECRET_LENGTH;
    HMAC(EVP_sha1(), key, sizeof key - 1, (const uint8_t *)name, strlen(name), secret, &length);
}

/* The 6-digit TOTP value of secret at a step. */
static inline uint32_t bench_totp(const uint8_t secret[BENCH_SECRET_LENGTH], uint64_t step) {
    uint8_t digest[EVP_MAX_MD_SIZE], counter[8];
    unsigned length = 0;
    for (int i = 7; i >= 0; i--, step >>= 8)
        counter[i] = (uint8_t)(step & 0xff);
    HMAC(EVP_sha1(), secret, BENCH_SECRET_LENGTH, counter, sizeof counter, digest, &length);
    unsigned offset = digest[length - 1] & 0x0f;
    uint32_t value = ((uint32_t)(digest[offset] & 0x7f) << 24) | ((uint32_t)digest[offset + 1] << 16) |
                     ((uint32_t)digest[offset + 2] << 8) | digest[offset + 3];
    return value % 1000000;
}

/* The code of secret at unix time now, written as 6 digits and a NUL into out. With wrong, a
   code that no step a verifier's window could reach (two either side) would accept. */
static inline void bench_code_of(const uint8_t secret[BENCH_SECRET_LENGTH], time_t now, int wrong,
                                 char out[7]) {
    uint64_t step = (uint64_t)now / BENCH_PERIOD;
    uint32_t value = bench_totp(secret, step);
    if (wrong) {
        uint32_t near[5];
        for (int i = 0; i < 5; i++)
            near[i] = bench_totp(secret, step + (uint64_t)i - 2);
        value = (value + 500000) % 1000000;
        for (int i = 0; i < 5; i++)
            if (near[i] == value) {
                value = (value + 1) % 1000000;
                i = -1; /* check the new value against all five again */
            }
    }
    snprintf(out, 7, "%06u", value);
}

static inline void bench_code(const char *name, time_t now, int wrong, char out[7]) {
    uint8_t secret[BENCH_SECRET_LENGTH];
    bench_secret(name, secret);
    bench_code_of(secret, now, wrong, out);
}

static inline uint64_t bench_now_ns(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

static int bench_compare_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The q-quantile (0..1) of n sorted values. */
static inline uint64_t bench_quantile(const uint64_t *sorted, size_t n, double q) {
    if (n == 0)
        return 0;
    size_t index = (size_t)(q * (double)(n - 1) + 0.5);
    return sorted[index < n ? index : n - 1];
}

/* User and system CPU of a process, in nanoseconds, from /proc (0 if unreadable). */
static inline uint64_t bench_process_cpu_ns(long pid) {
    char path[64], buffer[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *file = fopen(path, "r");
    if (file == NULL)
        return 0;
    size_t length = fread(buffer, 1, sizeof buffer - 1, file);
    fclose(file);
    buffer[length] = '\0';
    /* Fields after the command name, which is in parentheses and may hold spaces. */
    char *rest = strrchr(buffer, ')');
    unsigned long utime = 0, stime = 0;
    if (rest == NULL || sscanf(rest + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime,
                               &stime) != 2)
        return 0;
    return (uint64_t)(utime + stime) * (1000000000u / 100u); /* USER_HZ is 100 on Linux */
}

static inline long bench_process_rss_kib(long pid) {
    char path[64], line[256];
    long rss = 0;
    snprintf(path, sizeof path, "/proc/%ld/status", pid);
    FILE *file = fopen(path, "r");
    if (file == NULL)
        return 0;
    while (fgets(line, sizeof line, file) != NULL)
        if (sscanf(line, "VmRSS: %ld kB", &rss) == 1)
            break;
    fclose(file);
    return rss;
}

#endif
