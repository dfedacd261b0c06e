/* Layout arithmetic and checks for the memfd a VM shares with its watcher (shm.h). */
#include "shm.h"

#include <errno.h>

#define PAGE 4096ull

static uint64_t align_up(uint64_t v, uint64_t a) {
        return (v + a - 1) / a * a;
}

size_t hv_shm_size(unsigned n_vcpus, size_t console_size, struct hv_shm_layout *ret) {
        ret->vcpu_off = align_up(sizeof(struct hv_shm), PAGE);
        ret->hist_off = align_up(ret->vcpu_off + (uint64_t) n_vcpus * sizeof(struct hv_shm_vcpu), PAGE);
        ret->console_off = align_up(ret->hist_off + (uint64_t) n_vcpus * sizeof(struct hv_vcpu_hist), 64);
        ret->watch_off = align_up(ret->console_off + (uint64_t) console_size * sizeof(uint32_t), PAGE);
        return (size_t) (ret->watch_off + sizeof(struct hv_shm_watch));
}

int hv_shm_check(const struct hv_shm *sh, uint64_t fd_size) {
        struct hv_shm_layout l;
        if (fd_size < sizeof(sh->magic) + sizeof(sh->version) || sh->magic != HV_SHM_MAGIC ||
            sh->version != HV_SHM_VERSION)
                return -EPROTO;
        if (fd_size < sizeof(*sh) || sh->n_vcpus < 1 || sh->n_vcpus > 1024 || sh->console_size == 0 ||
            (sh->console_size & (sh->console_size - 1)) || sh->console_size > (1u << 30))
                return -EBADMSG;
        size_t size = hv_shm_size(sh->n_vcpus, sh->console_size, &l);
        if (sh->size != size || fd_size < size || sh->vcpu_off != l.vcpu_off || sh->hist_off != l.hist_off ||
            sh->console_off != l.console_off || sh->watch_off != l.watch_off ||
            sh->name[sizeof(sh->name) - 1]) /* spec, on the header's second page, is compared bounded */
                return -EBADMSG;
        return 0;
}
