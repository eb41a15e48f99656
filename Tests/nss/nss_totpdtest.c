/* libnss_totpdtest.so.2: the system tests' stand-in for a directory service (SSSD with Active
   Directory, LDAP). A real glibc NSS module, listed after "files" in an nsswitch.conf that only
   the daemon under test sees (see Tests/system/nss_standin.py for why not nss_wrapper).

   Everything is read at each call, so a test changes the directory while the daemon runs:
     TOTPD_TEST_NSS_PASSWD      passwd(5)-format file of the directory's accounts
     TOTPD_TEST_NSS_GROUP       group(5)-format file of its groups
     TOTPD_TEST_NSS_DELAY_MS    sleep this long in each lookup (a slow LDAP server) ...
     TOTPD_TEST_NSS_SLOW_PREFIX ... only for names starting with this (any case); unset: all
     TOTPD_TEST_NSS_DELAY_FILE  if this file exists, its "MS [PREFIX]" replaces the two above
     TOTPD_TEST_NSS_FAIL_FLAG   while this file exists every lookup fails (the server is down):
                                NSS_STATUS_UNAVAIL with errno EIO, or what the file says,
                                "unavail|tryagain [ERRNO]", e.g. "tryagain 11"
   Names match case-insensitively and the entry's stored (canonical) name is returned, as SSSD
   does with case_sensitive = false. No state is shared between calls except the enumeration
   position, so concurrent lookups from the daemon's threads are safe. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <grp.h>
#include <nss.h>
#include <pthread.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

enum { PASSWD_FIELDS = 7, GROUP_FIELDS = 4 };

/* ---- run-time control ---------------------------------------------------------------------- */

static bool read_first_line(const char *path, char *line, size_t size) {
    FILE *file = fopen(path, "re");
    if (file == NULL) {
        return false;
    }
    if (fgets(line, (int)size, file) == NULL) {
        line[0] = '\0';
    }
    fclose(file);
    line[strcspn(line, "\r\n")] = '\0';
    return true;
}

static void sleep_ms(long ms) {
    struct timespec left = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&left, &left) != 0 && errno == EINTR) {
    }
}

/* Sleeps first, then fails: a directory that is down is usually also slow to say so. */
static void delay_for(const char *name) {
    long ms = 0;
    char prefix[256] = "";
    const char *variable = getenv("TOTPD_TEST_NSS_DELAY_MS");
    if (variable != NULL) {
        ms = strtol(variable, NULL, 10);
    }
    variable = getenv("TOTPD_TEST_NSS_SLOW_PREFIX");
    if (variable != NULL) {
        snprintf(prefix, sizeof(prefix), "%s", variable);
    }
    const char *control = getenv("TOTPD_TEST_NSS_DELAY_FILE");
    char line[512];
    if (control != NULL && read_first_line(control, line, sizeof(line))) {
        prefix[0] = '\0';
        if (sscanf(line, "%ld %255s", &ms, prefix) < 1) {
            ms = 0;
        }
    }
    if (ms > 0 && strncasecmp(name, prefix, strlen(prefix)) == 0) {
        sleep_ms(ms);
    }
}

/* Returns true, with the status and errno to report, while the fail flag file exists. */
static bool failing(enum nss_status *status, int *errnop) {
    const char *flag = getenv("TOTPD_TEST_NSS_FAIL_FLAG");
    char line[128];
    if (flag == NULL || !read_first_line(flag, line, sizeof(line))) {
        return false;
    }
    char kind[16] = "";
    int number = 0;
    int fields = sscanf(line, "%15s %d", kind, &number);
    bool again = fields >= 1 && strcasecmp(kind, "tryagain") == 0;
    *status = again ? NSS_STATUS_TRYAGAIN : NSS_STATUS_UNAVAIL;
    *errnop = fields == 2 ? number : (again ? EAGAIN : EIO);
    return true;
}

static bool begin(const char *name, enum nss_status *status, int *errnop) {
    delay_for(name);
    return failing(status, errnop);
}

/* ---- parsing and packing ------------------------------------------------------------------- */

/* Splits a line at ':' in place; false unless it has exactly `count` fields. */
static bool split(char *line, char **fields, int count) {
    line[strcspn(line, "\r\n")] = '\0';
    for (int index = 0; index < count; index++) {
        fields[index] = line;
        char *colon = strchr(line, ':');
        if (index == count - 1) {
            return colon == NULL;
        }
        if (colon == NULL) {
            return false;
        }
        *colon = '\0';
        line = colon + 1;
    }
    return false;
}

struct arena {
    char *next;
    size_t left;
};

static void *take(struct arena *arena, size_t size, size_t alignment) {
    size_t pad = (alignment - (uintptr_t)arena->next % alignment) % alignment;
    if (pad + size > arena->left) {
        return NULL;
    }
    void *start = arena->next + pad;
    arena->next += pad + size;
    arena->left -= pad + size;
    return start;
}

static char *copy(struct arena *arena, const char *text) {
    size_t size = strlen(text) + 1;
    char *target = take(arena, size, 1);
    if (target != NULL) {
        memcpy(target, text, size);
    }
    return target;
}

/* One parsed line, its fields pointing into `line`. */
struct record {
    char *line;
    char *fields[PASSWD_FIELDS];
};

typedef bool (*matcher)(char **fields, const void *key);

static bool name_matches(char **fields, const void *key) { return strcasecmp(fields[0], key) == 0; }

static bool id_matches(char **fields, const void *key) {
    char *end;
    unsigned long id = strtoul(fields[2], &end, 10);
    return *end == '\0' && end != fields[2] && id == *(const unsigned long *)key;
}

/* Finds the `skip`-th line (from 0) that matches in the file named by `variable`; the caller
   frees record->line. A missing file is an empty directory. */
static bool find(const char *variable, int count, matcher matches, const void *key, long skip,
                 struct record *record) {
    const char *path = getenv(variable);
    FILE *file = path != NULL ? fopen(path, "re") : NULL;
    if (file == NULL) {
        return false;
    }
    char *line = NULL;
    size_t size = 0;
    bool found = false;
    while (!found && getline(&line, &size, file) >= 0) {
        if (line[0] == '#' || !split(line, record->fields, count)) {
            continue;
        }
        found = (matches == NULL || matches(record->fields, key)) && skip-- == 0;
    }
    fclose(file);
    if (!found) {
        free(line);
        return false;
    }
    record->line = line;
    return true;
}

static enum nss_status fill_passwd(char **fields, void *entry, char *buffer, size_t length,
                                   int *errnop) {
    struct passwd *result = entry;
    struct arena arena = {buffer, length};
    result->pw_uid = (uid_t)strtoul(fields[2], NULL, 10);
    result->pw_gid = (gid_t)strtoul(fields[3], NULL, 10);
    result->pw_name = copy(&arena, fields[0]);
    result->pw_passwd = copy(&arena, fields[1]);
    result->pw_gecos = copy(&arena, fields[4]);
    result->pw_dir = copy(&arena, fields[5]);
    result->pw_shell = copy(&arena, fields[6]);
    if (result->pw_name == NULL || result->pw_passwd == NULL || result->pw_gecos == NULL ||
        result->pw_dir == NULL || result->pw_shell == NULL) {
        /* The caller retries with a larger buffer. */
        *errnop = ERANGE;
        return NSS_STATUS_TRYAGAIN;
    }
    return NSS_STATUS_SUCCESS;
}

static enum nss_status fill_group(char **fields, void *entry, char *buffer, size_t length,
                                  int *errnop) {
    struct group *result = entry;
    struct arena arena = {buffer, length};
    size_t count = 0;
    for (const char *cursor = fields[3]; *cursor != '\0'; cursor++) {
        count += *cursor != ',' && (cursor == fields[3] || cursor[-1] == ',');
    }
    result->gr_gid = (gid_t)strtoul(fields[2], NULL, 10);
    result->gr_mem = take(&arena, (count + 1) * sizeof(char *), sizeof(char *));
    result->gr_name = result->gr_mem != NULL ? copy(&arena, fields[0]) : NULL;
    result->gr_passwd = result->gr_name != NULL ? copy(&arena, fields[1]) : NULL;
    bool fits = result->gr_passwd != NULL;
    size_t index = 0;
    char *state = NULL;
    for (char *member = strtok_r(fields[3], ",", &state); fits && member != NULL;
         member = strtok_r(NULL, ",", &state)) {
        result->gr_mem[index] = copy(&arena, member);
        fits = result->gr_mem[index++] != NULL;
    }
    if (!fits) {
        /* The caller retries with a larger buffer. */
        *errnop = ERANGE;
        return NSS_STATUS_TRYAGAIN;
    }
    result->gr_mem[index] = NULL;
    return NSS_STATUS_SUCCESS;
}

static enum nss_status not_found(int *errnop) {
    /* nss_wrapper reads a non-zero errno after NOTFOUND as an error; glibc ignores it. */
    *errnop = ENOENT;
    return NSS_STATUS_NOTFOUND;
}

/* ---- passwd ---------------------------------------------------------------------------------- */

/* One database: the file named by its variable, its field count, and how a record fills the
   caller's struct. */
struct database {
    const char *variable;
    int fields;
    enum nss_status (*fill)(char **fields, void *result, char *buffer, size_t length, int *errnop);
};

static const struct database PASSWD = {"TOTPD_TEST_NSS_PASSWD", PASSWD_FIELDS, fill_passwd};
static const struct database GROUP = {"TOTPD_TEST_NSS_GROUP", GROUP_FIELDS, fill_group};

static enum nss_status lookup(const struct database *database, matcher matches, const void *key,
                              long skip, const char *name, void *result, char *buffer,
                              size_t length, int *errnop) {
    struct record record;
    bool found = find(database->variable, database->fields, matches, key, skip, &record);
    enum nss_status status;
    if (name != NULL || matches == id_matches) {
        /* An id lookup is slow when the entry it finds has a slow name. */
        if (begin(name != NULL ? name : (found ? record.fields[0] : ""), &status, errnop)) {
            if (found) {
                free(record.line);
            }
            return status;
        }
    }
    if (!found) {
        return not_found(errnop);
    }
    status = database->fill(record.fields, result, buffer, length, errnop);
    free(record.line);
    return status;
}

EXPORT enum nss_status _nss_totpdtest_getpwnam_r(const char *name, struct passwd *result,
                                                 char *buffer, size_t length, int *errnop) {
    return lookup(&PASSWD, name_matches, name, 0, name, result, buffer, length, errnop);
}

EXPORT enum nss_status _nss_totpdtest_getpwuid_r(uid_t uid, struct passwd *result, char *buffer,
                                                 size_t length, int *errnop) {
    unsigned long key = uid;
    return lookup(&PASSWD, id_matches, &key, 0, NULL, result, buffer, length, errnop);
}

/* Enumeration (getent passwd, and nss_wrapper's getgrouplist) keeps a position per process;
   glibc serialises the *ent calls of one database, the mutex covers other callers. */
static pthread_mutex_t enumeration_lock = PTHREAD_MUTEX_INITIALIZER;
static long passwd_position;
static long group_position;

static enum nss_status rewind_position(long *position) {
    pthread_mutex_lock(&enumeration_lock);
    *position = 0;
    pthread_mutex_unlock(&enumeration_lock);
    return NSS_STATUS_SUCCESS;
}

EXPORT enum nss_status _nss_totpdtest_setpwent(int stayopen) {
    (void)stayopen;
    return rewind_position(&passwd_position);
}

EXPORT enum nss_status _nss_totpdtest_endpwent(void) { return rewind_position(&passwd_position); }

/* The entry at *position of the database, then one further. */
static enum nss_status next_entry(const struct database *database, long *position, void *result,
                                  char *buffer, size_t length, int *errnop) {
    enum nss_status status;
    if (failing(&status, errnop)) {
        return status;
    }
    pthread_mutex_lock(&enumeration_lock);
    status = lookup(database, NULL, NULL, *position, NULL, result, buffer, length, errnop);
    if (status == NSS_STATUS_SUCCESS) {
        (*position)++;
    }
    pthread_mutex_unlock(&enumeration_lock);
    return status;
}

EXPORT enum nss_status _nss_totpdtest_getpwent_r(struct passwd *result, char *buffer, size_t length,
                                                 int *errnop) {
    return next_entry(&PASSWD, &passwd_position, result, buffer, length, errnop);
}

/* ---- group ----------------------------------------------------------------------------------- */

EXPORT enum nss_status _nss_totpdtest_getgrnam_r(const char *name, struct group *result,
                                                 char *buffer, size_t length, int *errnop) {
    return lookup(&GROUP, name_matches, name, 0, name, result, buffer, length, errnop);
}

EXPORT enum nss_status _nss_totpdtest_getgrgid_r(gid_t gid, struct group *result, char *buffer,
                                                 size_t length, int *errnop) {
    unsigned long key = gid;
    return lookup(&GROUP, id_matches, &key, 0, NULL, result, buffer, length, errnop);
}

EXPORT enum nss_status _nss_totpdtest_setgrent(int stayopen) {
    (void)stayopen;
    return rewind_position(&group_position);
}

EXPORT enum nss_status _nss_totpdtest_endgrent(void) { return rewind_position(&group_position); }

EXPORT enum nss_status _nss_totpdtest_getgrent_r(struct group *result, char *buffer, size_t length,
                                                 int *errnop) {
    return next_entry(&GROUP, &group_position, result, buffer, length, errnop);
}

/* getgrouplist(3) and initgroups(3) ask this, not getgrent: adds the groups that list `user`
   (any case) to *groups, growing it as glibc's own modules do. */
EXPORT enum nss_status _nss_totpdtest_initgroups_dyn(const char *user, gid_t primary, long *start,
                                                     long *size, gid_t **groups, long limit,
                                                     int *errnop) {
    enum nss_status status;
    if (begin(user, &status, errnop)) {
        return status;
    }
    const char *path = getenv("TOTPD_TEST_NSS_GROUP");
    FILE *file = path != NULL ? fopen(path, "re") : NULL;
    if (file == NULL) {
        return not_found(errnop);
    }
    char *line = NULL;
    size_t capacity = 0;
    bool added = false;
    status = NSS_STATUS_SUCCESS;
    while (status == NSS_STATUS_SUCCESS && getline(&line, &capacity, file) >= 0) {
        char *fields[GROUP_FIELDS];
        if (line[0] == '#' || !split(line, fields, GROUP_FIELDS)) {
            continue;
        }
        gid_t gid = (gid_t)strtoul(fields[2], NULL, 10);
        bool member = false;
        char *state = NULL;
        for (char *name = strtok_r(fields[3], ",", &state); name != NULL && !member;
             name = strtok_r(NULL, ",", &state)) {
            member = strcasecmp(name, user) == 0;
        }
        bool listed = gid == primary;
        for (long index = 0; index < *start && !listed; index++) {
            listed = (*groups)[index] == gid;
        }
        if (!member || listed) {
            continue;
        }
        if (*start == *size) {
            if (limit > 0 && *size >= limit) {
                break;
            }
            long grown = *size * 2 > 0 ? *size * 2 : 16;
            grown = limit > 0 && grown > limit ? limit : grown;
            gid_t *larger = realloc(*groups, (size_t)grown * sizeof(gid_t));
            if (larger == NULL) {
                *errnop = ENOMEM;
                status = NSS_STATUS_TRYAGAIN;
                break;
            }
            *groups = larger;
            *size = grown;
        }
        (*groups)[(*start)++] = gid;
        added = true;
    }
    free(line);
    fclose(file);
    if (status != NSS_STATUS_SUCCESS) {
        return status;
    }
    return added ? NSS_STATUS_SUCCESS : not_found(errnop);
}
