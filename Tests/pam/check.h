/* The C unit tests' one assertion: count, and on failure say where. Each test program includes
   this once and ends with `return report();`. */
#ifndef TOTPD_TEST_CHECK_H
#define TOTPD_TEST_CHECK_H

#include <stdio.h>

static int passed, failed;

#define CHECK(condition)                                                                           \
    do {                                                                                           \
        if (condition) {                                                                           \
            passed++;                                                                              \
        } else {                                                                                   \
            failed++;                                                                              \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #condition);          \
        }                                                                                          \
    } while (0)

static int report(void) {
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}

#endif
