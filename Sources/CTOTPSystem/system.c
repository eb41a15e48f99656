/* SwiftPM needs one source file in a C target; the target's content is its header. */
#define _GNU_SOURCE
#include <sys/socket.h>

#include "totpd_system.h"

_Static_assert(sizeof(struct ucred) == sizeof(totpd_peer_credentials), "ucred mirror size");
_Static_assert(__builtin_offsetof(struct ucred, uid) == __builtin_offsetof(totpd_peer_credentials, uid), "uid offset");
_Static_assert(__builtin_offsetof(struct ucred, gid) == __builtin_offsetof(totpd_peer_credentials, gid), "gid offset");
