/* Layout arithmetic and checks for the memfd a VM shares with its watcher (shm.h). */
#include "shm.h"

#include <errno.h>

#define PAGE 4096ull

static uint64_t align_up(uint64_t v, uint64_t a) {
        return (v + a - 1) / a * a;
}

size_t hv_shm_size(unsigned n_vcpus, size_t console_size, uint64_t *ret_vcpu_off, uint64_t *ret_console_off,
                   uint64_t *ret_watch_off) {
        uint64_t vcpu_off = align_up(sizeof(struct hv_shm), 64);
        uint64_t console_off = align_up(vcpu_off + (uint64_t) n_vcpus * sizeof(struct hv_shm_vcpu), 64);
        uint64_t watch_off = align_up(console_off + (uint64_t) console_size * sizeof(uint32_t), PAGE);
        *ret_vcpu_off = vcpu_off;
        *ret_console_off = console_off;
        *ret_watch_off = watch_off;
        return (size_t) (watch_off + sizeof(struct hv_shm_watch));
}

int hv_shm_check(const struct hv_shm *sh, uint64_t fd_size) {
        uint64_t vcpu_off, console_off, watch_off;
        if (fd_size < sizeof(sh->magic) + sizeof(sh->version) || sh->magic != HV_SHM_MAGIC ||
            sh->version != HV_SHM_VERSION)
                return -EPROTO;
        if (fd_size < sizeof(*sh) || sh->n_vcpus < 1 || sh->n_vcpus > 1024 || sh->console_size == 0 ||
            (sh->console_size & (sh->console_size - 1)) || sh->console_size > (1u << 30))
                return -EBADMSG;
        size_t size = hv_shm_size(sh->n_vcpus, sh->console_size, &vcpu_off, &console_off, &watch_off);
        if (sh->size != size || fd_size < size || sh->vcpu_off != vcpu_off || sh->console_off != console_off ||
            sh->watch_off != watch_off || sh->name[sizeof(sh->name) - 1] || sh->spec[sizeof(sh->spec) - 1])
                return -EBADMSG;
        return 0;
}
