/* The inih side of the configuration: files read whole, fed to inih one line per reader call,
 * each key looked up in its section's table. The reader counts the lines (the packaged inih
 * passes no line numbers to the handler), checks section headers (inih reports a section only
 * with its first key, so an empty [typo] would pass) and strips leading blanks (so an indented
 * line is never taken for a continuation of the last value). Every error names the file and
 * the line: "<file>:<line>: <key>: '<value>' <what was expected>". */
#define _GNU_SOURCE
#include "config_table.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_MAX (64 * 1024)

/* ---- messages ---------------------------------------------------------------------------------------- */

/* Values may hold stray control characters (a CR mid-line, a tab); the message stays one line. */
static void one_line(char *s) {
        for (; *s; s++)
                if ((unsigned char) *s < 0x20 || *s == 0x7f)
                        *s = '?';
}

static int failv(struct conf_file *f, const char *key, const char *value, const char *fmt, va_list ap) {
        if (f->err_line)
                return -EINVAL; /* the first error is the one reported */
        size_t n = (size_t) snprintf(f->err, VS_CONF_ERR_LEN, "%s:%u: ", f->name, f->line);
        if (key && n < VS_CONF_ERR_LEN)
                n += (size_t) snprintf(f->err + n, VS_CONF_ERR_LEN - n, "%s: ", key);
        if (value && n < VS_CONF_ERR_LEN)
                n += (size_t) snprintf(f->err + n, VS_CONF_ERR_LEN - n, "'%s' ", value);
        if (n < VS_CONF_ERR_LEN)
                vsnprintf(f->err + n, VS_CONF_ERR_LEN - n, fmt, ap);
        one_line(f->err);
        f->err_line = f->line;
        return -EINVAL;
}

int conf_fail(struct conf_file *f, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int r = failv(f, NULL, NULL, fmt, ap);
        va_end(ap);
        return r;
}

int conf_bad(struct conf_file *f, const char *key, const char *value, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int r = failv(f, key, value, fmt, ap);
        va_end(ap);
        return r;
}

/* A line inih could not parse (no '=', no closing ']'); inih tells only its number. */
static void syntax_error(struct conf_file *f, unsigned line) {
        const char *s = f->text, *end = f->text + f->len;
        for (unsigned l = 1; l < line && s < end; l++) {
                const char *nl = memchr(s, '\n', (size_t) (end - s));
                s = nl ? nl + 1 : end;
        }
        while (s < end && isspace((unsigned char) *s) && *s != '\n')
                s++;
        const char *nl = memchr(s, '\n', (size_t) (end - s));
        int n = (int) ((nl ? nl : end) - s);
        while (n > 0 && isspace((unsigned char) s[n - 1]))
                n--;
        snprintf(f->err, VS_CONF_ERR_LEN, "%s:%u: '%.*s' is not 'key = value' or '[section]'", f->name, line, n, s);
        one_line(f->err);
        f->err_line = line;
}

/* ---- keys -------------------------------------------------------------------------------------------- */

unsigned conf_seen_on(const struct conf_file *f, const char *key) {
        for (size_t i = 0; i < f->n_keys; i++)
                if (strcmp(f->keys[i].key, key) == 0)
                        return f->seen[i];
        return 0;
}

static int unknown_key(struct conf_file *f, const char *name) {
        const char *keys[CONF_MAX_KEYS];
        char expected[256];
        for (size_t i = 0; i < f->n_keys; i++)
                keys[i] = f->keys[i].key;
        conf_join_names(keys, f->n_keys, expected, sizeof(expected));
        return conf_fail(f, "%s: unknown key (expected %s)", name, expected);
}

static int on_pair(void *user, const char *section, const char *name, const char *value) {
        struct conf_file *f = user;
        if (!*name || !value) {
                syntax_error(f, f->line);
                return 0;
        }
        if (!*section)
                return conf_fail(f, "%s: set outside a section (expected [%s] first)", name, f->section), 0;
        for (size_t i = 0; i < f->n_keys; i++) {
                const struct conf_key *k = &f->keys[i];
                if (strcmp(name, k->key) != 0)
                        continue;
                if (f->seen[i] && !k->repeatable)
                        return conf_fail(f, "%s: set twice (first on line %u)", name, f->seen[i]), 0;
                if (!f->seen[i])
                        f->seen[i] = f->line;
                return k->type->parse(f, k, value) == 0;
        }
        return unknown_key(f, name), 0;
}

/* ---- the reader inih calls --------------------------------------------------------------------------- */

/* "[name]" followed by nothing or a comment. */
static bool section_header(const char *s, size_t n, const char **ret_name, size_t *ret_len) {
        const char *close = memchr(s, ']', n);
        if (!close)
                return false;
        for (const char *p = close + 1; p < s + n && *p != ';' && *p != '#'; p++)
                if (!isspace((unsigned char) *p))
                        return false;
        *ret_name = s + 1;
        *ret_len = (size_t) (close - s - 1);
        return true;
}

static char *next_line(char *str, int num, void *stream) {
        struct conf_file *f = stream;
        if (f->err_line || f->pos >= f->len)
                return NULL; /* stop at the first error */
        const char *s = f->text + f->pos, *nl = memchr(s, '\n', f->len - f->pos);
        size_t n = nl ? (size_t) (nl - s) : f->len - f->pos;
        f->pos += n + (nl != NULL);
        f->line++;
        while (n > 0 && isspace((unsigned char) *s))
                s++, n--;
        if (memchr(s, 0, n))
                return conf_fail(f, "contains a NUL byte (not a text file)"), NULL;
        /* comments go as inih would drop them (whole lines; ';' after a blank), so that only the
         * text that counts must fit inih's line buffer */
        if (n && (*s == ';' || *s == '#'))
                n = 0;
        for (size_t i = 1; i < n; i++)
                if (s[i] == ';' && isspace((unsigned char) s[i - 1]))
                        n = i;
        while (n > 0 && isspace((unsigned char) s[n - 1]))
                n--;
        if (n + 2 > (size_t) num)
                return conf_fail(f, "line too long (at most %d characters)", num - 2), NULL;
        const char *name;
        size_t len;
        if (n && s[0] == '[') {
                if (!section_header(s, n, &name, &len)) {
                        syntax_error(f, f->line); /* inih would take "[vm] x" for [vm] */
                        return NULL;
                }
                if (len != strlen(f->section) || memcmp(name, f->section, len) != 0)
                        return conf_fail(f, "[%.*s]: unknown section (expected [%s])", (int) len, name, f->section), NULL;
        }
        memcpy(str, s, n);
        str[n] = '\n';
        str[n + 1] = 0;
        return str;
}

int conf_parse_text(struct conf_file *f) {
        if (f->len >= 3 && memcmp(f->text, "\xef\xbb\xbf", 3) == 0) {
                f->text += 3; /* a UTF-8 BOM, as some editors write */
                f->len -= 3;
        }
        int r = ini_parse_stream(next_line, f, on_pair, f);
        if (r > 0 && (!f->err_line || (unsigned) r < f->err_line))
                syntax_error(f, (unsigned) r);
        if (f->err_line)
                return -EINVAL;
        if (r < 0) {
                snprintf(f->err, VS_CONF_ERR_LEN, "%s: out of memory", f->name);
                return -ENOMEM;
        }
        return 0;
}

/* ---- files ------------------------------------------------------------------------------------------- */

int conf_read_text(int dir_fd, const char *path, char **ret, size_t *ret_len, char *err) {
        struct stat st;
        int fd = openat(dir_fd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK), r = 0;
        if (fd < 0) {
                r = -errno;
                if (r != -ENOENT)
                        snprintf(err, VS_CONF_ERR_LEN, "%s: cannot be read (%s)", path, strerror(-r));
                return r;
        }
        char *buf = NULL;
        size_t len = 0;
        if (fstat(fd, &st) < 0)
                r = -errno;
        else if (!S_ISREG(st.st_mode))
                r = -EISDIR;
        else if (st.st_size > FILE_MAX)
                r = -EFBIG;
        else if (!(buf = malloc((size_t) st.st_size + 1)))
                r = -ENOMEM;
        while (r == 0) {
                ssize_t got = read(fd, buf + len, (size_t) st.st_size + 1 - len);
                if (got < 0 && errno == EINTR)
                        continue;
                if (got < 0)
                        r = -errno;
                else if (got == 0)
                        break;
                else if ((len += (size_t) got) > (size_t) st.st_size)
                        r = -EFBIG; /* grew while we read */
        }
        close(fd);
        if (r == -EISDIR)
                snprintf(err, VS_CONF_ERR_LEN, "%s: is not a regular file", path);
        else if (r == -EFBIG)
                snprintf(err, VS_CONF_ERR_LEN, "%s: is too large (at most %d KiB)", path, FILE_MAX / 1024);
        else if (r < 0)
                snprintf(err, VS_CONF_ERR_LEN, "%s: cannot be read (%s)", path, strerror(-r));
        if (r < 0) {
                free(buf);
                return r;
        }
        *ret = buf;
        *ret_len = len;
        return 0;
}
