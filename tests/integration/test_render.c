/* /metrics work follows demand: vmstatd_render_total{format,encoding} stays 0 while nobody
 * scrapes, counts exactly one render per sample and variant under repeated scrapes, and
 * requests that arrive together for a fresh sample share one render. The counter is read from
 * the bodies themselves (each counts its own render); new samples are noticed on /vms, which
 * renders no /metrics body. */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon_helper.h"

static const char *const formats[2] = { "text", "openmetrics" }, *const encodings[2] = { "identity", "gzip" };

/* vmstatd_render_total{format=f,encoding=z} in body, -1 if absent */
static long long renders(const char *body, int f, int z) {
        char key[128];
        snprintf(key, sizeof(key), "vmstatd_render_total{format=\"%s\",encoding=\"%s\"} ", formats[f], encodings[z]);
        const char *p = strstr(body, key);
        return p ? strtoll(p + strlen(key), NULL, 10) : -1;
}

static char *sample_time(const char *body) {
        const char *p = strstr(body, "\nvmstatd_sample_timestamp_seconds ");
        ck_assert_msg(p, "no sample timestamp in %.200s", body);
        p += strlen("\nvmstatd_sample_timestamp_seconds ");
        return strndup(p, strcspn(p, "\n"));
}

/* GET /metrics in format f, gzip-encoded when z (then decoded here) */
static struct test_response scrape(const struct test_daemon *d, int f, int z) {
        char path[64];
        snprintf(path, sizeof(path), "/metrics?format=%s", formats[f]);
        const char *gz[] = { "Accept-Encoding: gzip", NULL };
        struct test_response r = test_http(d, "GET", path, z ? gz : NULL);
        ck_assert_int_eq(r.status, 200);
        char *enc = test_header(&r, "Content-Encoding");
        ck_assert_msg(z ? enc && strcmp(enc, "gzip") == 0 : enc == NULL, "Content-Encoding %s", enc ? enc : "none");
        free(enc);
        if (z) {
                char *plain = test_gunzip(r.body, r.len, &r.len);
                free(r.body);
                r.body = plain;
        }
        return r;
}

/* the sample time /vms reports (a JSON route: no /metrics render) */
static char *json_sample_time(const struct test_daemon *d) {
        json_t *vms = test_get_json(d, "/vms");
        ck_assert_ptr_nonnull(vms);
        const char *t = json_string_value(json_object_get(vms, "sample_time"));
        ck_assert_ptr_nonnull(t);
        char *copy = strdup(t);
        json_decref(vms);
        return copy;
}

static void wait_new_sample(const struct test_daemon *d) {
        char *first = json_sample_time(d);
        for (int i = 0; i < 200; i++) {
                char *now = json_sample_time(d);
                bool moved = strcmp(now, first) != 0;
                free(now);
                if (moved) {
                        free(first);
                        return;
                }
                test_sleep_ms(10);
        }
        ck_abort_msg("no new sample within 2 s");
}

START_TEST(no_render_without_a_scrape) {
        struct test_daemon d;
        const char *const args[] = { "--no-config", NULL };
        if (!test_daemon_start(&d, args))
                return;
        for (int i = 0; i < 5; i++) /* five samples (200 ms each) that nobody scrapes */
                wait_new_sample(&d);
        struct test_response r = scrape(&d, 0, 0);
        for (int f = 0; f < 2; f++)
                for (int z = 0; z < 2; z++)
                        ck_assert_msg(renders(r.body, f, z) == (f == 0 && z == 0),
                                      "after 5 samples nobody scraped, then one text scrape: %s/%s rendered %lld times",
                                      formats[f], encodings[z], renders(r.body, f, z));
        test_response_free(&r);
        test_daemon_stop(&d);
}
END_TEST

/* The sample times one variant's scrapes saw, each once. */
struct seen {
        char *time[256];
        unsigned n;
};

static bool seen_has(const struct seen *s, const char *t) {
        for (unsigned i = 0; i < s->n; i++)
                if (strcmp(s->time[i], t) == 0)
                        return true;
        return false;
}

static void seen_add(struct seen *s, const char *t) {
        if (!seen_has(s, t) && s->n < 256)
                s->time[s->n++] = strdup(t);
}

/* Every variant, scraped in turn for ~3 s (about 15 samples): each sample's body of a variant
 * is rendered once, whoever asks. An identity body shows the counts as of its own render,
 * itself included, so a later identity body of the same sample shows the same count; a gzip
 * body is that body compressed. At the end a fresh sample's text body holds the totals:
 * identity renders = samples any scrape of that format saw, gzip = samples its gzip scrapes
 * saw. */
START_TEST(one_render_per_sample_and_variant) {
        struct test_daemon d;
        const char *const args[] = { "--no-config", NULL };
        if (!test_daemon_start(&d, args))
                return;
        static struct seen seen[2][2], any[2]; /* zeroed; static: 8 KiB */
        long long scrapes = 0;
        char *last_time[2] = { NULL, NULL };
        long long last_count[2] = { 0, 0 };
        for (uint64_t end = test_now_ms() + 3000; test_now_ms() < end; scrapes++) {
                int f = (int) (scrapes % 4) / 2, z = (int) scrapes % 2;
                struct test_response r = scrape(&d, f, z);
                char *t = sample_time(r.body);
                long long n = renders(r.body, f, 0);
                if (last_time[f] && strcmp(t, last_time[f]) == 0)
                        ck_assert_msg(n == last_count[f], "%s: sample %s rendered again (%lld, then %lld)", formats[f], t,
                                      last_count[f], n);
                else
                        ck_assert_msg(n == (long long) any[f].n + !seen_has(&any[f], t),
                                      "%s: sample %s shows %lld identity renders; %u samples seen before", formats[f], t, n,
                                      any[f].n);
                seen_add(&seen[f][z], t);
                seen_add(&any[f], t);
                free(last_time[f]);
                last_time[f] = t;
                last_count[f] = n;
                test_response_free(&r);
        }
        wait_new_sample(&d);
        struct test_response r = scrape(&d, 0, 0);
        fprintf(stderr, "test_render: %lld scrapes; samples seen: text %u (gzip %u), openmetrics %u (gzip %u)\n", scrapes,
                any[0].n, seen[0][1].n, any[1].n, seen[1][1].n);
        ck_assert_int_eq(renders(r.body, 0, 0), any[0].n + 1);
        ck_assert_int_eq(renders(r.body, 0, 1), seen[0][1].n);
        ck_assert_int_eq(renders(r.body, 1, 0), any[1].n);
        ck_assert_int_eq(renders(r.body, 1, 1), seen[1][1].n);
        test_response_free(&r);
        for (int f = 0; f < 2; f++) {
                ck_assert_msg(seen[f][1].n >= 5, "%s gzip: only %u samples seen in 3 s", formats[f], seen[f][1].n);
                free(last_time[f]);
                for (int z = 0; z < 2; z++)
                        for (unsigned i = 0; i < seen[f][z].n; i++)
                                free(seen[f][z].time[i]);
                for (unsigned i = 0; i < any[f].n; i++)
                        free(any[f].time[i]);
        }
        test_daemon_stop(&d);
}
END_TEST

struct racer {
        const struct test_daemon *d;
        pthread_barrier_t *go;
        long long count;
        char *time;
        size_t len;
};

static void *race(void *arg) {
        struct racer *x = arg;
        CURL *c = curl_easy_init();
        char url[128];
        snprintf(url, sizeof(url), "%s/metrics?format=text", x->d->base);
        FILE *body = open_memstream(&x->time, &x->len);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
        pthread_barrier_wait(x->go);
        CURLcode e = curl_easy_perform(c);
        fclose(body);
        curl_easy_cleanup(c);
        x->count = e == CURLE_OK ? renders(x->time, 0, 0) : -2;
        return NULL;
}

/* Eight scrapers released together on a sample nobody has scraped, ten times: each round
 * renders once, and all eight get that render's bytes. The body is big enough (16 vCPUs)
 * that its render takes a while and the daemon's threads meet on it. */
START_TEST(concurrent_first_scrapes_share_one_render) {
        struct test_daemon d;
        char *dir = test_config_dir();
        test_write_vm(dir, "wide", "[vm]\nvcpus = 16\nmemory = 16M\nguest = builtin:halt\n");
        const char *const args[] = { "--config", dir, "--interval", "1s", NULL }; /* no sample lands mid-round */
        if (!test_daemon_start(&d, args))
                return;
        long long before = 0;
        for (int round = 0; round < 10; round++) {
                enum { N = 8 };
                struct racer x[N];
                pthread_t t[N];
                pthread_barrier_t go;
                pthread_barrier_init(&go, NULL, N);
                wait_new_sample(&d);
                for (int i = 0; i < N; i++) {
                        x[i] = (struct racer) { .d = &d, .go = &go };
                        ck_assert_int_eq(pthread_create(&t[i], NULL, race, &x[i]), 0);
                }
                for (int i = 0; i < N; i++)
                        pthread_join(t[i], NULL);
                pthread_barrier_destroy(&go);
                for (int i = 0; i < N; i++) {
                        ck_assert_msg(x[i].count >= 0, "round %d: scraper %d failed", round, i);
                        ck_assert_msg(x[i].len == x[0].len && memcmp(x[i].time, x[0].time, x[0].len) == 0,
                                      "round %d: scrapers 0 and %d got different bodies", round, i);
                }
                /* one render this round (or two, when a sample landed while they ran: then not
                 * every body is the same, which the check above would have caught) */
                ck_assert_msg(x[0].count == before + 1, "round %d: %lld renders after %lld", round, x[0].count, before);
                before = x[0].count;
                for (int i = 0; i < N; i++)
                        free(x[i].time);
        }
        test_daemon_stop(&d);
        free(dir);
}
END_TEST

/* Prometheus asks for gzip: the text body made for it is not kept. A plain scrape of the same
 * sample after it gets the very bytes the gzip one inflates to, and no second render: for each
 * format, in a round between two samples, gzip then plain then gzip again. */
START_TEST(plain_after_gzip_is_the_same_body) {
        struct test_daemon d;
        const char *const args[] = { "--no-config", "--interval", "1s", NULL }; /* no sample lands mid-round */
        if (!test_daemon_start(&d, args))
                return;
        for (int f = 0; f < 2; f++) {
                wait_new_sample(&d);
                struct test_response gz = scrape(&d, f, 1), plain = scrape(&d, f, 0), again = scrape(&d, f, 1);
                char *t_gz = sample_time(gz.body), *t_plain = sample_time(plain.body);
                ck_assert_str_eq(t_gz, t_plain);
                ck_assert_msg(gz.len == plain.len && memcmp(gz.body, plain.body, gz.len) == 0,
                              "%s: the plain body (%zu bytes) is not the gzip one inflated (%zu)", formats[f], plain.len,
                              gz.len);
                ck_assert_msg(again.len == gz.len && memcmp(again.body, gz.body, gz.len) == 0, "%s: gzip changed",
                              formats[f]);
                /* the body shows the counts as its text render saw them: this sample's gzip render
                 * and the plain answer come after; the next sample's body shows what they added */
                long long text = renders(gz.body, f, 0), gzip = renders(gz.body, f, 1);
                free(t_gz);
                free(t_plain);
                test_response_free(&gz);
                test_response_free(&plain);
                test_response_free(&again);
                wait_new_sample(&d);
                struct test_response next = scrape(&d, f, 1);
                ck_assert_int_eq(renders(next.body, f, 0), text + 1); /* the plain answer rendered nothing */
                ck_assert_int_eq(renders(next.body, f, 1), gzip + 1);
                test_response_free(&next);
        }
        test_daemon_stop(&d);
}
END_TEST

int main(void) {
        Suite *s = suite_create("render");
        TCase *tc = tcase_create("render");
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, no_render_without_a_scrape);
        tcase_add_test(tc, one_render_per_sample_and_variant);
        tcase_add_test(tc, concurrent_first_scrapes_share_one_render);
        tcase_add_test(tc, plain_after_gzip_is_the_same_body);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
