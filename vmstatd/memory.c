/* Given back once, when the VMs are launched, not after every sample (the pages a sample frees,
 * the next one faults in again: tried, 1.5 us a vCPU a sample):
 * - holes in the heap where launching 256 VMs freed what it used on the way, 1-2 MiB;
 * - read-only pages of the binaries that only starting touched: libmicrohttpd loads and
 *   initializes GnuTLS, p11-kit, nettle and gcrypt (2 MiB at 256 VMs) though vmstatd serves no
 *   TLS. MADV_PAGEOUT leaves where it is a page another process maps too and a dirty one
 *   (relocated data; anonymous memory needs swap); a page touched again comes back from the page
 *   cache or the file. Writable mappings are not asked at all. */
#define _GNU_SOURCE
#include "memory.h"

#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

void vs_memory_give_back(void) {
        malloc_trim(0);
        FILE *maps = fopen("/proc/self/maps", "re");
        if (!maps)
                return;
        char line[512];
        while (fgets(line, sizeof(line), maps)) {
                unsigned long from, to;
                char perms[5];
                /* read-only (r--p, r-xp) private mappings of a file */
                if (sscanf(line, "%lx-%lx %4s", &from, &to, perms) == 3 && perms[1] == '-' && perms[3] == 'p' &&
                    strchr(line, '/'))
                        (void) madvise((void *) from, to - from, MADV_PAGEOUT);
        }
        fclose(maps);
}
