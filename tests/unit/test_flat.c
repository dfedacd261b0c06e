/* hv/boot/flat.c: malformed images are refused without touching the vCPUs; the built-in image
 * lists every documented guest. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "boot/layout.h"
#include "guests/params.h"
#include "kvm_helper.h"

static const char *const documented[] = { "pio", "mmio", "cpuid", "spin", "idle", "duty", "halt", "triplefault", "demo", "console", "stealoff" };

START_TEST(builtin_names) {
        const char *names[32];
        int n = hv_builtin_names(names, 32);
        ck_assert_int_eq(n, sizeof(documented) / sizeof(documented[0]));
        for (unsigned i = 0; i < sizeof(documented) / sizeof(documented[0]); i++) {
                bool found = false;
                for (int j = 0; j < n; j++)
                        found |= strcmp(names[j], documented[i]) == 0;
                ck_assert_msg(found, "built-in guest %s missing", documented[i]);
        }
}
END_TEST

static size_t image_len(void) {
        return (size_t) (hv_guest_image_end - hv_guest_image);
}

static int boot_mutated(struct hv_kvm *kvm, void (*mutate)(uint8_t *img, size_t *len), const char *entry) {
        struct hv_vm *vm;
        struct hv_vm_config cfg = { .name = "img", .vcpus = 1, .ram_bytes = 16 << 20 };
        ck_assert_int_eq(hv_vm_create(kvm, &cfg, &vm), 0);
        size_t len = image_len();
        uint8_t *img = malloc(len);
        memcpy(img, hv_guest_image, len);
        mutate(img, &len);
        struct hv_guest_params p = { .exit_port = HV_PORT_EXIT };
        int r = hv_boot_flat(vm, img, len, entry, &p);
        free(img);
        hv_vm_destroy(vm);
        return r;
}

static void intact(uint8_t *img, size_t *len) {
        (void) img;
        (void) len;
}
static void bad_magic(uint8_t *img, size_t *len) {
        (void) len;
        img[0] ^= 0xff;
}
static void truncated_header(uint8_t *img, size_t *len) {
        (void) img;
        *len = 10;
}
static void truncated_tables(uint8_t *img, size_t *len) {
        (void) img;
        *len = sizeof(struct hv_image_header) + 8;
}
static void entries_outside(uint8_t *img, size_t *len) {
        (void) len;
        struct hv_image_header *h = (void *) img;
        h->entries_end = h->entries + 1000 * sizeof(struct hv_image_entry);
}
static void ragged_vectors(uint8_t *img, size_t *len) {
        (void) len;
        ((struct hv_image_header *) img)->vectors_end -= 3;
}
static void bad_vector(uint8_t *img, size_t *len) {
        (void) len;
        struct hv_image_header *h = (void *) img;
        ((struct hv_image_vector *) (img + (h->vectors - HV_IMAGE_ADDR)))->vector = 256;
}
static void entry_outside(uint8_t *img, size_t *len) {
        (void) len;
        struct hv_image_header *h = (void *) img;
        struct hv_image_entry *e = (void *) (img + (h->entries - HV_IMAGE_ADDR));
        for (size_t i = 0; i < (h->entries_end - h->entries) / sizeof(*e); i++)
                e[i].addr = 0x1000;
}
static void huge_bss(uint8_t *img, size_t *len) {
        (void) len;
        ((struct hv_image_header *) img)->image_end = 1ull << 40;
}

START_TEST(malformed_images_refused) {
        REQUIRE_KVM(kvm);
        ck_assert_int_eq(boot_mutated(kvm, intact, "pio"), 0);
        ck_assert_int_eq(boot_mutated(kvm, intact, "nosuch"), -ENOENT);
        ck_assert_int_eq(boot_mutated(kvm, intact, "a-name-far-too-long-for-an-entry"), -ENOENT);
        ck_assert_int_eq(boot_mutated(kvm, bad_magic, "pio"), -EINVAL);
        ck_assert_int_eq(boot_mutated(kvm, truncated_header, "pio"), -EINVAL);
        ck_assert_int_eq(boot_mutated(kvm, truncated_tables, "pio"), -EINVAL);
        ck_assert_int_eq(boot_mutated(kvm, entries_outside, "pio"), -EINVAL);
        ck_assert_int_eq(boot_mutated(kvm, ragged_vectors, "pio"), -EINVAL);
        ck_assert_int_eq(boot_mutated(kvm, bad_vector, "pio"), -EINVAL);
        ck_assert_int_eq(boot_mutated(kvm, entry_outside, "pio"), -EINVAL);
        ck_assert_int_eq(boot_mutated(kvm, huge_bss, "pio"), -E2BIG);
        hv_kvm_free(kvm);
}
END_TEST

int main(void) {
        Suite *s = suite_create("flat");
        TCase *tc = tcase_create("flat");
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, builtin_names);
        tcase_add_test(tc, malformed_images_refused);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
