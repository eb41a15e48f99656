/* Socket load generator: C concurrent clients send VERIFY (right or wrong code) or PRECHECK
   for distinct users, each over its own connection as the PAM module does, for a fixed time or
   until its users run out. Prints one JSON line: requests/s, latency quantiles, the answers,
   the daemon's CPU per request and RSS (from /proc, with DAEMON_PID), and the load
   generator's own CPU per request: on a small machine it shares the cores with the daemon.

   "null" sends a request of an unknown protocol version, which the daemon answers without
   looking at anything: the cost of a connection and a frame alone.

   usage: socket_load SOCKET PREFIX FIRST COUNT CLIENTS verify-right|verify-wrong|precheck|null
                      SECONDS [DAEMON_PID] */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench_otp.h"
#include "totpd_client.h"

typedef struct worker {
    pthread_t thread;
    const char *socket_path;
    const char *prefix;
    long first, count; /* this worker's users */
    int operation;     /* TOTPD_OP_VERIFY or TOTPD_OP_PRECHECK, or 0 for "null" */
    int wrong;
    uint64_t deadline_ns;
    uint64_t *latencies_ns;
    size_t done;
    size_t answers[16];
    size_t failures; /* exchanges that got no answer */
} worker;

static void *run_worker(void *argument) {
    worker *w = argument;
    uint8_t frame[TOTPD_MAX_REQUEST_FRAME];
    totpd_response response;
    char name[128], code[7];
    for (long i = 0; i < w->count && bench_now_ns() < w->deadline_ns; i++) {
        totpd_request request;
        int length = snprintf(name, sizeof name, "%s%ld", w->prefix, w->first + i);
        totpd_request_begin(&request, frame, sizeof frame,
                            (uint8_t)(w->operation ? w->operation : TOTPD_OP_PRECHECK));
        totpd_request_add_string(&request, TOTPD_TAG_USER, name, (size_t)length);
        if (w->operation == TOTPD_OP_VERIFY) {
            bench_code(name, time(NULL), w->wrong, code);
            totpd_request_add_string(&request, TOTPD_TAG_CODE, code, 6);
        }
        totpd_request_add_string(&request, TOTPD_TAG_SERVICE, "bench", 5);
        if (w->operation == 0)
            frame[TOTPD_FRAME_LENGTH_SIZE] = 0xff; /* the version byte */
        uint64_t started = bench_now_ns();
        totpd_status status = totpd_exchange(w->socket_path, 10000, request.frame, request.length,
                                             &response, NULL);
        w->latencies_ns[w->done++] = bench_now_ns() - started;
        if (status != TOTPD_CLIENT_OK)
            w->failures++;
        else
            w->answers[response.result < 16 ? response.result : 15]++;
    }
    return NULL;
}

/* This process's CPU time, all threads, user and system. */
static uint64_t own_cpu_ns(void) {
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return ((uint64_t)usage.ru_utime.tv_sec + (uint64_t)usage.ru_stime.tv_sec) * 1000000000u +
           ((uint64_t)usage.ru_utime.tv_usec + (uint64_t)usage.ru_stime.tv_usec) * 1000u;
}

int main(int argc, char **argv) {
    if (argc < 8) {
        fprintf(stderr, "usage: socket_load SOCKET PREFIX FIRST COUNT CLIENTS "
                        "verify-right|verify-wrong|precheck|null SECONDS [DAEMON_PID]\n");
        return 2;
    }
    const char *socket_path = argv[1], *prefix = argv[2], *kind = argv[6];
    long first = atol(argv[3]), count = atol(argv[4]), clients = atol(argv[5]);
    double seconds = atof(argv[7]);
    long daemon_pid = argc > 8 ? atol(argv[8]) : 0;
    int operation = strcmp(kind, "precheck") == 0 ? TOTPD_OP_PRECHECK
                    : strcmp(kind, "null") == 0   ? 0
                                                  : TOTPD_OP_VERIFY;
    int wrong = strcmp(kind, "verify-wrong") == 0;
    if (clients < 1 || count < clients) {
        fprintf(stderr, "socket_load: need at least one user per client\n");
        return 2;
    }
    worker *workers = calloc((size_t)clients, sizeof *workers);
    uint64_t cpu_before = daemon_pid ? bench_process_cpu_ns(daemon_pid) : 0;
    uint64_t own_before = own_cpu_ns();
    uint64_t started = bench_now_ns();
    long per = count / clients;
    for (long c = 0; c < clients; c++) {
        worker *w = &workers[c];
        *w = (worker){.socket_path = socket_path, .prefix = prefix, .first = first + c * per,
                      .count = per, .operation = operation, .wrong = wrong,
                      .deadline_ns = started + (uint64_t)(seconds * 1e9)};
        w->latencies_ns = calloc((size_t)per, sizeof(uint64_t));
        pthread_attr_t attributes;
        pthread_attr_init(&attributes);
        pthread_attr_setstacksize(&attributes, 256 * 1024);
        if (pthread_create(&w->thread, &attributes, run_worker, w) != 0) {
            perror("pthread_create");
            return 1;
        }
    }
    size_t total = 0, failures = 0, answers[16] = {0};
    for (long c = 0; c < clients; c++) {
        pthread_join(workers[c].thread, NULL);
        total += workers[c].done;
        failures += workers[c].failures;
        for (int r = 0; r < 16; r++)
            answers[r] += workers[c].answers[r];
    }
    double elapsed = (double)(bench_now_ns() - started) / 1e9;
    uint64_t cpu = daemon_pid ? bench_process_cpu_ns(daemon_pid) - cpu_before : 0;
    uint64_t own = own_cpu_ns() - own_before;
    uint64_t *all = malloc((total ? total : 1) * sizeof(uint64_t));
    size_t n = 0;
    for (long c = 0; c < clients; c++) {
        memcpy(all + n, workers[c].latencies_ns, workers[c].done * sizeof(uint64_t));
        n += workers[c].done;
    }
    qsort(all, n, sizeof *all, bench_compare_u64);
    printf("{\"point\":\"socket\",\"op\":\"%s\",\"clients\":%ld,\"requests\":%zu,\"seconds\":%.3f,"
           "\"rps\":%.0f,\"p50_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f,"
           "\"daemon_cpu_us_per_request\":%.1f,\"client_cpu_us_per_request\":%.1f,\"daemon_rss_kib\":%ld,\"ok\":%zu,\"rejected\":%zu,"
           "\"locked\":%zu,\"other_answers\":%zu,\"no_answer\":%zu}\n",
           kind, clients, n, elapsed, (double)n / elapsed, bench_quantile(all, n, 0.5) / 1e3,
           bench_quantile(all, n, 0.99) / 1e3, n ? all[n - 1] / 1e3 : 0.0,
           n ? (double)cpu / 1e3 / (double)n : 0.0, n ? (double)own / 1e3 / (double)n : 0.0, daemon_pid ? bench_process_rss_kib(daemon_pid) : 0,
           answers[TOTPD_RESULT_OK], answers[TOTPD_RESULT_REJECTED], answers[TOTPD_RESULT_LOCKED],
           n - failures - answers[TOTPD_RESULT_OK] - answers[TOTPD_RESULT_REJECTED] -
               answers[TOTPD_RESULT_LOCKED],
           failures);
    return 0;
}
