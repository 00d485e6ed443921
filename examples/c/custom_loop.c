/*
 * custom_loop.c: drive the sans-IO poller with your own HTTP and your own clock.
 *
 * The library does no I/O here: it says what to send and how long to wait; this program sends
 * with plain POSIX sockets (mini_http.h: HTTP/1.1, Connection: close), sleeps with nanosleep,
 * and hands each answer back with the time it arrived.
 *
 * Usage: custom_loop BASE_URL [JOB_ID]   (BASE_URL like http://127.0.0.1:4010, the simulator)
 * With no JOB_ID, it asks the simulator's admin route for a fresh job first.
 * The API key comes from DEEPIDV_API_KEY (default: the simulator's sandbox key).
 */
#include "mini_http.h" /* first: it sets _GNU_SOURCE */

#include <inttypes.h>
#include <time.h>

#include "deepidv.h"

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(uint64_t ms) {
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Performs the SEND action `a` and feeds the outcome to the poller. */
static void perform(deepidv_poller *p, const deepidv_action *a) {
    if (strcmp(deepidv_action_get_scheme(a), "http") != 0) {
        deepidv_poller_handle_transport_error(p, now_ms(), DEEPIDV_TRANSPORT_OTHER,
                                              "this example speaks plain http only");
        return;
    }
    size_t n = deepidv_action_get_header_count(a);
    const char *names[32], *values[32];
    if (n > 32) n = 32;
    for (size_t i = 0; i < n; i++) {
        names[i] = deepidv_action_get_header_name(a, i);
        values[i] = deepidv_action_get_header_value(a, i);
    }
    size_t body_len = 0;
    const uint8_t *body = deepidv_action_get_body(a, &body_len);
    mh_response r;
    int rc = mh_request(deepidv_action_get_host(a), deepidv_action_get_port(a), deepidv_action_get_method(a),
                        deepidv_action_get_path(a), names, values, n, body, body_len,
                        (unsigned)deepidv_action_get_timeout_ms(a), &r);
    if (rc != MH_OK) {
        uint32_t kind = rc == MH_CONNECT   ? DEEPIDV_TRANSPORT_CONNECT
                        : rc == MH_TIMEOUT ? DEEPIDV_TRANSPORT_TIMEOUT
                                           : DEEPIDV_TRANSPORT_IO;
        deepidv_poller_handle_transport_error(p, now_ms(), kind, "socket error");
        return;
    }
    fprintf(stderr, "  %s %s -> %d\n", deepidv_action_get_method(a), deepidv_action_get_path(a), r.status);
    /* Hand over at most one byte past the poller's cap: enough for it to see that an answer is
     * too large. (mini_http buffers whole answers; a streaming client would stop reading here.) */
    uint64_t max_body = deepidv_action_get_max_body_bytes(a);
    size_t body_len_in = r.body_len;
    if (max_body < (uint64_t)SIZE_MAX && (uint64_t)body_len_in > max_body + 1) body_len_in = (size_t)(max_body + 1);
    deepidv_poller_handle_response(p, now_ms(), (uint16_t)r.status, (const char *const *)r.names,
                                   (const char *const *)r.values, r.n_headers, r.body, body_len_in);
    mh_response_free(&r);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s BASE_URL [JOB_ID]\n", argv[0]);
        return 2;
    }
    const char *url = argv[1];
    const char *key = getenv("DEEPIDV_API_KEY");
    if (!key || !*key) key = "sk_test_deepidv_sandbox";

    char job_id[128];
    if (argc > 2) {
        snprintf(job_id, sizeof job_id, "%s", argv[2]);
    } else {
        mh_response r;
        int status = mh_simple(url, "POST", "/__mock/jobs", "{\"outcome\":\"ready\",\"pendingMs\":300}", &r);
        const char *id = status == 201 ? strstr((char *)r.body, "\"jobId\":\"") : NULL;
        if (!id) {
            fprintf(stderr, "could not create a job on the simulator at %s\n", url);
            if (status >= 0) mh_response_free(&r);
            return 2;
        }
        id += 9;
        size_t len = strcspn(id, "\"");
        snprintf(job_id, sizeof job_id, "%.*s", (int)len, id);
        mh_response_free(&r);
    }

    deepidv_client_options *opts = deepidv_client_options_new();
    deepidv_client_options_set_poll_interval_ms(opts, 100);
    deepidv_poller *p = NULL;
    deepidv_error *err = NULL;
    deepidv_result rc = deepidv_poller_new_wait(key, url, job_id, now_ms(), (uint64_t)time(NULL), 30000, opts, &p, &err);
    deepidv_client_options_free(opts);
    if (rc != DEEPIDV_OK) {
        fprintf(stderr, "error: %s\n", deepidv_error_message(err));
        deepidv_error_free(err);
        return (int)rc;
    }

    printf("waiting for %s with my own event loop\n", job_id);
    deepidv_job *job = NULL;
    int sends = 0, waits = 0;
    for (;;) {
        const deepidv_action *a = NULL;
        if (deepidv_poller_poll(p, now_ms(), &a) != DEEPIDV_OK) {
            fprintf(stderr, "poll failed: %s\n", deepidv_last_error());
            deepidv_poller_free(p);
            return 9;
        }
        deepidv_action_kind kind = deepidv_action_get_kind(a);
        if (kind == DEEPIDV_ACTION_SEND) {
            sends++;
            perform(p, a);
        } else if (kind == DEEPIDV_ACTION_WAIT) {
            waits++;
            sleep_ms(deepidv_action_get_wait_ms(a));
        } else {
            rc = deepidv_poller_take_job(p, &job, &err);
            break;
        }
    }
    deepidv_poller_free(p);
    printf("%d requests, %d waits: %s\n", sends, waits, deepidv_result_name(rc));
    if (job) {
        printf("job %s is %s\n", deepidv_job_get_id(job), deepidv_job_get_status_text(job));
        if (deepidv_job_get_result_json(job)) printf("result: %.200s\n", deepidv_job_get_result_json(job));
        if (deepidv_job_get_error(job)) printf("error: %s\n", deepidv_job_get_error(job));
    }
    if (err) fprintf(stderr, "error: %s\n", deepidv_error_message(err));
    deepidv_job_free(job);
    deepidv_error_free(err);
    return (int)rc;
}
