/* libpam driver: pam_start / pam_authenticate / pam_end for a range of users, answering each
   prompt with the user's current code (or a wrong one), the way sshd or sudo drive a module.
   Modes: "fork" runs each login in a new process (sshd forks per connection; the module is
   loaded anew each time), "warm" keeps one handle open and only changes PAM_USER.
   PROCESSES workers run at once over disjoint users. Prints one JSON line.

   usage: pam_driver LABEL SERVICE CONFDIR PREFIX FIRST COUNT fork|warm right|wrong PROCESSES
                     SECONDS [DAEMON_PID] */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <security/pam_appl.h>

#include "bench_otp.h"

typedef struct login {
    const char *user;
    int wrong;
} login;

static int answer(int count, const struct pam_message **messages, struct pam_response **responses,
                  void *data) {
    const login *current = data;
    struct pam_response *replies = calloc((size_t)count, sizeof *replies);
    if (replies == NULL)
        return PAM_BUF_ERR;
    for (int i = 0; i < count; i++) {
        int style = messages[i]->msg_style;
        if (style == PAM_PROMPT_ECHO_OFF || style == PAM_PROMPT_ECHO_ON) {
            char code[7];
            bench_code(current->user, time(NULL), current->wrong, code);
            replies[i].resp = strdup(code);
        }
    }
    *responses = replies;
    return PAM_SUCCESS;
}

/* What each worker reports, in memory shared with the parent. */
typedef struct report {
    size_t done, accepted, errors;
    uint64_t cpu_ns;
    uint64_t latencies_ns[];
} report;

static uint64_t rusage_ns(int who) {
    struct rusage usage;
    getrusage(who, &usage);
    return (uint64_t)(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1000000000u +
           (uint64_t)(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1000u;
}

static int authenticate(pam_handle_t *handle, login *current) {
    int rc = pam_set_item(handle, PAM_USER, current->user);
    if (rc == PAM_SUCCESS)
        rc = pam_authenticate(handle, PAM_SILENT);
    return rc;
}

static int one_login(const char *service, const char *confdir, login *current) {
    struct pam_conv conversation = {answer, current};
    pam_handle_t *handle = NULL;
    int rc = pam_start_confdir(service, current->user, &conversation, confdir, &handle);
    if (rc != PAM_SUCCESS)
        return rc;
    rc = pam_authenticate(handle, PAM_SILENT);
    pam_end(handle, rc);
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 12) {
        fprintf(stderr, "usage: pam_driver LABEL SERVICE CONFDIR PREFIX FIRST COUNT fork|warm "
                        "right|wrong PROCESSES SECONDS [DAEMON_PID]\n");
        return 2;
    }
    const char *label = argv[1], *service = argv[2], *confdir = argv[3], *prefix = argv[4];
    long first = atol(argv[5]), count = atol(argv[6]), processes = atol(argv[9]);
    int warm = strcmp(argv[7], "warm") == 0, wrong = strcmp(argv[8], "wrong") == 0;
    double seconds = atof(argv[10]);
    long daemon_pid = argc > 11 ? atol(argv[11]) : 0;
    if (processes < 1 || count < processes) {
        fprintf(stderr, "pam_driver: need at least one user per process\n");
        return 2;
    }
    /* OpenSSL initialises itself on first use: once here, not in every login's process. */
    char warm_up[7];
    bench_code(prefix, time(NULL), 0, warm_up);
    long per = count / processes;
    size_t size = sizeof(report) + (size_t)per * sizeof(uint64_t);
    report **reports = calloc((size_t)processes, sizeof *reports);
    for (long p = 0; p < processes; p++)
        reports[p] = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    uint64_t daemon_before = daemon_pid ? bench_process_cpu_ns(daemon_pid) : 0;
    uint64_t started = bench_now_ns(), deadline = started + (uint64_t)(seconds * 1e9);
    for (long p = 0; p < processes; p++) {
        if (fork() != 0)
            continue;
        report *out = reports[p];
        char name[128];
        login current = {name, wrong};
        struct pam_conv conversation = {answer, &current};
        pam_handle_t *handle = NULL;
        if (warm) {
            snprintf(name, sizeof name, "%s%ld", prefix, first + p * per);
            if (pam_start_confdir(service, name, &conversation, confdir, &handle) != PAM_SUCCESS)
                _exit(3);
        }
        uint64_t cpu_before = rusage_ns(warm ? RUSAGE_SELF : RUSAGE_CHILDREN);
        for (long i = 0; i < per && bench_now_ns() < deadline; i++) {
            snprintf(name, sizeof name, "%s%ld", prefix, first + p * per + i);
            uint64_t begun = bench_now_ns();
            int rc;
            if (warm) {
                rc = authenticate(handle, &current);
            } else {
                pid_t child = fork();
                if (child == 0)
                    _exit(one_login(service, confdir, &current) == PAM_SUCCESS ? 0 : 1);
                int status = 0;
                waitpid(child, &status, 0);
                rc = WIFEXITED(status) && WEXITSTATUS(status) == 0 ? PAM_SUCCESS : PAM_AUTH_ERR;
            }
            out->latencies_ns[out->done++] = bench_now_ns() - begun;
            if (rc == PAM_SUCCESS)
                out->accepted++;
        }
        out->cpu_ns = rusage_ns(warm ? RUSAGE_SELF : RUSAGE_CHILDREN) - cpu_before;
        if (warm)
            pam_end(handle, PAM_SUCCESS);
        _exit(0);
    }
    for (long p = 0; p < processes; p++)
        wait(NULL);
    double elapsed = (double)(bench_now_ns() - started) / 1e9;
    uint64_t daemon_cpu = daemon_pid ? bench_process_cpu_ns(daemon_pid) - daemon_before : 0;

    size_t total = 0, accepted = 0;
    uint64_t cpu = 0;
    for (long p = 0; p < processes; p++) {
        total += reports[p]->done;
        accepted += reports[p]->accepted;
        cpu += reports[p]->cpu_ns;
    }
    uint64_t *all = malloc((total ? total : 1) * sizeof(uint64_t));
    size_t n = 0;
    for (long p = 0; p < processes; p++) {
        memcpy(all + n, reports[p]->latencies_ns, reports[p]->done * sizeof(uint64_t));
        n += reports[p]->done;
    }
    qsort(all, n, sizeof *all, bench_compare_u64);
    double per_auth = n ? 1.0 / (double)n : 0;
    printf("{\"point\":\"pam\",\"module\":\"%s\",\"mode\":\"%s\",\"processes\":%ld,\"code\":\"%s\","
           "\"auths\":%zu,\"accepted\":%zu,\"seconds\":%.3f,\"auths_per_s\":%.1f,\"p50_us\":%.1f,"
           "\"p99_us\":%.1f,\"cpu_us_per_auth\":%.1f,\"daemon_cpu_us_per_auth\":%.1f}\n",
           label, warm ? "warm" : "fork", processes, wrong ? "wrong" : "right", n, accepted, elapsed,
           (double)n / elapsed, bench_quantile(all, n, 0.5) / 1e3, bench_quantile(all, n, 0.99) / 1e3,
           (double)cpu / 1e3 * per_auth, (double)daemon_cpu / 1e3 * per_auth);
    return 0;
}
