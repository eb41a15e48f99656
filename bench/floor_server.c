/* The least a server can do for one request over a new connection, so the bench can show the
   kernel's share of a connection on this machine: one thread, epoll, accept4, SO_PEERCRED, read
   the frame, answer "unsupported version" (what totpd answers the null request), close. Served
   to socket_load's "null" clients like the daemon; runs until killed.

   usage: floor_server SOCKET */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "totpd_wire.h"

enum { MAX_EVENTS = 64, MAX_FRAME = TOTPD_FRAME_LENGTH_SIZE + TOTPD_MAX_REQUEST_BODY };

/* Answers and closes a connection once its whole frame has arrived (closing also takes it out
   of the epoll set); until then leaves it waiting. */
static void serve(int fd) {
    uint8_t frame[MAX_FRAME];
    struct ucred peer;
    socklen_t size = sizeof peer;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &size) != 0)
        goto out;
    ssize_t got = recv(fd, frame, sizeof frame, MSG_PEEK);
    if (got < 0 && errno == EAGAIN)
        return;
    if (got < TOTPD_FRAME_LENGTH_SIZE)
        goto out;
    size_t body = (size_t)frame[0] << 24 | (size_t)frame[1] << 16 | (size_t)frame[2] << 8 | frame[3];
    if ((size_t)got < TOTPD_FRAME_LENGTH_SIZE + body)
        return;
    if (recv(fd, frame, (size_t)got, 0) != got)
        goto out;
    static const uint8_t answer[] = {0, 0, 0, 2, TOTPD_PROTOCOL_VERSION, TOTPD_RESULT_UNSUPPORTED_VERSION};
    if (send(fd, answer, sizeof answer, MSG_NOSIGNAL) != (ssize_t)sizeof answer)
        perror("send");
out:
    close(fd);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: floor_server SOCKET\n");
        return 2;
    }
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    if (strlen(argv[1]) >= sizeof address.sun_path) {
        fprintf(stderr, "floor_server: socket path too long\n");
        return 2;
    }
    strcpy(address.sun_path, argv[1]);
    unlink(argv[1]);
    int listener = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int poller = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event event = {.events = EPOLLIN, .data.fd = listener};
    if (listener < 0 || poller < 0 || bind(listener, (struct sockaddr *)&address, sizeof address) != 0 ||
        chmod(argv[1], 0600) != 0 || listen(listener, 256) != 0 ||
        epoll_ctl(poller, EPOLL_CTL_ADD, listener, &event) != 0) {
        perror("floor_server");
        return 1;
    }
    for (;;) {
        struct epoll_event ready[MAX_EVENTS];
        int count = epoll_wait(poller, ready, MAX_EVENTS, -1);
        for (int i = 0; i < count; i++) {
            int fd = ready[i].data.fd;
            if (fd != listener) {
                serve(fd);
                continue;
            }
            int connection;
            while ((connection = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                struct epoll_event readable = {.events = EPOLLIN, .data.fd = connection};
                if (epoll_ctl(poller, EPOLL_CTL_ADD, connection, &readable) != 0)
                    close(connection);
            }
        }
    }
}
