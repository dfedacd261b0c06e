/* The daemon's side of a worker (vmstatd-vm, one process per VM, worker/proto.h): starting one,
 * adopting one an earlier daemon started, asking it to pause, resume, stop or quit, and noticing
 * its death. A worker's VM is read through a view of its shared memory (hv_vm_attach). */
#ifndef VMSTATD_WORKERS_H
#define VMSTATD_WORKERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto.h"

struct hv_vm;

struct vs_worker {
        pid_t pid;
        int pidfd;            /* -1 when the kernel has none to give */
        int conn;             /* -1 once the connection broke */
        bool child;           /* ours to reap (spawned by this process, before or after an exec) */
        bool gone;            /* known dead (and reaped, if ours) */
        int sig;              /* the signal that killed it, 0 if none or unknown */
        struct hv_vm *view;   /* NULL when the worker could not create its VM */
        enum wk_stage stage;  /* how its launch went */
        int result;           /* 0 or the launch's -errno */
        char msg[WK_MSG_LEN]; /* what the worker said about its launch */
        char sock_path[108];  /* its socket, "" for none */
        dev_t sock_dev;       /* the socket file it bound: removed after it only if still that one */
        ino_t sock_ino;
};

/* Runs exe with argv (argv[0] included) as a worker and waits (up to timeout_ms) for its
 * hello: 0 with *ret even when the launch failed inside the worker (see stage, result, msg);
 * -errno with why when no worker could be talked to. */
int vs_worker_spawn(const char *exe, char *const argv[], const char *sock_path, int timeout_ms,
                    struct vs_worker **ret, char *why, size_t why_len);
/* Its two halves, so that many workers start at once: start runs the program and returns;
 * hello then waits for its hello. A worker hello could not talk to is killed and freed. */
int vs_worker_start(const char *exe, char *const argv[], struct vs_worker **ret, char *why, size_t why_len);
int vs_worker_hello(struct vs_worker *w, const char *sock_path, int timeout_ms, char *why, size_t why_len);
/* Connects to a running worker's socket and takes over its VM. -ECONNREFUSED: nobody listens
 * there (a dead worker's leftover); -EPROTO: a layout or protocol this build does not know. */
int vs_worker_adopt(const char *path, int timeout_ms, struct vs_worker **ret, char *why, size_t why_len);
/* Sends op without waiting, then collects the reply: two halves so that many workers can be
 * asked at once. The reply's result (0 or -errno) is returned; msg says what happened. */
int vs_worker_send(struct vs_worker *w, enum wk_op op);
int vs_worker_reply(struct vs_worker *w, int timeout_ms, char *msg, size_t len);
int vs_worker_call(struct vs_worker *w, enum wk_op op, int timeout_ms, char *msg, size_t len);
/* Whether the process is gone; *ret_sig = the signal that killed it, 0 if it exited or the
 * kernel cannot say (a worker that is not our child). */
bool vs_worker_dead(struct vs_worker *w, int *ret_sig);
/* Removes the worker's socket file (seccomp keeps workers from doing it) unless another worker
 * has bound that path since. Call once it is dead. */
void vs_worker_remove_socket(struct vs_worker *w);
/* After vs_worker_send(w, WK_QUIT): takes the reply, waits for the process to exit, SIGKILLs it
 * at deadline_ns (CLOCK_MONOTONIC) if it has not, and removes its socket file. Many workers
 * asked at once share one deadline. */
void vs_worker_finish(struct vs_worker *w, uint64_t deadline_ns);
/* SIGKILL and, for a child, reap. */
void vs_worker_kill(struct vs_worker *w);
/* Closes the connection and releases the view; the process is left as it is. NULL is fine. */
void vs_worker_free(struct vs_worker *w);

#endif
