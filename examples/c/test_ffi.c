/*
 * test_ffi.c: the C API tested from C, against a running simulator (deepidv-mock).
 *
 * Usage: test_ffi BASE_URL   (run-tests.sh starts the simulator and passes its URL)
 * The simulator's admin routes (POST /__mock/jobs, POST /__mock/faults, GET /__mock/requests) script and
 * check each case over HTTP.
 *
 * Covers: success paths, every result code a C caller can reach (DEEPIDV_INTERNAL needs a bug: the Rust
 * tests cover the panic boundary), NULL for every pointer parameter, strings that are not UTF-8,
 * _free(NULL), error objects, cancellation, the sans-IO poller over sockets (also saved, freed and resumed),
 * one client shared by several pthreads, and the user-agent suffix as the simulator received it
 * (GET /__mock/requests). Prints "C tests: N passed, M failed" and exits non-zero on any
 * failure.
 */
#include "mini_http.h" /* first: it sets _GNU_SOURCE */

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "deepidv.h"

#define KEY "sk_test_deepidv_sandbox"

static atomic_int passed, failed;
static const char *URL;
/* A TLS simulator (deepidv-mock --tls-self-signed DIR: https://localhost:PORT) and DIR/ca.pem, when given. */
static const char *TLS_URL, *TLS_CA;
static const char BAD_UTF8[] = {(char)0xff, (char)0xfe, 'x', 0};

#define CHECK(cond, ...)                                                          \
    do {                                                                          \
        if (cond) {                                                               \
            atomic_fetch_add(&passed, 1);                                         \
        } else {                                                                  \
            atomic_fetch_add(&failed, 1);                                         \
            fprintf(stderr, "FAIL %s:%d: %s -- ", __FILE__, __LINE__, #cond);     \
            fprintf(stderr, __VA_ARGS__);                                         \
            fputc('\n', stderr);                                                  \
        }                                                                         \
    } while (0)

#define CHECK_RC(got, want) \
    CHECK((got) == (want), "got %s, want %s (%s)", deepidv_result_name(got), deepidv_result_name(want), deepidv_last_error())

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- the simulator's admin routes ---------------------------------------------------------------- */

/* A job on the simulator: outcome JSON ("\"ready\"" or "{\"failed\":\"...\"}") and pending time. */
static void admin_job(const char *outcome, unsigned pending_ms, char *id, size_t id_len) {
    char body[256];
    snprintf(body, sizeof body, "{\"outcome\":%s,\"pendingMs\":%u,\"processingMs\":0}", outcome, pending_ms);
    mh_response r;
    int status = mh_simple(URL, "POST", "/__mock/jobs", body, &r);
    const char *p = status == 201 ? strstr((const char *)r.body, "\"jobId\":\"") : NULL;
    if (!p) {
        fprintf(stderr, "admin: cannot create a job (status %d)\n", status);
        exit(2);
    }
    p += 9;
    snprintf(id, id_len, "%.*s", (int)strcspn(p, "\""), p);
    mh_response_free(&r);
}

/* Queues a fault for one job: `fault` is the JSON form ("\"malformed\"", "{\"status\":503}"...). */
static void admin_fault(const char *job_id, const char *fault, unsigned times) {
    char body[512];
    snprintf(body, sizeof body, "{\"scope\":{\"job\":\"%s\"},\"fault\":%s,\"times\":%u}", job_id, fault, times);
    mh_response r;
    int status = mh_simple(URL, "POST", "/__mock/faults", body, &r);
    if (status != 204) {
        fprintf(stderr, "admin: cannot inject %s (status %d)\n", fault, status);
        exit(2);
    }
    mh_response_free(&r);
}

/* The User-Agent the simulator received with the request for this job (GET /__mock/requests); 0 if none. */
static int admin_user_agent(const char *job_id, char *ua, size_t ua_len) {
    mh_response r;
    int status = mh_simple(URL, "GET", "/__mock/requests", NULL, &r);
    if (status != 200) {
        fprintf(stderr, "admin: cannot read the recorded requests (status %d)\n", status);
        exit(2);
    }
    /* [{"method":…,"path":…,"headers":[[name,value]…],"body":…,"status":…}…]: this job's object */
    char path[256];
    snprintf(path, sizeof path, "\"path\":\"/v1/async-jobs/%s\"", job_id);
    const char *p = strstr((const char *)r.body, path);
    const char *end = p ? strstr(p, "\"status\":") : NULL;
    const char *h = p ? strstr(p, "[\"user-agent\",\"") : NULL;
    int found = h && end && h < end;
    if (found) {
        h += strlen("[\"user-agent\",\"");
        snprintf(ua, ua_len, "%.*s", (int)strcspn(h, "\""), h);
    }
    mh_response_free(&r);
    return found;
}

static void admin_clear_faults(void) {
    mh_response r;
    if (mh_simple(URL, "DELETE", "/__mock/faults", NULL, &r) >= 0) mh_response_free(&r);
}

/* ---- helpers ------------------------------------------------------------------------------------- */

static deepidv_client_options *fast_options(void) {
    deepidv_client_options *o = deepidv_client_options_new();
    CHECK_RC(deepidv_client_options_set_poll_interval_ms(o, 20), DEEPIDV_OK);
    CHECK_RC(deepidv_client_options_set_max_poll_interval_ms(o, 40), DEEPIDV_OK);
    CHECK_RC(deepidv_client_options_set_retry_backoff_ms(o, 5), DEEPIDV_OK);
    CHECK_RC(deepidv_client_options_set_max_retry_backoff_ms(o, 20), DEEPIDV_OK);
    CHECK_RC(deepidv_client_options_set_request_timeout_ms(o, 3000), DEEPIDV_OK);
    CHECK_RC(deepidv_client_options_set_connect_timeout_ms(o, 1000), DEEPIDV_OK);
    CHECK_RC(deepidv_client_options_set_max_retries(o, 2), DEEPIDV_OK);
    CHECK_RC(deepidv_client_options_set_wait_max_failures(o, 3), DEEPIDV_OK);
    CHECK_RC(deepidv_client_options_set_wait_timeout_ms(o, 10000), DEEPIDV_OK);
    CHECK_RC(deepidv_client_options_set_max_body_bytes(o, 1 << 20), DEEPIDV_OK);
    return o;
}

static deepidv_client *make_client(const char *key) {
    deepidv_client_options *o = fast_options();
    deepidv_client *c = NULL;
    deepidv_error *err = NULL;
    deepidv_result rc = deepidv_client_new_with_options(key, URL, o, &c, &err);
    deepidv_client_options_free(o);
    CHECK_RC(rc, DEEPIDV_OK);
    CHECK(err == NULL, "no error object on success");
    if (!c) exit(2);
    return c;
}

/* ---- tests --------------------------------------------------------------------------------------- */

static void test_version(void) {
    CHECK(strlen(deepidv_version()) > 0, "version %s", deepidv_version());
    CHECK(strcmp(deepidv_result_name(DEEPIDV_NOT_FOUND), "DEEPIDV_NOT_FOUND") == 0, "name");
    CHECK(strcmp(deepidv_result_name(1234), "DEEPIDV_UNKNOWN_RESULT") == 0, "unknown name");
    CHECK(DEEPIDV_OK == 0 && DEEPIDV_JOB_FAILED == 1 && DEEPIDV_INVALID_ARGUMENT == 2 && DEEPIDV_TIMEOUT == 3 &&
              DEEPIDV_NOT_FOUND == 4 && DEEPIDV_UNAUTHORIZED == 5 && DEEPIDV_REJECTED == 6 &&
              DEEPIDV_UNAVAILABLE == 7 && DEEPIDV_INVALID_RESPONSE == 8 && DEEPIDV_INTERNAL == 9,
          "result numbers are the contract's");
    CHECK(sizeof(deepidv_result) == 4, "deepidv_result is 32 bits");
}

static void *fresh_thread_last_error(void *arg) {
    (void)arg;
    const char *e = deepidv_last_error();
    CHECK(e != NULL && e[0] == '\0', "a fresh thread has no last error: %s", e ? e : "(null)");
    return NULL;
}

static void test_last_error_is_per_thread(void) {
    deepidv_client *c = (deepidv_client *)1;
    CHECK_RC(deepidv_client_new(NULL, URL, &c), DEEPIDV_INVALID_ARGUMENT);
    CHECK(strlen(deepidv_last_error()) > 0, "this thread has a message");
    pthread_t t;
    pthread_create(&t, NULL, fresh_thread_last_error, NULL);
    pthread_join(t, NULL);
}

static void test_success(void) {
    deepidv_client *c = make_client(KEY);
    char id[128];
    admin_job("\"ready\"", 0, id, sizeof id);

    deepidv_job *job = NULL;
    CHECK_RC(deepidv_client_get_job(c, id, &job), DEEPIDV_OK);
    CHECK(deepidv_job_get_status(job) == DEEPIDV_STATUS_READY, "status %d", deepidv_job_get_status(job));
    CHECK(strcmp(deepidv_job_get_id(job), id) == 0, "id %s", deepidv_job_get_id(job));
    CHECK(strcmp(deepidv_job_get_status_text(job), "ready") == 0, "status text");
    CHECK(deepidv_job_get_result_json(job) && strstr(deepidv_job_get_result_json(job), "\"riskScore\""), "result");
    CHECK(deepidv_job_get_error(job) == NULL, "no error on a ready job");
    CHECK(deepidv_job_get_created_at_ms(job) > 1600000000000LL, "created at %lld",
          (long long)deepidv_job_get_created_at_ms(job));
    CHECK(deepidv_job_get_updated_at(job) != NULL, "updatedAt");
    CHECK(strstr(deepidv_job_get_json(job), id) != NULL, "json has the id");
    deepidv_job_free(job);

    admin_job("\"ready\"", 150, id, sizeof id);
    job = NULL;
    CHECK_RC(deepidv_client_get_job(c, id, &job), DEEPIDV_OK);
    CHECK(deepidv_job_get_status(job) == DEEPIDV_STATUS_PENDING, "pending first");
    CHECK(deepidv_job_get_result_json(job) == NULL, "no result while pending");
    deepidv_job_free(job);
    uint64_t t0 = now_ms();
    CHECK_RC(deepidv_client_wait_job(c, id, 5000, &job), DEEPIDV_OK);
    CHECK(deepidv_job_get_status(job) == DEEPIDV_STATUS_READY, "ready after the wait");
    CHECK(now_ms() - t0 < 3000, "waited %llu ms", (unsigned long long)(now_ms() - t0));
    deepidv_job_free(job);

    /* screening creation, idempotent replay, then wait */
    char *a = NULL, *b = NULL;
    deepidv_error *err = NULL;
    CHECK_RC(deepidv_client_create_adverse_media(c, "Grace", "Hopper", "grace@example.com", "1906-12-09", "us",
                                                 "c-test-key-1", &a, &err),
             DEEPIDV_OK);
    CHECK_RC(deepidv_client_create_adverse_media(c, "Grace", "Hopper", "grace@example.com", "1906-12-09", "us",
                                                 "c-test-key-1", &b, &err),
             DEEPIDV_OK);
    CHECK(a && b && strcmp(a, b) == 0, "same idempotency key, same job: %s %s", a, b);
    job = NULL;
    CHECK_RC(deepidv_client_wait_job(c, a, 0, &job), DEEPIDV_OK);
    CHECK(job && deepidv_job_get_result_json(job), "screening result");
    deepidv_job_free(job);
    deepidv_string_free(a);
    deepidv_string_free(b);
    deepidv_client_free(c);
}

static void test_every_result_code(void) {
    deepidv_client *c = make_client(KEY);
    char id[128];
    deepidv_job *job;
    deepidv_error *err;

    /* JOB_FAILED: the failed job is still handed out */
    admin_job("{\"failed\":\"document could not be read\"}", 30, id, sizeof id);
    job = NULL;
    err = NULL;
    CHECK_RC(deepidv_client_wait_job_ex(c, id, 5000, NULL, &job, &err), DEEPIDV_JOB_FAILED);
    CHECK(job != NULL, "JOB_FAILED sets *out");
    CHECK(deepidv_job_get_status(job) == DEEPIDV_STATUS_FAILED, "failed status");
    CHECK(job && strcmp(deepidv_job_get_error(job), "document could not be read") == 0, "error %s",
          deepidv_job_get_error(job));
    CHECK(deepidv_job_get_result_json(job) == NULL, "no result on a failed job");
    CHECK(deepidv_error_code(err) == DEEPIDV_JOB_FAILED, "error object code");
    CHECK(strstr(deepidv_error_message(err), "document could not be read") != NULL, "message %s",
          deepidv_error_message(err));
    deepidv_job_free(job);
    deepidv_error_free(err);
    /* the same with the minimum API */
    job = NULL;
    CHECK_RC(deepidv_client_wait_job(c, id, 5000, &job), DEEPIDV_JOB_FAILED);
    CHECK(job != NULL && strstr(deepidv_last_error(), "failed") != NULL, "last error %s", deepidv_last_error());
    deepidv_job_free(job);

    /* INVALID_ARGUMENT: a job id that is not one path segment; nothing is sent */
    job = (deepidv_job *)1;
    CHECK_RC(deepidv_client_get_job(c, "../etc/passwd", &job), DEEPIDV_INVALID_ARGUMENT);
    CHECK(job == NULL, "out is NULL on failure");
    deepidv_client *remote = (deepidv_client *)1;
    CHECK_RC(deepidv_client_new(KEY, "http://example.com", &remote), DEEPIDV_INVALID_ARGUMENT);
    CHECK(remote == NULL, "out is NULL");
    CHECK(strstr(deepidv_last_error(), "http") != NULL, "%s", deepidv_last_error());

    /* TIMEOUT */
    admin_job("\"ready\"", 60000, id, sizeof id);
    job = (deepidv_job *)1;
    uint64_t t0 = now_ms();
    CHECK_RC(deepidv_client_wait_job(c, id, 150, &job), DEEPIDV_TIMEOUT);
    CHECK(job == NULL, "out is NULL on timeout");
    CHECK(now_ms() - t0 < 2000, "timed out in %llu ms", (unsigned long long)(now_ms() - t0));
    CHECK(strstr(deepidv_last_error(), "pending") != NULL, "says the last status: %s", deepidv_last_error());

    /* NOT_FOUND */
    job = (deepidv_job *)1;
    err = NULL;
    CHECK_RC(deepidv_client_get_job_ex(c, "job_does_not_exist", NULL, &job, &err), DEEPIDV_NOT_FOUND);
    CHECK(job == NULL, "out is NULL");
    CHECK(deepidv_error_http_status(err) == 404, "status %u", deepidv_error_http_status(err));
    CHECK(deepidv_error_request_id(err) != NULL, "request id");
    CHECK(!deepidv_error_is_expired(err), "never seen: not expired");
    deepidv_error_free(err);

    /* UNAUTHORIZED, and the key never shows up in messages */
    deepidv_client *bad = make_client("sk_test_not_a_real_key_987");
    admin_job("\"ready\"", 0, id, sizeof id);
    job = NULL;
    err = NULL;
    CHECK_RC(deepidv_client_get_job_ex(bad, id, NULL, &job, &err), DEEPIDV_UNAUTHORIZED);
    CHECK(deepidv_error_http_status(err) == 401, "status %u", deepidv_error_http_status(err));
    CHECK(strstr(deepidv_error_message(err), "not_a_real_key") == NULL, "key in message: %s",
          deepidv_error_message(err));
    CHECK(strstr(deepidv_last_error(), "not_a_real_key") == NULL, "key in last error");
    deepidv_error_free(err);
    deepidv_client_free(bad);

    /* REJECTED */
    admin_fault(id, "{\"status\":422}", 1);
    job = NULL;
    CHECK_RC(deepidv_client_get_job(c, id, &job), DEEPIDV_REJECTED);
    CHECK(job == NULL, "out is NULL");

    /* UNAVAILABLE: 503s outlast the retries (2 retries = 3 tries) */
    admin_fault(id, "{\"status\":503,\"body\":\"html\"}", 3);
    err = NULL;
    CHECK_RC(deepidv_client_get_job_ex(c, id, NULL, &job, &err), DEEPIDV_UNAVAILABLE);
    CHECK(deepidv_error_http_status(err) == 503, "status %u", deepidv_error_http_status(err));
    deepidv_error_free(err);
    /* ...but fewer than the retries are absorbed */
    admin_fault(id, "{\"status\":502,\"body\":\"html\"}", 2);
    CHECK_RC(deepidv_client_get_job(c, id, &job), DEEPIDV_OK);
    deepidv_job_free(job);
    /* a dropped connection is transient too */
    admin_fault(id, "\"drop\"", 1);
    CHECK_RC(deepidv_client_get_job(c, id, &job), DEEPIDV_OK);
    deepidv_job_free(job);
    /* 429 with Retry-After is honoured, then it works */
    admin_fault(id, "{\"rateLimit\":{\"seconds\":1}}", 1);
    t0 = now_ms();
    CHECK_RC(deepidv_client_get_job(c, id, &job), DEEPIDV_OK);
    CHECK(now_ms() - t0 >= 900, "waited %llu ms for Retry-After", (unsigned long long)(now_ms() - t0));
    deepidv_job_free(job);

    /* INVALID_RESPONSE */
    admin_fault(id, "\"malformed\"", 1);
    CHECK_RC(deepidv_client_get_job(c, id, &job), DEEPIDV_INVALID_RESPONSE);
    admin_fault(id, "\"wrongShape\"", 1);
    CHECK_RC(deepidv_client_get_job(c, id, &job), DEEPIDV_INVALID_RESPONSE);
    admin_fault(id, "{\"oversized\":2000000}", 1); /* over this client's 1 MiB cap */
    CHECK_RC(deepidv_client_get_job(c, id, &job), DEEPIDV_INVALID_RESPONSE);
    CHECK(job == NULL, "out is NULL");

    /* an unknown status is not terminal, and is reported as UNKNOWN with its spelling */
    admin_fault(id, "{\"unknownStatus\":\"on_hold\"}", 1);
    CHECK_RC(deepidv_client_get_job(c, id, &job), DEEPIDV_OK);
    CHECK(deepidv_job_get_status(job) == DEEPIDV_STATUS_UNKNOWN, "unknown");
    CHECK(strcmp(deepidv_job_get_status_text(job), "on_hold") == 0, "%s", deepidv_job_get_status_text(job));
    deepidv_job_free(job);

    /* NOT_FOUND for a job that expired during a wait: see test_expired */

    /* INTERNAL: only a bug (a panic) produces it; the Rust tests cover that boundary. */
    admin_clear_faults();
    deepidv_client_free(c);
}

struct expire_arg {
    char path[256];
};

static void *expire_later(void *p) {
    struct expire_arg *a = p;
    struct timespec ts = {0, 120 * 1000000L};
    nanosleep(&ts, NULL);
    mh_response r;
    int status = mh_simple(URL, "POST", a->path, NULL, &r);
    CHECK(status == 204, "expire answered %d", status);
    if (status >= 0) mh_response_free(&r);
    return NULL;
}

static void test_expired(void) {
    deepidv_client *c = make_client(KEY);
    char id[128];
    admin_job("\"ready\"", 60000, id, sizeof id);
    struct expire_arg a;
    snprintf(a.path, sizeof a.path, "/__mock/jobs/%s/expire", id);
    pthread_t t;
    pthread_create(&t, NULL, expire_later, &a);
    deepidv_job *job = (deepidv_job *)1;
    deepidv_error *err = NULL;
    CHECK_RC(deepidv_client_wait_job_ex(c, id, 5000, NULL, &job, &err), DEEPIDV_NOT_FOUND);
    pthread_join(t, NULL);
    CHECK(job == NULL, "out is NULL");
    CHECK(deepidv_error_is_expired(err), "expired: %s", deepidv_error_message(err));
    CHECK(strstr(deepidv_error_message(err), "expired") != NULL, "%s", deepidv_error_message(err));
    deepidv_error_free(err);
    deepidv_client_free(c);
}

static void test_nulls_and_bad_utf8(void) {
    deepidv_client *c = make_client(KEY);
    deepidv_client *cout;
    deepidv_job *job;
    deepidv_error *err;
    char *s;

    /* deepidv_client_new / _with_options */
    cout = (deepidv_client *)1;
    CHECK_RC(deepidv_client_new(NULL, URL, &cout), DEEPIDV_INVALID_ARGUMENT);
    CHECK(cout == NULL, "out NULL");
    CHECK(strcmp(deepidv_last_error(), "api_key is NULL") == 0, "%s", deepidv_last_error());
    CHECK_RC(deepidv_client_new(KEY, URL, NULL), DEEPIDV_INVALID_ARGUMENT);
    CHECK_RC(deepidv_client_new(BAD_UTF8, URL, &cout), DEEPIDV_INVALID_ARGUMENT);
    CHECK(strcmp(deepidv_last_error(), "api_key is not valid UTF-8") == 0, "%s", deepidv_last_error());
    CHECK_RC(deepidv_client_new(KEY, BAD_UTF8, &cout), DEEPIDV_INVALID_ARGUMENT);
    CHECK_RC(deepidv_client_new("", URL, &cout), DEEPIDV_INVALID_ARGUMENT);
    CHECK_RC(deepidv_client_new(KEY, "not a url", &cout), DEEPIDV_INVALID_ARGUMENT);
    err = (deepidv_error *)1;
    CHECK_RC(deepidv_client_new_with_options(NULL, NULL, NULL, &cout, &err), DEEPIDV_INVALID_ARGUMENT);
    CHECK(err != NULL && deepidv_error_code(err) == DEEPIDV_INVALID_ARGUMENT, "error object");
    deepidv_error_free(err);
    CHECK_RC(deepidv_client_new_with_options(KEY, URL, NULL, NULL, NULL), DEEPIDV_INVALID_ARGUMENT);
    /* NULL base URL means the default (https), and NULL options the defaults */
    CHECK_RC(deepidv_client_new_with_options(KEY, NULL, NULL, &cout, NULL), DEEPIDV_OK);
    deepidv_client_free(cout);

    /* get / wait */
    job = (deepidv_job *)1;
    CHECK_RC(deepidv_client_get_job(NULL, "job_x", &job), DEEPIDV_INVALID_ARGUMENT);
    CHECK(job == NULL, "out NULL");
    CHECK_RC(deepidv_client_get_job(c, NULL, &job), DEEPIDV_INVALID_ARGUMENT);
    CHECK_RC(deepidv_client_get_job(c, "job_x", NULL), DEEPIDV_INVALID_ARGUMENT);
    CHECK_RC(deepidv_client_get_job(c, BAD_UTF8, &job), DEEPIDV_INVALID_ARGUMENT);
    CHECK_RC(deepidv_client_get_job(c, "", &job), DEEPIDV_INVALID_ARGUMENT);
    CHECK_RC(deepidv_client_get_job_ex(NULL, "job_x", NULL, &job, NULL), DEEPIDV_INVALID_ARGUMENT);
    CHECK_RC(deepidv_client_get_job_ex(c, NULL, NULL, &job, NULL), DEEPIDV_INVALID_ARGUMENT);
    CHECK_RC(deepidv_client_get_job_ex(c, "job_x", NULL, NULL, NULL), DEEPIDV_INVALID_ARGUMENT);
    CHECK_RC(deepidv_client_wait_job(NULL, "job_x", 10, &job), DEEPIDV_INVALID_ARGUMENT);
    CHECK_RC(deepidv_client_wait_job(c, NULL, 10, &job), DEEPIDV_INVALID_ARGUMENT);
    CHECK_RC(deepidv_client_wait_job(c, "job_x", 10, NULL), DEEPIDV_INVALID_ARGUMENT);
    CHECK_RC(deepidv_client_wait_job(c, BAD_UTF8, 10, &job), DEEPIDV_INVALID_ARGUMENT);
    CHECK(job == NULL, "out NULL");
    CHECK_RC(deepidv_client_wait_job_ex(NULL, "job_x", 10, NULL, &job, NULL), DEEPIDV_INVALID_ARGUMENT);
    CHECK_RC(deepidv_client_wait_job_ex(c, NULL, 10, NULL, &job, NULL), DEEPIDV_INVALID_ARGUMENT);
    CHECK_RC(deepidv_client_wait_job_ex(c, "job_x", 10, NULL, NULL, NULL), DEEPIDV_INVALID_ARGUMENT);

    /* create: each string parameter NULL (country and key may be NULL) and not UTF-8 */
    const char *good[6] = {"Ada", "Lovelace", "ada@example.com", "1815-12-10", "GB", "k1"};
    for (int i = 0; i < 6; i++) {
        for (int mode = 0; mode < 2; mode++) {
            const char *a[6];
            memcpy(a, good, sizeof a);
            a[i] = mode == 0 ? NULL : BAD_UTF8;
            s = (char *)1;
            deepidv_result want = (mode == 0 && i >= 4) ? DEEPIDV_OK : DEEPIDV_INVALID_ARGUMENT;
            CHECK_RC(deepidv_client_create_adverse_media(c, a[0], a[1], a[2], a[3], a[4], a[5], &s, NULL), want);
            CHECK((want == DEEPIDV_OK) == (s != NULL), "out matches the result (param %d, mode %d)", i, mode);
            deepidv_string_free(s);
        }
    }
    CHECK_RC(deepidv_client_create_adverse_media(NULL, "A", "B", "a@b.co", "2000-01-01", NULL, NULL, &s, NULL),
             DEEPIDV_INVALID_ARGUMENT);
    CHECK_RC(deepidv_client_create_adverse_media(c, "A", "B", "a@b.co", "2000-01-01", NULL, NULL, NULL, NULL),
             DEEPIDV_INVALID_ARGUMENT);
    CHECK_RC(deepidv_client_create_adverse_media(c, "A", "B", "not-an-email", "2000-01-01", NULL, NULL, &s, NULL),
             DEEPIDV_INVALID_ARGUMENT);
    CHECK_RC(deepidv_client_create_adverse_media(c, "A", "B", "a@b.co", "2000-02-30", NULL, NULL, &s, NULL),
             DEEPIDV_INVALID_ARGUMENT);

    /* options */
    CHECK_RC(deepidv_client_options_set_request_timeout_ms(NULL, 1), DEEPIDV_INVALID_ARGUMENT);
    CHECK_RC(deepidv_client_options_set_connect_timeout_ms(NULL, 1), DEEPIDV_INVALID_ARGUMENT);
    CHECK_RC(deepidv_client_options_set_poll_interval_ms(NULL, 1), DEEPIDV_INVALID_ARGUMENT);
    CHECK_RC(deepidv_client_options_set_max_poll_interval_ms(NULL, 1), DEEPIDV_INVALID_ARGUMENT);
    CHECK_RC(deepidv_client_options_set_wait_timeout_ms(NULL, 1), DEEPIDV_INVALID_ARGUMENT);
    CHECK_RC(deepidv_client_options_set_retry_backoff_ms(NULL, 1), DEEPIDV_INVALID_ARGUMENT);
    CHECK_RC(deepidv_client_options_set_max_retry_backoff_ms(NULL, 1), DEEPIDV_INVALID_ARGUMENT);
    CHECK_RC(deepidv_client_options_set_max_retries(NULL, 1), DEEPIDV_INVALID_ARGUMENT);
    CHECK_RC(deepidv_client_options_set_wait_max_failures(NULL, 1), DEEPIDV_INVALID_ARGUMENT);
    CHECK_RC(deepidv_client_options_set_max_body_bytes(NULL, 1), DEEPIDV_INVALID_ARGUMENT);
    CHECK_RC(deepidv_client_options_set_allow_insecure_http(NULL, true), DEEPIDV_INVALID_ARGUMENT);
    deepidv_client_options *o = deepidv_client_options_new();
    CHECK_RC(deepidv_client_options_set_request_timeout_ms(o, 0), DEEPIDV_INVALID_ARGUMENT);
    CHECK_RC(deepidv_client_options_set_allow_insecure_http(o, true), DEEPIDV_OK);
    CHECK_RC(deepidv_client_new_with_options(KEY, "http://example.com", o, &cout, NULL), DEEPIDV_OK);
    deepidv_client_free(cout);
    deepidv_client_options_free(o);

    /* accessors on NULL */
    CHECK(deepidv_job_get_status(NULL) == DEEPIDV_STATUS_UNKNOWN, "status of NULL");
    CHECK(deepidv_job_get_id(NULL) == NULL, "id of NULL");
    CHECK(deepidv_job_get_status_text(NULL) == NULL, "status text of NULL");
    CHECK(deepidv_job_get_created_at_ms(NULL) == 0, "created at of NULL");
    CHECK(deepidv_job_get_updated_at(NULL) == NULL, "updated at of NULL");
    CHECK(deepidv_job_get_result_json(NULL) == NULL, "result of NULL");
    CHECK(deepidv_job_get_error(NULL) == NULL, "error of NULL");
    CHECK(deepidv_job_get_json(NULL) == NULL, "json of NULL");
    CHECK(deepidv_error_code(NULL) == DEEPIDV_INVALID_ARGUMENT, "code of NULL");
    CHECK(strcmp(deepidv_error_message(NULL), "") == 0, "message of NULL");
    CHECK(deepidv_error_http_status(NULL) == 0, "status of NULL");
    CHECK(deepidv_error_request_id(NULL) == NULL, "request id of NULL");
    CHECK(!deepidv_error_is_expired(NULL), "expired of NULL");
    CHECK(deepidv_action_get_kind(NULL) == DEEPIDV_ACTION_DONE, "kind of NULL");
    CHECK(deepidv_action_get_wait_ms(NULL) == 0 && deepidv_action_get_wait_until_ms(NULL) == 0 &&
              deepidv_action_get_timeout_ms(NULL) == 0 && deepidv_action_get_max_body_bytes(NULL) == 0 &&
              deepidv_action_get_port(NULL) == 0 &&
              deepidv_action_get_header_count(NULL) == 0,
          "numbers of NULL");
    CHECK(deepidv_action_get_method(NULL) == NULL && deepidv_action_get_url(NULL) == NULL &&
              deepidv_action_get_scheme(NULL) == NULL && deepidv_action_get_host(NULL) == NULL &&
              deepidv_action_get_path(NULL) == NULL && deepidv_action_get_header_name(NULL, 0) == NULL &&
              deepidv_action_get_header_value(NULL, 0) == NULL,
          "strings of NULL");
    size_t len = 7;
    CHECK(deepidv_action_get_body(NULL, &len) == NULL && len == 0, "body of NULL");
    CHECK(deepidv_action_get_body(NULL, NULL) == NULL, "body of NULL, no len");
    CHECK(deepidv_action_get_result(NULL) == DEEPIDV_INVALID_ARGUMENT, "result of NULL");
    CHECK(deepidv_poller_last_status(NULL) == DEEPIDV_STATUS_UNKNOWN, "last status of NULL");

    /* poller with NULLs */
    deepidv_poller *p = (deepidv_poller *)1;
    CHECK_RC(deepidv_poller_new_wait(NULL, URL, "job_x", 0, 1, 0, NULL, &p, NULL), DEEPIDV_INVALID_ARGUMENT);
    CHECK(p == NULL, "out NULL");
    CHECK_RC(deepidv_poller_new_wait(KEY, BAD_UTF8, "job_x", 0, 1, 0, NULL, &p, NULL), DEEPIDV_INVALID_ARGUMENT);
    CHECK_RC(deepidv_poller_new_wait(KEY, URL, NULL, 0, 1, 0, NULL, &p, NULL), DEEPIDV_INVALID_ARGUMENT);
    CHECK_RC(deepidv_poller_new_wait(KEY, URL, BAD_UTF8, 0, 1, 0, NULL, &p, NULL), DEEPIDV_INVALID_ARGUMENT);
    CHECK_RC(deepidv_poller_new_wait(KEY, URL, "job_x", 0, 1, 0, NULL, NULL, NULL), DEEPIDV_INVALID_ARGUMENT);
    CHECK_RC(deepidv_poller_new_get(NULL, URL, "job_x", 0, 1, NULL, &p, NULL), DEEPIDV_INVALID_ARGUMENT);
    CHECK_RC(deepidv_poller_new_get(KEY, URL, "job_x", 0, 1, NULL, NULL, NULL), DEEPIDV_INVALID_ARGUMENT);
    const deepidv_action *act = (const deepidv_action *)1;
    CHECK_RC(deepidv_poller_poll(NULL, 0, &act), DEEPIDV_INVALID_ARGUMENT);
    CHECK(act == NULL, "action out NULL");
    CHECK_RC(deepidv_poller_handle_response(NULL, 0, 200, NULL, NULL, 0, NULL, 0), DEEPIDV_INVALID_ARGUMENT);
    CHECK_RC(deepidv_poller_handle_transport_error(NULL, 0, DEEPIDV_TRANSPORT_IO, NULL), DEEPIDV_INVALID_ARGUMENT);
    CHECK_RC(deepidv_poller_take_job(NULL, &job, NULL), DEEPIDV_INVALID_ARGUMENT);
    CHECK_RC(deepidv_poller_new_get(KEY, URL, "job_x", 0, 1, NULL, &p, NULL), DEEPIDV_OK);
    CHECK_RC(deepidv_poller_poll(p, 0, NULL), DEEPIDV_INVALID_ARGUMENT);
    CHECK_RC(deepidv_poller_take_job(p, NULL, NULL), DEEPIDV_INVALID_ARGUMENT);
    CHECK_RC(deepidv_poller_poll(p, 0, &act), DEEPIDV_OK);
    CHECK(deepidv_action_get_kind(act) == DEEPIDV_ACTION_SEND, "send first");
    CHECK_RC(deepidv_poller_handle_response(p, 0, 200, NULL, NULL, 1, NULL, 0), DEEPIDV_INVALID_ARGUMENT);
    CHECK_RC(deepidv_poller_handle_response(p, 0, 200, NULL, NULL, 0, NULL, 3), DEEPIDV_INVALID_ARGUMENT);
    const char *names[] = {NULL};
    const char *values[] = {"v"};
    CHECK_RC(deepidv_poller_handle_response(p, 0, 200, names, values, 1, NULL, 0), DEEPIDV_INVALID_ARGUMENT);
    const char *badn[] = {"bad name"};
    CHECK_RC(deepidv_poller_handle_response(p, 0, 200, badn, values, 1, NULL, 0), DEEPIDV_INVALID_ARGUMENT);
    CHECK_RC(deepidv_poller_handle_transport_error(p, 0, DEEPIDV_TRANSPORT_IO, BAD_UTF8), DEEPIDV_INVALID_ARGUMENT);
    deepidv_poller_free(p);

    /* cancel with NULLs */
    deepidv_cancel_cancel(NULL);

    /* _free(NULL) is a no-op, for every type */
    deepidv_client_free(NULL);
    deepidv_job_free(NULL);
    deepidv_error_free(NULL);
    deepidv_string_free(NULL);
    deepidv_cancel_free(NULL);
    deepidv_poller_free(NULL);
    deepidv_client_options_free(NULL);
    CHECK(1, "frees of NULL returned");
    deepidv_client_free(c);
}

/* ---- TLS with a private CA -------------------------------------------------------------------------- */

/* One get of a job that does not exist through a client for `url`, trusting `ca` too (NULL: the defaults);
 * the result, with the error object in *err. */
static deepidv_result tls_get(const char *url, const char *ca, deepidv_error **err) {
    deepidv_client_options *o = fast_options();
    if (ca) CHECK_RC(deepidv_client_options_set_ca_file(o, ca), DEEPIDV_OK);
    deepidv_client *c = NULL;
    deepidv_result rc = deepidv_client_new_with_options(KEY, url, o, &c, err);
    deepidv_client_options_free(o);
    if (rc != DEEPIDV_OK) return rc;
    deepidv_job *job = NULL;
    rc = deepidv_client_get_job_ex(c, "job_not_there", NULL, &job, err);
    deepidv_job_free(job);
    deepidv_client_free(c);
    return rc;
}

static void test_tls(void) {
    if (!TLS_URL || !TLS_CA) {
        printf("tls: skipped (no TLS simulator given: test_ffi URL TLS_URL CA_FILE)\n");
        return;
    }
    /* trusted through the CA file: an HTTP answer came back (404, the job does not exist) */
    deepidv_error *err = NULL;
    CHECK_RC(tls_get(TLS_URL, TLS_CA, &err), DEEPIDV_NOT_FOUND);
    CHECK(err && deepidv_error_http_status(err) == 404, "status %u", err ? deepidv_error_http_status(err) : 0);
    deepidv_error_free(err);

    /* trusted through the CA's PEM text (deepidv_client_options_set_ca_pem) */
    {
        FILE *f = fopen(TLS_CA, "rb");
        char pem[16384];
        size_t n = f ? fread(pem, 1, sizeof pem - 1, f) : 0;
        if (f) fclose(f);
        pem[n] = '\0';
        CHECK(n > 0, "read %s", TLS_CA);
        deepidv_client_options *o = fast_options();
        CHECK_RC(deepidv_client_options_set_ca_pem(o, pem), DEEPIDV_OK);
        deepidv_client *c = NULL;
        CHECK_RC(deepidv_client_new_with_options(KEY, TLS_URL, o, &c, NULL), DEEPIDV_OK);
        deepidv_client_options_free(o);
        deepidv_job *job = NULL;
        err = NULL;
        CHECK_RC(deepidv_client_get_job_ex(c, "job_not_there", NULL, &job, &err), DEEPIDV_NOT_FOUND);
        deepidv_error_free(err);
        deepidv_client_free(c);
        /* text with no certificate in it: refused when the client is made */
        o = fast_options();
        CHECK_RC(deepidv_client_options_set_ca_pem(o, "not a certificate"), DEEPIDV_OK);
        CHECK_RC(deepidv_client_options_set_ca_pem(o, NULL), DEEPIDV_INVALID_ARGUMENT);
        c = NULL;
        CHECK_RC(deepidv_client_new_with_options(KEY, TLS_URL, o, &c, NULL), DEEPIDV_INVALID_ARGUMENT);
        CHECK(c == NULL, "no client");
        deepidv_client_options_free(o);
    }

    /* not trusted: UNAVAILABLE, not retried, one line saying what to do */
    err = NULL;
    CHECK_RC(tls_get(TLS_URL, NULL, &err), DEEPIDV_UNAVAILABLE);
    const char *m = err ? deepidv_error_message(err) : "";
    CHECK(strstr(m, "certificate not trusted") && strstr(m, "deepidv_client_options_set_ca_file"), "%s", m);
    CHECK(strstr(m, "--ca-cert") == NULL, "CLI advice to C: %s", m);
    CHECK(strstr(m, "gave up") == NULL, "retried: %s", m);
    CHECK(strchr(m, '\n') == NULL, "one line: %s", m);
    deepidv_error_free(err);

    /* the certificate is for localhost: the same server as 127.0.0.1 is another host */
    char other[256];
    const char *host = strstr(TLS_URL, "localhost");
    CHECK(host != NULL, "TLS URL names localhost: %s", TLS_URL);
    if (host) {
        snprintf(other, sizeof other, "%.*s127.0.0.1%s", (int)(host - TLS_URL), TLS_URL, host + strlen("localhost"));
        err = NULL;
        CHECK_RC(tls_get(other, TLS_CA, &err), DEEPIDV_UNAVAILABLE);
        m = err ? deepidv_error_message(err) : "";
        CHECK(strstr(m, "certificate is for another host") != NULL, "%s", m);
        CHECK(strstr(m, "gave up") == NULL, "retried: %s", m);
        deepidv_error_free(err);
    }

    /* a CA file that is not PEM: INVALID_ARGUMENT naming it, before any request */
    char bad[] = "/tmp/deepidv-not-a-pem-XXXXXX";
    int fd = mkstemp(bad);
    CHECK(fd >= 0, "mkstemp");
    if (fd >= 0) {
        CHECK(write(fd, "not a certificate\n", 18) == 18, "write");
        close(fd);
        err = NULL;
        CHECK_RC(tls_get(TLS_URL, bad, &err), DEEPIDV_INVALID_ARGUMENT);
        m = err ? deepidv_error_message(err) : deepidv_last_error();
        CHECK(strstr(m, bad) != NULL, "file not named: %s", m);
        deepidv_error_free(err);
        unlink(bad);
    }
}

/* ---- cancellation -------------------------------------------------------------------------------- */

static void *cancel_later(void *p) {
    struct timespec ts = {0, 150 * 1000000L};
    nanosleep(&ts, NULL);
    deepidv_cancel_cancel(p);
    return NULL;
}

/* Network options: a bad proxy and a missing CA file are refused before any request, and the proxy
 * password is never shown; NULL means no proxy at all. */
static void test_network_options(void) {
    deepidv_client *cout = NULL;
    CHECK_RC(deepidv_client_options_set_ca_file(NULL, "/x.pem"), DEEPIDV_INVALID_ARGUMENT);
    CHECK_RC(deepidv_client_options_set_proxy(NULL, NULL), DEEPIDV_INVALID_ARGUMENT);
    deepidv_client_options *o = deepidv_client_options_new();
    CHECK_RC(deepidv_client_options_set_proxy(o, "socks5://alice:hunter2@proxy:1080"),
             DEEPIDV_INVALID_ARGUMENT);
    CHECK(strstr(deepidv_last_error(), "hunter2") == NULL, "password shown: %s", deepidv_last_error());
    CHECK_RC(deepidv_client_options_set_proxy(o, NULL), DEEPIDV_OK);
    CHECK_RC(deepidv_client_options_set_ca_file(o, NULL), DEEPIDV_INVALID_ARGUMENT);
    CHECK_RC(deepidv_client_options_set_ca_file(o, "/nonexistent/corp-ca.pem"), DEEPIDV_OK);
    CHECK_RC(deepidv_client_new_with_options(KEY, URL, o, &cout, NULL), DEEPIDV_INVALID_ARGUMENT);
    CHECK(cout == NULL, "no client on failure");
    CHECK(strstr(deepidv_last_error(), "/nonexistent/corp-ca.pem") != NULL, "file not named: %s",
          deepidv_last_error());
    deepidv_client_options_free(o);

    /* deepidv_client_get_proxy: the proxy the library decided on, for a program sending requests itself */
    o = deepidv_client_options_new();
    CHECK_RC(deepidv_client_options_set_proxy(o, "http://alice:hunter2@proxy.corp:3128"), DEEPIDV_OK);
    CHECK_RC(deepidv_client_new_with_options(KEY, "https://api.deepidv.test", o, &cout, NULL), DEEPIDV_OK);
    const char *proxy = deepidv_client_get_proxy(cout);
    CHECK(proxy && strcmp(proxy, "http://alice:hunter2@proxy.corp:3128") == 0, "explicit proxy: %s",
          proxy ? proxy : "(null)");
    CHECK(deepidv_client_get_proxy(cout) == proxy, "the same string while the client lives");
    deepidv_client_free(cout);
    cout = NULL;
    /* loopback is never proxied, even with an explicit proxy */
    CHECK_RC(deepidv_client_new_with_options(KEY, URL, o, &cout, NULL), DEEPIDV_OK);
    CHECK(deepidv_client_get_proxy(cout) == NULL, "loopback proxied: %s", deepidv_client_get_proxy(cout));
    deepidv_client_free(cout);
    cout = NULL;
    deepidv_client_options_free(o);
    /* none set, loopback base URL: direct, whatever the environment says */
    CHECK_RC(deepidv_client_new(KEY, URL, &cout), DEEPIDV_OK);
    CHECK(deepidv_client_get_proxy(cout) == NULL, "no proxy expected: %s", deepidv_client_get_proxy(cout));
    deepidv_client_free(cout);
    CHECK(deepidv_client_get_proxy(NULL) == NULL, "NULL client");
}

/* The user-agent suffix reaches the wire; a bad one is refused with the core's one-line message and the
 * previous one stays; NULL removes it. */
static void test_user_agent_suffix(void) {
    char want[256], got[256] = "", id[128];
    deepidv_job *job = NULL;
    deepidv_client *c = NULL;
    CHECK_RC(deepidv_client_options_set_user_agent_suffix(NULL, "c-test/1.0"), DEEPIDV_INVALID_ARGUMENT);
    CHECK(strcmp(deepidv_last_error(), "opts is NULL") == 0, "%s", deepidv_last_error());
    deepidv_client_options *o = fast_options();
    CHECK_RC(deepidv_client_options_set_user_agent_suffix(o, "c-test/1.0 (linux)"), DEEPIDV_OK);
    CHECK_RC(deepidv_client_options_set_user_agent_suffix(o, "c-test\r\nX-Evil: 1"), DEEPIDV_INVALID_ARGUMENT);
    const char *msg = deepidv_last_error();
    CHECK(strstr(msg, "user-agent suffix") != NULL && strchr(msg, '\n') == NULL && strchr(msg, '\r') == NULL,
          "one line naming the suffix: %s", msg);
    CHECK_RC(deepidv_client_options_set_user_agent_suffix(o, ""), DEEPIDV_INVALID_ARGUMENT);
    CHECK(strstr(deepidv_last_error(), "empty") != NULL, "%s", deepidv_last_error());
    char long_suffix[200];
    memset(long_suffix, 'a', sizeof long_suffix - 1);
    long_suffix[sizeof long_suffix - 1] = '\0';
    CHECK_RC(deepidv_client_options_set_user_agent_suffix(o, long_suffix), DEEPIDV_INVALID_ARGUMENT);
    CHECK(strstr(deepidv_last_error(), "at most 128") != NULL, "%s", deepidv_last_error());
    CHECK_RC(deepidv_client_options_set_user_agent_suffix(o, BAD_UTF8), DEEPIDV_INVALID_ARGUMENT);
    CHECK(strstr(deepidv_last_error(), "UTF-8") != NULL, "%s", deepidv_last_error());

    CHECK_RC(deepidv_client_new_with_options(KEY, URL, o, &c, NULL), DEEPIDV_OK);
    admin_job("\"ready\"", 0, id, sizeof id);
    CHECK_RC(deepidv_client_get_job(c, id, &job), DEEPIDV_OK);
    deepidv_job_free(job);
    deepidv_client_free(c);
    snprintf(want, sizeof want, "deepidv-rust/%s (ffi) c-test/1.0 (linux)", deepidv_version());
    CHECK(admin_user_agent(id, got, sizeof got) && strcmp(got, want) == 0, "the simulator saw \"%s\", want \"%s\"",
          got, want);

    CHECK_RC(deepidv_client_options_set_user_agent_suffix(o, NULL), DEEPIDV_OK);
    c = NULL;
    job = NULL;
    got[0] = '\0';
    CHECK_RC(deepidv_client_new_with_options(KEY, URL, o, &c, NULL), DEEPIDV_OK);
    deepidv_client_options_free(o);
    admin_job("\"ready\"", 0, id, sizeof id);
    CHECK_RC(deepidv_client_get_job(c, id, &job), DEEPIDV_OK);
    deepidv_job_free(job);
    deepidv_client_free(c);
    snprintf(want, sizeof want, "deepidv-rust/%s (ffi)", deepidv_version());
    CHECK(admin_user_agent(id, got, sizeof got) && strcmp(got, want) == 0, "after NULL: \"%s\", want \"%s\"", got,
          want);
}

static void test_cancel(void) {
    deepidv_client *c = make_client(KEY);
    char id[128];
    admin_job("\"ready\"", 60000, id, sizeof id);
    deepidv_cancel *cancel = deepidv_cancel_new();
    pthread_t t;
    pthread_create(&t, NULL, cancel_later, cancel);
    uint64_t t0 = now_ms();
    deepidv_job *job = (deepidv_job *)1;
    deepidv_error *err = NULL;
    CHECK_RC(deepidv_client_wait_job_ex(c, id, 0, cancel, &job, &err), DEEPIDV_TIMEOUT);
    pthread_join(t, NULL);
    CHECK(job == NULL, "out NULL");
    CHECK(now_ms() - t0 < 2000, "cancelled after %llu ms", (unsigned long long)(now_ms() - t0));
    CHECK(strstr(deepidv_error_message(err), "cancelled") != NULL, "%s", deepidv_error_message(err));
    deepidv_error_free(err);
    /* a cancelled handle cancels later calls at once */
    CHECK_RC(deepidv_client_get_job_ex(c, id, cancel, &job, NULL), DEEPIDV_TIMEOUT);
    deepidv_cancel_free(cancel);

    /* a request in flight (its answer delayed 5 s) is interrupted, not waited for */
    admin_job("\"ready\"", 60000, id, sizeof id);
    admin_fault(id, "{\"delayMs\":5000}", 1);
    cancel = deepidv_cancel_new();
    pthread_create(&t, NULL, cancel_later, cancel);
    t0 = now_ms();
    err = NULL;
    CHECK_RC(deepidv_client_wait_job_ex(c, id, 0, cancel, &job, &err), DEEPIDV_TIMEOUT);
    pthread_join(t, NULL);
    CHECK(now_ms() - t0 < 1000, "request in flight not interrupted: %llu ms",
          (unsigned long long)(now_ms() - t0));
    CHECK(strstr(deepidv_error_message(err), "cancelled") != NULL, "%s", deepidv_error_message(err));
    deepidv_error_free(err);
    deepidv_cancel_free(cancel);
    /* a creation in flight too; created again with the same key, it gets its job */
    {
        mh_response r;
        int status = mh_simple(URL, "POST", "/__mock/faults", "{\"scope\":\"all\",\"fault\":{\"delayMs\":5000},\"times\":1}", &r);
        CHECK(status == 204, "fault for all: %d", status);
        if (status >= 0) mh_response_free(&r);
    }
    cancel = deepidv_cancel_new();
    pthread_create(&t, NULL, cancel_later, cancel);
    t0 = now_ms();
    char *created = (char *)1;
    err = NULL;
    CHECK_RC(deepidv_client_create_adverse_media_ex(c, "Ada", "Lovelace", "ada@example.com", "1815-12-10", NULL,
                                                    "cancelled-create-0001", cancel, &created, &err),
             DEEPIDV_TIMEOUT);
    pthread_join(t, NULL);
    CHECK(created == NULL, "no id on cancel");
    CHECK(now_ms() - t0 < 1000, "creation in flight not interrupted: %llu ms", (unsigned long long)(now_ms() - t0));
    CHECK(err && strstr(deepidv_error_message(err), "cancelled") != NULL, "%s", err ? deepidv_error_message(err) : "");
    deepidv_error_free(err);
    deepidv_cancel_free(cancel);
    CHECK_RC(deepidv_client_create_adverse_media_ex(c, "Ada", "Lovelace", "ada@example.com", "1815-12-10", NULL,
                                                    "cancelled-create-0001", NULL, &created, NULL),
             DEEPIDV_OK);
    CHECK(created && strncmp(created, "job_", 4) == 0, "job id %s", created ? created : "(null)");
    deepidv_string_free(created);

    /* and the client goes on with a new connection */
    admin_job("\"ready\"", 0, id, sizeof id);
    CHECK_RC(deepidv_client_wait_job_ex(c, id, 0, NULL, &job, NULL), DEEPIDV_OK);
    deepidv_job_free(job);
    deepidv_client_free(c);
}

/* ---- the sans-IO poller over sockets ------------------------------------------------------------- */

/* Drives a poller over sockets until DONE (returns its result), or, when stop_after >= 0, until the first
 * WAIT after that many requests were answered (returns DEEPIDV_OK with *job untouched). */
static deepidv_result run_poller_until(deepidv_poller *p, deepidv_job **job, int *sends, int stop_after) {
    for (int steps = 0; steps < 10000; steps++) {
        const deepidv_action *a = NULL;
        deepidv_result rc = deepidv_poller_poll(p, now_ms(), &a);
        if (rc != DEEPIDV_OK) return rc;
        if (deepidv_action_get_kind(a) == DEEPIDV_ACTION_WAIT && stop_after >= 0 && *sends >= stop_after)
            return DEEPIDV_OK;
        switch (deepidv_action_get_kind(a)) {
        case DEEPIDV_ACTION_SEND: {
            (*sends)++;
            CHECK(deepidv_action_get_max_body_bytes(a) > 0, "a SEND carries its body cap");
            size_t n = deepidv_action_get_header_count(a);
            const char *names[32], *values[32];
            for (size_t i = 0; i < n && i < 32; i++) {
                names[i] = deepidv_action_get_header_name(a, i);
                values[i] = deepidv_action_get_header_value(a, i);
            }
            size_t blen;
            const uint8_t *body = deepidv_action_get_body(a, &blen);
            mh_response r;
            int e = mh_request(deepidv_action_get_host(a), deepidv_action_get_port(a), deepidv_action_get_method(a),
                               deepidv_action_get_path(a), names, values, n, body, blen,
                               (unsigned)deepidv_action_get_timeout_ms(a), &r);
            if (e == MH_OK) {
                rc = deepidv_poller_handle_response(p, now_ms(), (uint16_t)r.status, (const char *const *)r.names,
                                                    (const char *const *)r.values, r.n_headers, r.body, r.body_len);
                mh_response_free(&r);
            } else {
                rc = deepidv_poller_handle_transport_error(
                    p, now_ms(), e == MH_CONNECT ? DEEPIDV_TRANSPORT_CONNECT : DEEPIDV_TRANSPORT_IO, "socket");
            }
            if (rc != DEEPIDV_OK) return rc;
            break;
        }
        case DEEPIDV_ACTION_WAIT: {
            uint64_t ms = deepidv_action_get_wait_ms(a);
            struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
            break;
        }
        case DEEPIDV_ACTION_DONE: {
            deepidv_result want = deepidv_action_get_result(a);
            rc = deepidv_poller_take_job(p, job, NULL);
            CHECK(rc == want, "take_job agrees with the DONE action");
            return rc;
        }
        }
    }
    return DEEPIDV_INTERNAL;
}

static deepidv_result run_poller(deepidv_poller *p, deepidv_job **job, int *sends) {
    return run_poller_until(p, job, sends, -1);
}

static void test_poller(void) {
    char id[128];
    deepidv_client_options *o = fast_options();
    deepidv_poller *p = NULL;
    deepidv_job *job = NULL;
    int sends = 0;

    admin_job("\"ready\"", 100, id, sizeof id);
    CHECK_RC(deepidv_poller_new_wait(KEY, URL, id, now_ms(), 7, 5000, o, &p, NULL), DEEPIDV_OK);
    CHECK_RC(run_poller(p, &job, &sends), DEEPIDV_OK);
    CHECK(sends >= 2, "polled %d times", sends);
    CHECK(deepidv_poller_last_status(p) == DEEPIDV_STATUS_READY, "last status");
    CHECK(job && strcmp(deepidv_job_get_id(job), id) == 0, "the job");
    deepidv_job_free(job);
    job = NULL;
    /* DONE stays DONE, and the outcome is taken once */
    const deepidv_action *a;
    CHECK_RC(deepidv_poller_poll(p, now_ms(), &a), DEEPIDV_OK);
    CHECK(deepidv_action_get_kind(a) == DEEPIDV_ACTION_DONE, "still done");
    CHECK_RC(deepidv_poller_take_job(p, &job, NULL), DEEPIDV_INVALID_ARGUMENT);
    deepidv_poller_free(p);

    /* a failed job through the poller */
    admin_job("{\"failed\":\"nope\"}", 0, id, sizeof id);
    sends = 0;
    CHECK_RC(deepidv_poller_new_wait(KEY, URL, id, now_ms(), 7, 5000, o, &p, NULL), DEEPIDV_OK);
    CHECK_RC(run_poller(p, &job, &sends), DEEPIDV_JOB_FAILED);
    CHECK(job && strcmp(deepidv_job_get_error(job), "nope") == 0, "failed job handed out");
    deepidv_job_free(job);
    job = NULL;
    deepidv_poller_free(p);

    /* transient faults are retried by the poller, not by this loop */
    admin_job("\"ready\"", 0, id, sizeof id);
    admin_fault(id, "{\"status\":503}", 2);
    sends = 0;
    CHECK_RC(deepidv_poller_new_get(KEY, URL, id, now_ms(), 7, o, &p, NULL), DEEPIDV_OK);
    CHECK_RC(run_poller(p, &job, &sends), DEEPIDV_OK);
    CHECK(sends == 3, "2 failures + 1 success = %d sends", sends);
    deepidv_job_free(job);
    job = NULL;
    deepidv_poller_free(p);

    /* nothing listens: connect errors until the wait gives up */
    sends = 0;
    CHECK_RC(deepidv_poller_new_wait(KEY, "http://127.0.0.1:1", id, now_ms(), 7, 5000, o, &p, NULL), DEEPIDV_OK);
    CHECK_RC(run_poller(p, &job, &sends), DEEPIDV_UNAVAILABLE);
    CHECK(sends == 3, "3 tries (wait_max_failures), got %d", sends);
    CHECK(job == NULL, "no job");
    deepidv_poller_free(p);

    /* a certificate failure of the program's own TLS ends the wait at once: no retry, a message saying what
     * to do (as the library's own TLS reports it) */
    const struct {
        uint32_t kind;
        const char *says, *todo;
    } cert[] = {
        {DEEPIDV_TRANSPORT_UNTRUSTED_CERTIFICATE, "certificate not trusted", "deepidv_client_options_set_ca_file"},
        {DEEPIDV_TRANSPORT_HOSTNAME_MISMATCH, "certificate is for another host", "base URL"},
    };
    CHECK(DEEPIDV_TRANSPORT_OTHER == 3 && DEEPIDV_TRANSPORT_UNTRUSTED_CERTIFICATE == 4 &&
              DEEPIDV_TRANSPORT_HOSTNAME_MISMATCH == 5,
          "transport kinds appended");
    for (size_t i = 0; i < sizeof cert / sizeof cert[0]; i++) {
        admin_job("\"ready\"", 0, id, sizeof id);
        CHECK_RC(deepidv_poller_new_wait(KEY, URL, id, now_ms(), 7, 5000, o, &p, NULL), DEEPIDV_OK);
        CHECK_RC(deepidv_poller_poll(p, now_ms(), &a), DEEPIDV_OK);
        CHECK(deepidv_action_get_kind(a) == DEEPIDV_ACTION_SEND, "a request first");
        uint64_t t = now_ms();
        CHECK_RC(deepidv_poller_handle_transport_error(p, t, cert[i].kind, "x509: certificate signed by unknown authority"),
                 DEEPIDV_OK);
        CHECK_RC(deepidv_poller_poll(p, t, &a), DEEPIDV_OK);
        CHECK(deepidv_action_get_kind(a) == DEEPIDV_ACTION_DONE, "kind %u: done at once, not retried",
              (unsigned)cert[i].kind);
        CHECK(deepidv_action_get_result(a) == DEEPIDV_UNAVAILABLE, "kind %u: %s", (unsigned)cert[i].kind,
              deepidv_result_name(deepidv_action_get_result(a)));
        deepidv_error *err = NULL;
        job = (deepidv_job *)1;
        CHECK_RC(deepidv_poller_take_job(p, &job, &err), DEEPIDV_UNAVAILABLE);
        CHECK(job == NULL, "no job");
        const char *m = err ? deepidv_error_message(err) : "";
        CHECK(strstr(m, cert[i].says) && strstr(m, cert[i].todo) && strstr(m, "unknown authority"), "%s", m);
        CHECK(strstr(m, "gave up") == NULL, "retried: %s", m);
        deepidv_error_free(err);
        deepidv_poller_free(p);
        p = NULL;
    }
    CHECK_RC(deepidv_poller_new_get(KEY, URL, id, now_ms(), 7, o, &p, NULL), DEEPIDV_OK);
    CHECK_RC(deepidv_poller_poll(p, now_ms(), &a), DEEPIDV_OK);
    CHECK_RC(deepidv_poller_handle_transport_error(p, now_ms(), DEEPIDV_TRANSPORT_HOSTNAME_MISMATCH + 1, NULL),
             DEEPIDV_INVALID_ARGUMENT);
    deepidv_poller_free(p);
    deepidv_client_options_free(o);
}

/* A wait saved mid-way, its poller freed (as by a restart), then resumed from the JSON and driven to the end. */
static void test_poller_resume(void) {
    char id[128];
    deepidv_client_options *o = fast_options();
    deepidv_poller *p = NULL;
    deepidv_job *job = NULL;
    deepidv_error *err = NULL;
    char *state = NULL;
    int sends = 0;

    admin_job("\"ready\"", 1500, id, sizeof id); /* pending long enough to save mid-way, even under valgrind */
    CHECK_RC(deepidv_poller_new_wait(KEY, URL, id, now_ms(), 7, 5000, o, &p, NULL), DEEPIDV_OK);
    CHECK_RC(run_poller_until(p, &job, &sends, 2), DEEPIDV_OK);
    CHECK(sends == 2 && job == NULL, "stopped after 2 answers, between steps (%d)", sends);
    CHECK(deepidv_poller_last_status(p) == DEEPIDV_STATUS_PENDING, "pending when saved");
    CHECK_RC(deepidv_poller_save(p, &state, &err), DEEPIDV_OK);
    CHECK(err == NULL && state != NULL, "a state");
    char want[160];
    snprintf(want, sizeof want, "\"job_id\":\"%s\"", id);
    CHECK(state && strstr(state, want) && strstr(state, "\"seen\":true") && strstr(state, "\"attempts\":2"),
          "the state: %s", state ? state : "(null)");
    CHECK(state && !strstr(state, KEY), "no key in the state");
    deepidv_poller_free(p); /* the process "stops" */
    p = NULL;

    /* a new poller from the JSON alone: polls at once, and reaches ready on the same deadline */
    uint64_t t0 = now_ms();
    CHECK_RC(deepidv_poller_resume(KEY, URL, state, t0, o, &p, &err), DEEPIDV_OK);
    CHECK(err == NULL && p != NULL, "resumed");
    uint64_t deadline = deepidv_poller_deadline_ms(p);
    CHECK(deadline > t0 && deadline <= t0 + 5000, "deadline %llu within the 5 s budget from %llu",
          (unsigned long long)deadline, (unsigned long long)t0);
    CHECK(deepidv_poller_last_status(p) == DEEPIDV_STATUS_PENDING, "remembers the last status");
    deepidv_string_free(state);
    state = NULL;
    sends = 0;
    if (p) {
        CHECK_RC(run_poller(p, &job, &sends), DEEPIDV_OK);
        CHECK(job && strcmp(deepidv_job_get_id(job), id) == 0, "the job");
        CHECK(job && deepidv_job_get_status(job) == DEEPIDV_STATUS_READY, "ready");
        CHECK(sends >= 1, "%d sends after resume", sends);
        deepidv_job_free(job);
        job = NULL;
        /* a finished wait is still saveable */
        CHECK_RC(deepidv_poller_save(p, &state, NULL), DEEPIDV_OK);
        CHECK(state && strstr(state, "\"last_status\":\"ready\""), "saved when done");
        deepidv_string_free(state);
        state = NULL;
        deepidv_poller_free(p);
        p = NULL;
    }

    /* refusals: a get, NULLs, not a state, a hostile job id; outputs stay NULL, the key is never echoed */
    CHECK_RC(deepidv_poller_new_get(KEY, URL, id, now_ms(), 7, o, &p, NULL), DEEPIDV_OK);
    state = (char *)1;
    CHECK_RC(deepidv_poller_save(p, &state, &err), DEEPIDV_INVALID_ARGUMENT);
    CHECK(state == NULL, "no output on failure");
    CHECK(err && strstr(deepidv_error_message(err), "only a wait"), "%s", deepidv_error_message(err));
    deepidv_error_free(err);
    err = NULL;
    CHECK(deepidv_poller_deadline_ms(p) == 0, "a get has no deadline");
    deepidv_poller_free(p);
    p = NULL;
    CHECK_RC(deepidv_poller_save(NULL, &state, NULL), DEEPIDV_INVALID_ARGUMENT);
    const char *bad[] = {
        "", "{", "not json", "{\"job_id\":\"job_x\"}",
        "{\"job_id\":\"../x\",\"started_at_unix_ms\":0,\"timeout_ms\":1000,\"attempts\":0,\"polls\":0,"
        "\"consecutive_failures\":0,\"last_status\":null,\"seen\":false,\"rng\":1}",
        "{\"job_id\":\"job_x\",\"started_at_unix_ms\":\"" KEY "\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        p = (deepidv_poller *)1;
        CHECK_RC(deepidv_poller_resume(KEY, URL, bad[i], now_ms(), o, &p, &err), DEEPIDV_INVALID_ARGUMENT);
        CHECK(p == NULL, "no output on failure");
        const char *m = deepidv_error_message(err);
        CHECK(strstr(m, "state_json") && !strstr(m, KEY) && !strchr(m, '\n'), "message %zu: %s", i, m);
        CHECK(i != 4 || strstr(m, "invalid job id"), "hostile id: %s", m);
        deepidv_error_free(err);
        err = NULL;
    }
    CHECK_RC(deepidv_poller_resume(NULL, URL, "{}", 0, NULL, &p, NULL), DEEPIDV_INVALID_ARGUMENT);
    CHECK_RC(deepidv_poller_resume(KEY, URL, NULL, 0, NULL, &p, NULL), DEEPIDV_INVALID_ARGUMENT);
    CHECK_RC(deepidv_poller_resume(KEY, URL, BAD_UTF8, 0, NULL, &p, NULL), DEEPIDV_INVALID_ARGUMENT);
    CHECK_RC(deepidv_poller_resume(KEY, BAD_UTF8, "{}", 0, NULL, &p, NULL), DEEPIDV_INVALID_ARGUMENT);
    CHECK_RC(deepidv_poller_resume(KEY, URL, "{}", 0, NULL, NULL, NULL), DEEPIDV_INVALID_ARGUMENT);
    CHECK(p == NULL, "still NULL");
    deepidv_client_options_free(o);
}

/* ---- one client, many threads -------------------------------------------------------------------- */

struct worker {
    deepidv_client *client;
    int n;
    int ok;
};

static void *worker_main(void *p) {
    struct worker *w = p;
    char id[128];
    admin_job(w->n % 3 == 0 ? "{\"failed\":\"thread says no\"}" : "\"ready\"", 30 + 10 * (unsigned)w->n, id,
              sizeof id);
    deepidv_job *job = NULL;
    deepidv_error *err = NULL;
    deepidv_result want = w->n % 3 == 0 ? DEEPIDV_JOB_FAILED : DEEPIDV_OK;
    deepidv_result rc = deepidv_client_wait_job_ex(w->client, id, 5000, NULL, &job, &err);
    int ok = rc == want && job && strcmp(deepidv_job_get_id(job), id) == 0;
    deepidv_job_free(job);
    deepidv_error_free(err);
    /* this thread's last error is this thread's own */
    rc = deepidv_client_get_job(w->client, "job_missing", &job);
    ok = ok && rc == DEEPIDV_NOT_FOUND;
    char bad[64];
    snprintf(bad, sizeof bad, "bad/id_%d", w->n);
    rc = deepidv_client_get_job(w->client, bad, &job);
    ok = ok && rc == DEEPIDV_INVALID_ARGUMENT && strstr(deepidv_last_error(), bad) != NULL;
    w->ok = ok;
    return NULL;
}

static void test_threads(void) {
    deepidv_client *c = make_client(KEY);
    enum { N = 8 };
    pthread_t t[N];
    struct worker w[N];
    for (int i = 0; i < N; i++) {
        w[i] = (struct worker){.client = c, .n = i, .ok = 0};
        pthread_create(&t[i], NULL, worker_main, &w[i]);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        CHECK(w[i].ok, "worker %d", i);
    }
    deepidv_client_free(c);
}

/* The log callback gets each answer, retry and status change of a wait as one-line messages, never the key. */
struct log_seen {
    int debug, info, warn, with_key, saw_503, saw_retry;
};

static void on_log(deepidv_log_level level, const char *message, void *user_data) {
    struct log_seen *seen = user_data;
    if (level == DEEPIDV_LOG_DEBUG) seen->debug++;
    if (level == DEEPIDV_LOG_INFO) seen->info++;
    if (level == DEEPIDV_LOG_WARN) seen->warn++;
    if (strstr(message, KEY)) seen->with_key++;
    if (strstr(message, "-> HTTP 503")) seen->saw_503++;
    if (strstr(message, "retry after 1 failure")) seen->saw_retry++;
}

static void test_log_callback(void) {
    char id[64];
    admin_job("\"ready\"", 0, id, sizeof id);
    admin_fault(id, "{\"status\":503}", 1);
    admin_fault(id, "{\"unknownStatus\":\"" KEY "\"}", 1);
    struct log_seen seen = {0};
    deepidv_client_options *o = fast_options();
    CHECK_RC(deepidv_client_options_set_log_callback(NULL, on_log, &seen), DEEPIDV_INVALID_ARGUMENT);
    CHECK_RC(deepidv_client_options_set_log_callback(o, on_log, &seen), DEEPIDV_OK);
    deepidv_client *c = NULL;
    CHECK_RC(deepidv_client_new_with_options(KEY, URL, o, &c, NULL), DEEPIDV_OK);
    deepidv_client_options_free(o);
    deepidv_job *job = NULL;
    CHECK_RC(deepidv_client_wait_job(c, id, 10000, &job), DEEPIDV_OK);
    deepidv_job_free(job);
    deepidv_client_free(c);
    /* 503, then the key echoed as a status, then ready: 3 answers, 1 retry, 2 status changes */
    CHECK(seen.debug == 3, "debug %d", seen.debug);
    CHECK(seen.warn == 1 && seen.saw_retry == 1, "warn %d retry %d", seen.warn, seen.saw_retry);
    CHECK(seen.info == 2, "info %d", seen.info);
    CHECK(seen.saw_503 == 1, "503 seen %d", seen.saw_503);
    CHECK(seen.with_key == 0, "key in %d messages", seen.with_key);
}

int main(int argc, char **argv) {
    URL = argc > 1 ? argv[1] : getenv("DEEPIDV_MOCK_URL");
    TLS_URL = argc > 3 ? argv[2] : NULL;
    TLS_CA = argc > 3 ? argv[3] : NULL;
    if (!URL) {
        fprintf(stderr, "usage: %s BASE_URL [TLS_URL CA_FILE] (of running deepidv-mock processes)\n", argv[0]);
        return 2;
    }
    struct {
        const char *name;
        void (*fn)(void);
    } tests[] = {
        {"version", test_version},
        {"last_error_is_per_thread", test_last_error_is_per_thread},
        {"success", test_success},
        {"every_result_code", test_every_result_code},
        {"expired", test_expired},
        {"nulls_and_bad_utf8", test_nulls_and_bad_utf8},
        {"network_options", test_network_options},
        {"tls", test_tls},
        {"user_agent_suffix", test_user_agent_suffix},
        {"cancel", test_cancel},
        {"poller", test_poller},
        {"poller_resume", test_poller_resume},
        {"threads", test_threads},
        {"log_callback", test_log_callback},
    };
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        int before = atomic_load(&failed);
        uint64_t t0 = now_ms();
        tests[i].fn();
        printf("%-28s %s (%llu ms)\n", tests[i].name, atomic_load(&failed) == before ? "ok" : "FAILED",
               (unsigned long long)(now_ms() - t0));
    }
    printf("C tests: %d passed, %d failed\n", atomic_load(&passed), atomic_load(&failed));
    return atomic_load(&failed) == 0 ? 0 : 1;
}
