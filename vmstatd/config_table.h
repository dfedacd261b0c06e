/* The configuration as data: every key of vmstatd.conf ([daemon]) and of a *.vm file ([vm]) is
 * one row of conf_daemon_keys or conf_vm_keys, {key, type, field, ...}. From the rows come the
 * parsing (config_ini.c looks the key up and calls its type's parser), the "unknown key
 * (expected ...)" message, the summary (config_print.c), which changes restart a VM on
 * reload (vs_vm_conf_equal) and which wait for the daemon's next start (vs_conf_daemon_equal). Internal to vmstatd/config*.c and their unit tests. */
#ifndef VMSTATD_CONFIG_TABLE_H
#define VMSTATD_CONFIG_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"

#define CONF_MAX_KEYS 16

#define KiB 1024ULL
#define MiB (1024 * KiB)
#define GiB (1024 * MiB)
#define NSEC_PER_MSEC 1000000ULL
#define NSEC_PER_SEC 1000000000ULL

struct conf_key;

/* One file being parsed. */
struct conf_file {
        const char *name;             /* basename, for messages */
        const char *section;          /* the one section allowed */
        const struct conf_key *keys;  /* that section's rows */
        size_t n_keys;
        unsigned seen[CONF_MAX_KEYS]; /* line each key was first set on, 0 = not set */
        const char *text;             /* the whole file */
        size_t len, pos;
        unsigned line;                /* of the line last handed to inih */
        unsigned err_line;            /* of the first error, 0 = none yet */
        char *err;                    /* VS_CONF_ERR_LEN bytes */
        void *conf;                   /* the struct vs_conf or struct vs_vm_conf the rows fill */
        bool listen_given;            /* [daemon]: the first listen replaces the default */
        char memory_text[200];        /* [vm]: memory as written, for the Linux minimum checked at the end */
};

/* A kind of value: how it is read into its field, shown in the summary and compared. */
struct conf_type {
        int (*parse)(struct conf_file *f, const struct conf_key *k, const char *value);
        void (*print)(FILE *out, const struct conf_key *k, const void *conf); /* the value alone */
        bool (*equal)(const struct conf_key *k, const void *a, const void *b);
};

struct conf_name {
        const char *name;
        int value; /* enum: the value; flags: the bit */
};

/* Where a [vm] row stands in the VM's summary line. */
enum conf_shown {
        CONF_SHOWN_BARE,    /* the value: "2 vCPUs" */
        CONF_SHOWN_KEYED,   /* "restart=no" */
        CONF_SHOWN_CHANGED, /* "cpus=0-1", only when not the default */
        CONF_SHOWN_LINUX,   /* a line of its own for Linux guests: "  initrd: none" */
        CONF_SHOWN_NOT,     /* in another row's column (kernel is the guest's) */
};

struct conf_key {
        const char *key;
        const struct conf_type *type;
        size_t offset, size;        /* the field in struct vs_conf or struct vs_vm_conf */
        bool repeatable;            /* each line adds (listen, cmdline, allowed_hosts) */
        bool restarts_vm;           /* [vm]: a change restarts the VM on reload */
        bool restarts_daemon;       /* [daemon]: a change takes effect at the next start, not on reload */
        enum conf_shown shown;      /* [vm] */
        /* what the type takes from the row */
        uint64_t min, max;          /* numbers, sizes, durations: the range; paths, text: the longest */
        uint64_t step;              /* sizes: a multiple of this */
        const char *range;          /* the range as messages say it ("8M to 3G") */
        const char *example;        /* "is not a size (e.g. 256M)" */
        const char *what, *what_list; /* names, flags, lists: "a log level", "a list of ..." */
        const struct conf_name *names;
        size_t n_names;
        bool (*valid)(const char *item); /* lists: one item's check */
        size_t count_offset;        /* lists: the size_t that counts the items */
        const char *empty;          /* the summary's word for "" or an empty list */
        const char *yes, *no;       /* booleans in the summary; NULL: yes, no */
        const char *unit;           /* numbers in the summary: " samples" */
};

#define CONF_FIELD(type_, field_) .offset = offsetof(type_, field_), .size = sizeof(((type_ *) 0)->field_)
#define CONF_DAEMON(field_) CONF_FIELD(struct vs_conf, field_)
#define CONF_VM(field_) CONF_FIELD(struct vs_vm_conf, field_)
#define CONF_NAMES(a) .names = (a), .n_names = sizeof(a) / sizeof((a)[0])

extern const struct conf_key conf_daemon_keys[];
extern const size_t conf_n_daemon_keys;
extern const struct conf_key conf_vm_keys[];
extern const size_t conf_n_vm_keys;

/* The generic types (config_value.c). */
extern const struct conf_type conf_uint, conf_size, conf_duration, conf_bool, conf_enum, conf_flags, conf_path,
        conf_regex, conf_cpus, conf_list;
/* For the types of config_keys.c: a field's bytes or its text compared; text (or k->empty) shown. */
bool conf_equal_bytes(const struct conf_key *k, const void *a, const void *b);
bool conf_equal_text(const struct conf_key *k, const void *a, const void *b);
void conf_print_text(FILE *out, const struct conf_key *k, const void *conf);

static inline void *conf_field(const struct conf_key *k, void *conf) {
        return (char *) conf + k->offset;
}

static inline const void *conf_cfield(const struct conf_key *k, const void *conf) {
        return (const char *) conf + k->offset;
}

/* Errors (config_ini.c): "<file>:<line>: <fmt>" and "<file>:<line>: <key>: '<value>' <fmt>";
 * the first error of a file is the one kept. Both return -EINVAL. */
int conf_fail(struct conf_file *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int conf_bad(struct conf_file *f, const char *key, const char *value, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
/* Parses f->text into f->conf with f->keys; -EINVAL (err filled) at the first error. */
int conf_parse_text(struct conf_file *f);
/* Reads dir_fd/path whole. -ENOENT silently (the caller decides); other errors with err filled. */
int conf_read_text(int dir_fd, const char *path, char **ret, size_t *ret_len, char *err);
/* The line the key was first set on in f, 0 = not set. */
unsigned conf_seen_on(const struct conf_file *f, const char *key);

/* Values (config_value.c). */
bool conf_parse_u64(const char *s, uint64_t *ret);
bool conf_parse_port(const char *s, uint64_t *ret);
/* "a, b or c" of n names into buf. */
void conf_join_names(const char *const *names, size_t n, char *buf, size_t size);

/* A VM with nothing set (config.c). */
void conf_vm_defaults(struct vs_vm_conf *vm, const char *name);

#endif
