/* A TCP listen address, parsed once (from [daemon] listen or --listen) and kept typed:
 * "host:port", "[v6]:port" or ":port" (every address). Numeric hosts and ":port" are turned into
 * the socket address right away, without a lookup; a host name stays a name until it is bound,
 * since a config check must not wait on DNS. A struct copy is a correct copy. */
#ifndef VMSTATD_LISTEN_H
#define VMSTATD_LISTEN_H

#include <stdint.h>
#include <sys/socket.h>

#define VS_LISTEN_TEXT_MAX 128 /* bytes of an address as written, with its NUL */
#define VS_LISTEN_WHY_LEN 256

struct vs_listen {
        char text[VS_LISTEN_TEXT_MAX]; /* as written: messages, the summary, change detection */
        char host[VS_LISTEN_TEXT_MAX]; /* without brackets; "" = every address */
        uint16_t port;                 /* 0 = any free port (tests) */
        struct sockaddr_storage addr;  /* what to bind, when addr_len is not 0 */
        socklen_t addr_len;            /* 0: host is a name, looked up by vs_listen_resolve */
};

/* -EINVAL with why filled ("listen address '9400': expected host:port, [v6]:port or :port");
 * ret untouched then. */
int vs_listen_parse(const char *s, struct vs_listen *ret, char why[VS_LISTEN_WHY_LEN]);
/* The address to bind: l->addr, or the first address l->host has now. -EINVAL with why filled. */
int vs_listen_resolve(const struct vs_listen *l, struct sockaddr_storage *ret, socklen_t *ret_len,
                      char why[VS_LISTEN_WHY_LEN]);

#endif
