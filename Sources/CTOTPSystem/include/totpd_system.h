#ifndef TOTPD_SYSTEM_H
#define TOTPD_SYSTEM_H

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timex.h>
#include <sys/types.h>
#include <unistd.h>

/* Swift's Glibc module does not export struct ucred (it is behind _GNU_SOURCE), so the
   SO_PEERCRED result is read into this mirror; the assertions keep the layouts equal. */
typedef struct {
    pid_t pid;
    uid_t uid;
    gid_t gid;
} totpd_peer_credentials;

_Static_assert(sizeof(totpd_peer_credentials) == 3 * sizeof(int), "struct ucred is three ints on Linux");

/* prctl is variadic, which Swift cannot call. */
static inline int totpd_disable_dumps(void) { return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0); }

/* The kernel's own word on clock synchronisation, readable without privileges and without any
   tool: chrony, ntpd and systemd-timesyncd clear STA_UNSYNC while they keep the clock in step.
   Returns 1 synchronised, 0 not, -1 when adjtimex fails; *max_error_us is the kernel's bound. */
static inline int totpd_clock_synchronised(long *max_error_us) {
    struct timex state = {0};
    int result = adjtimex(&state);
    if (result == -1)
        return -1;
    *max_error_us = state.maxerror;
    return result != TIME_ERROR && (state.status & STA_UNSYNC) == 0;
}

/* openat2 has no glibc wrapper before 2.38 (Debian 12 has 2.36). RESOLVE_IN_ROOT reads PATH
   below DIRECTORY with every symbolic link and `..` taken as if DIRECTORY were /, in one system
   call: a tree given to doctor cannot lead a read out of itself, however its links change while
   doctor reads. Returns a descriptor, or -1 with errno (ENOSYS before Linux 5.6). */
static inline int totpd_openat2(int directory, const char *path, int flags, unsigned long long resolve) {
    struct open_how how = {.flags = (unsigned long long)flags, .resolve = resolve};
    return (int)syscall(SYS_openat2, directory, path, &how, sizeof how);
}

/* O_PATH is behind _GNU_SOURCE too: a descriptor that names a file or link without opening
   it, so that doctor can look at each step of a path without following or reading it. */
#ifndef O_PATH
#define O_PATH 010000000
#endif
static const int totpd_o_path = O_PATH;

#endif
