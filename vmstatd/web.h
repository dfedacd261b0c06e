/* The web page and its files, linked into the binary at build time (web_assets.S): the bytes of
 * each asset router.h names. */
#ifndef VMSTATD_WEB_H
#define VMSTATD_WEB_H

#include <stddef.h>

#include "router.h"

struct vs_web_file {
        const unsigned char *data;
        size_t len;
};

/* The bytes of asset a; { NULL, 0 } when a is out of range. */
struct vs_web_file vs_web_file(enum vs_asset a);

#endif
