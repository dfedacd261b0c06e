/* vmstatctl's formats: values looked up in the server's JSON by a dotted path, and numbers
 * written for a terminal's columns. */
#include <math.h>
#include <string.h>

#include "ctl.h"

json_t *jpath(json_t *o, const char *path) {
        char key[64];
        while (o && *path) {
                size_t n = strcspn(path, ".");
                if (n >= sizeof(key))
                        return NULL;
                memcpy(key, path, n);
                key[n] = 0;
                o = json_object_get(o, key);
                path += n + (path[n] == '.');
        }
        return o;
}

double jnum(json_t *o, const char *path) {
        json_t *v = jpath(o, path);
        return json_is_number(v) ? json_number_value(v) : NAN;
}

const char *jstr(json_t *o, const char *path, const char *dflt) {
        const char *s = json_string_value(jpath(o, path));
        return s ? s : dflt;
}

char *fmt_bytes(char *buf, size_t len, double b) {
        const char *units = "BKMGTP";
        int u = 0;
        if (isnan(b))
                return strcpy(buf, "-");
        while (b >= 1024 && u < 5) {
                b /= 1024;
                u++;
        }
        if (u == 0 || b >= 10 || b == floor(b))
                snprintf(buf, len, "%.0f%c", b, units[u]);
        else
                snprintf(buf, len, "%.1f%c", b, units[u]);
        return buf;
}

char *fmt_uptime(char *buf, size_t len, double s) {
        if (isnan(s) || s < 0)
                return strcpy(buf, "-");
        unsigned long t = (unsigned long) s;
        if (t < 60)
                snprintf(buf, len, "%lus", t);
        else if (t < 3600)
                snprintf(buf, len, "%lum%02lus", t / 60, t % 60);
        else if (t < 86400)
                snprintf(buf, len, "%luh%02lum", t / 3600, t % 3600 / 60);
        else
                snprintf(buf, len, "%lud%02luh", t / 86400, t % 86400 / 3600);
        return buf;
}

char *fmt_rate(char *buf, size_t len, double v) {
        if (isnan(v))
                snprintf(buf, len, "-");
        else if (v < 999999.5)
                snprintf(buf, len, "%.0f", v);
        else if (v < 999.95e6)
                snprintf(buf, len, "%.1fM", v / 1e6);
        else
                snprintf(buf, len, "%.1fG", v / 1e9);
        return buf;
}

char *fmt_pct(char *buf, size_t len, double v) {
        if (isnan(v))
                snprintf(buf, len, "-");
        else
                snprintf(buf, len, "%.2f", v);
        return buf;
}
