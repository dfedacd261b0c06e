/* vmstatd/memory.c: what starting touched and will not use again leaves the process, and nothing
 * the process wrote is lost: a read-only file mapping's pages are no longer resident, a private
 * mapping written to (as relocated data is, then made read-only) keeps its bytes, and so does
 * the heap after its trim. */
#define _GNU_SOURCE
#include <check.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "memory.h"
#include "tests/suite.h"

#define SIZE (2u << 20)

/* resident KiB of the mapping that starts at addr, from /proc/self/smaps */
static unsigned long rss_kib(const void *addr) {
        FILE *f = fopen("/proc/self/smaps", "re");
        ck_assert_ptr_nonnull(f);
        char line[512];
        bool in = false;
        unsigned long kb = 0, found = ~0ul;
        while (fgets(line, sizeof(line), f)) {
                unsigned long a, b;
                if (sscanf(line, "%lx-%lx ", &a, &b) == 2 && strchr(line, ' ') == line + strcspn(line, " "))
                        in = a == (uintptr_t) addr;
                else if (in && sscanf(line, "Rss: %lu kB", &kb) == 1)
                        found = kb, in = false;
        }
        fclose(f);
        ck_assert_msg(found != ~0ul, "no mapping at %p in smaps", addr);
        return found;
}

/* a file of SIZE bytes, written and synced (its page-cache pages clean); -1 after a SKIP */
static int data_file(void) {
        char *dir = test_mkdtemp("memory"), path[256];
        struct statfs fs;
        ck_assert_int_eq(statfs(dir, &fs), 0);
        if (fs.f_type == TMPFS_MAGIC) {
                free(dir);
                test_skip("the test directory is on tmpfs, whose pages only swap could take");
                return -1;
        }
        snprintf(path, sizeof(path), "%s/data", dir);
        free(dir);
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        ck_assert_int_ge(fd, 0);
        char *chunk = malloc(SIZE);
        for (unsigned i = 0; i < SIZE; i++)
                chunk[i] = (char) (i * 7 + i / 4096);
        ck_assert_int_eq(write(fd, chunk, SIZE), (ssize_t) SIZE);
        ck_assert_int_eq(fsync(fd), 0);
        free(chunk);
        return fd;
}

START_TEST(read_only_file_pages_leave_written_bytes_stay) {
        int fd = data_file();
        if (fd < 0)
                return;
        volatile const char *ro = mmap(NULL, SIZE, PROT_READ, MAP_PRIVATE, fd, 0);
        char *relro = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
        ck_assert_ptr_ne((void *) ro, MAP_FAILED);
        ck_assert_ptr_ne(relro, MAP_FAILED);
        unsigned sum = 0;
        for (unsigned i = 0; i < SIZE; i += 4096)
                sum += (unsigned char) ro[i];
        (void) sum;
        for (unsigned i = 0; i < SIZE; i += 4096) /* every page copied on write, then read-only */
                relro[i] = (char) ~relro[i];
        ck_assert_int_eq(mprotect(relro, SIZE, PROT_READ), 0);
        char *heap = malloc(1000);
        memset(heap, 0x5a, 1000);
        ck_assert_uint_ge(rss_kib((const void *) ro), SIZE / 1024 - 64);

        vs_memory_give_back();

        ck_assert_msg(rss_kib((const void *) ro) <= 64, "a read-only file mapping keeps %lu KiB resident",
                      rss_kib((const void *) ro));
        unsigned bad_ro = 0, bad_relro = 0, bad_heap = 0;
        for (unsigned i = 0; i < SIZE; i++) {
                char want = (char) (i * 7 + i / 4096);
                bad_ro += ro[i] != want;
                bad_relro += relro[i] != (i % 4096 ? want : (char) ~want);
        }
        for (unsigned i = 0; i < 1000; i++)
                bad_heap += heap[i] != 0x5a;
        ck_assert_uint_eq(bad_ro, 0);
        ck_assert_uint_eq(bad_relro, 0);
        ck_assert_uint_eq(bad_heap, 0);
        free(heap);
        munmap((void *) ro, SIZE);
        munmap(relro, SIZE);
        close(fd);
}
END_TEST

int main(void) {
        Suite *s = suite_create("memory");
        TCase *tc = tcase_create("give back");
        tcase_add_test(tc, read_only_file_pages_leave_written_bytes_stay);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
