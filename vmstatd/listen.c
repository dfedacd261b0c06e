/* Listen addresses: one grammar for [daemon] listen and --listen, checked once. */
#define _GNU_SOURCE
#include "listen.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int expected(const char *s, char *why) {
        snprintf(why, VS_LISTEN_WHY_LEN, "listen address '%s': expected host:port, [v6]:port or :port", s);
        return -EINVAL;
}

/* Host names are checked for shape only: letters, digits, '.' and '-'. */
static bool host_shape_valid(const char *h, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char) h[i]) && h[i] != '.' && h[i] != '-')
                        return false;
        return n <= 253;
}

/* The first address getaddrinfo gives host (NULL: every address) for binding; flags add
 * AI_NUMERICHOST when no lookup may happen. */
static int first_address(const char *host, uint16_t port, int flags, struct sockaddr_storage *ret, socklen_t *ret_len) {
        struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                                  .ai_flags = AI_PASSIVE | AI_NUMERICSERV | flags }, *ai;
        char service[8];
        snprintf(service, sizeof(service), "%u", port);
        int g = getaddrinfo(host, service, &hints, &ai);
        if (g)
                return g;
        memcpy(ret, ai->ai_addr, ai->ai_addrlen);
        *ret_len = ai->ai_addrlen;
        freeaddrinfo(ai);
        return 0;
}

int vs_listen_parse(const char *s, struct vs_listen *ret, char why[VS_LISTEN_WHY_LEN]) {
        struct vs_listen l = { .addr_len = 0 };
        const char *colon = strrchr(s, ':'), *port = colon ? colon + 1 : NULL;
        size_t digits = port ? strspn(port, "0123456789") : 0;
        long port_num = digits >= 1 && digits <= 5 && !port[digits] ? atol(port) : -1;
        if (port_num < 0 || port_num > 65535 || strlen(s) >= sizeof(l.text))
                return expected(s, why);
        size_t n = (size_t) (colon - s);
        if (s[0] == '[') {
                struct in6_addr in6;
                if (n < 2 || s[n - 1] != ']') {
                        snprintf(why, VS_LISTEN_WHY_LEN, "listen address '%s': unbalanced [ ]", s);
                        return -EINVAL;
                }
                memcpy(l.host, s + 1, n - 2);
                if (inet_pton(AF_INET6, l.host, &in6) != 1)
                        return expected(s, why);
        } else if (host_shape_valid(s, n))
                memcpy(l.host, s, n);
        else
                return expected(s, why);
        snprintf(l.text, sizeof(l.text), "%s", s);
        l.port = (uint16_t) port_num;
        int g = first_address(l.host[0] ? l.host : NULL, l.port, AI_NUMERICHOST, &l.addr, &l.addr_len);
        if (g && g != EAI_NONAME) {
                snprintf(why, VS_LISTEN_WHY_LEN, "listen address '%s': %s", s, gai_strerror(g));
                return -EINVAL;
        }
        *ret = l; /* EAI_NONAME: a host name, looked up when bound */
        return 0;
}

int vs_listen_resolve(const struct vs_listen *l, struct sockaddr_storage *ret, socklen_t *ret_len,
                      char why[VS_LISTEN_WHY_LEN]) {
        if (l->addr_len) {
                *ret = l->addr;
                *ret_len = l->addr_len;
                return 0;
        }
        int g = first_address(l->host, l->port, 0, ret, ret_len);
        if (g) {
                snprintf(why, VS_LISTEN_WHY_LEN, "listen address '%s': %s", l->text, gai_strerror(g));
                return -EINVAL;
        }
        return 0;
}
