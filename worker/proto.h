/* What the daemon and a worker (vmstatd-vm, one process per VM) say to each other: typed
 * requests and replies on a SOCK_SEQPACKET unix socket. The first connection is a socketpair
 * end the daemon passes as fd WK_FD_CONN; later daemons connect to <runtime_dir>/vms/<name>.sock.
 * Every connection starts with WK_HELLO, answered with the VM's shared memfd and its KVM stats
 * fds (SCM_RIGHTS). Counters never travel here: they are in the shared memory. */
#ifndef WORKER_PROTO_H
#define WORKER_PROTO_H

#include <stdint.h>

#define WK_PROTO_VERSION 1
#define WK_FD_CONN 3       /* the spawning daemon's connection */
#define WK_MSG_LEN 320

/* Numbers stay as they are: a daemon re-executed as a newer binary talks to older workers. */
enum wk_op {
        WK_HELLO = 1,  /* -> the VM's fds; result = how its creation went (see below) */
        WK_PAUSE = 3,  /* 2 is unused (workers start their VM once loaded) */
        WK_RESUME = 4,
        WK_STOP = 5,   /* stop the guest; the worker stays, holding its counters */
        WK_QUIT = 6,   /* stop the guest and exit */
};

struct wk_request {
        uint32_t version; /* WK_PROTO_VERSION */
        uint32_t op;      /* enum wk_op */
};

/* Results of WK_HELLO: 0 running (or ended since), or the failure of the launch. */
enum wk_stage {
        WK_STAGE_OK,
        WK_STAGE_CREATE, /* no VM exists: nothing is sent but this reply */
        WK_STAGE_LOAD,   /* the VM exists, crashed(load_error) */
        WK_STAGE_START,  /* the VM exists, crashed(kvm_run_error) */
};

struct wk_reply {
        int32_t result;   /* 0 or -errno */
        uint32_t stage;   /* WK_HELLO: enum wk_stage */
        uint32_t n_fds;   /* fds passed with this reply: shm, VM stats, vCPU stats... */
        uint32_t pid;
        char msg[WK_MSG_LEN]; /* what happened, or why not */
};

#endif
