/* Times deepidv_client_get_job over one kept-alive connection to a simulator:
 *   bench_c_get URL JOB_ID [N=5000] [ROUNDS=5]
 * One client, 200 warm-up calls, then ROUNDS rounds of N calls. For each round it prints
 * the mean (total / N, clock_gettime(CLOCK_MONOTONIC)) and the median of the per-call times,
 * in nanoseconds, as "round R mean_ns=X median_ns=Y"; the Rust twin is
 * benches/ureq_get_loop.rs. Built and run by benches/c.sh. */
#define _POSIX_C_SOURCE 199309L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "deepidv.h"

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static int get_once(const deepidv_client *client, const char *job) {
    deepidv_job *out = NULL;
    deepidv_result rc = deepidv_client_get_job(client, job, &out);
    if (rc != DEEPIDV_OK || out == NULL || deepidv_job_get_status(out) != DEEPIDV_STATUS_READY) {
        fprintf(stderr, "get_job failed: %s: %s\n", deepidv_result_name(rc), deepidv_last_error());
        deepidv_job_free(out);
        return -1;
    }
    deepidv_job_free(out);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s URL JOB_ID [N] [ROUNDS]\n", argv[0]);
        return 2;
    }
    const char *url = argv[1], *job = argv[2];
    long n = argc > 3 ? atol(argv[3]) : 5000, rounds = argc > 4 ? atol(argv[4]) : 5;
    if (n < 1 || rounds < 1) return 2;
    deepidv_client *client = NULL;
    if (deepidv_client_new("sk_test_deepidv_sandbox", url, &client) != DEEPIDV_OK) {
        fprintf(stderr, "client: %s\n", deepidv_last_error());
        return 1;
    }
    for (int i = 0; i < 200; i++)
        if (get_once(client, job)) return 1;
    uint64_t *t = malloc((size_t)n * sizeof *t);
    if (!t) return 1;
    for (long r = 1; r <= rounds; r++) {
        uint64_t start = now_ns(), prev = start;
        for (long i = 0; i < n; i++) {
            if (get_once(client, job)) return 1;
            uint64_t now = now_ns();
            t[i] = now - prev;
            prev = now;
        }
        uint64_t total = prev - start;
        qsort(t, (size_t)n, sizeof *t, cmp_u64);
        printf("round %ld mean_ns=%llu median_ns=%llu\n", r, (unsigned long long)(total / (uint64_t)n),
               (unsigned long long)t[n / 2]);
    }
    free(t);
    deepidv_client_free(client);
    return 0;
}
