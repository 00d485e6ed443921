/*
 * wait.c: create a client, start an adverse-media screening (or take a job id), wait, print.
 *
 * Usage: wait [JOB_ID]
 *   DEEPIDV_API_KEY   the API key (required)
 *   DEEPIDV_BASE_URL  where the API is (default https://api.deepidv.com; the simulator: http://127.0.0.1:4010)
 * Exit status: the deepidv_result code (0 ready, 1 failed, ...), as the CLI does.
 */
#include <stdio.h>
#include <stdlib.h>

#include "deepidv.h"

int main(int argc, char **argv) {
    const char *key = getenv("DEEPIDV_API_KEY");
    const char *url = getenv("DEEPIDV_BASE_URL");
    if (url && !*url) url = NULL;

    deepidv_client *client = NULL;
    deepidv_result rc = deepidv_client_new(key, url, &client);
    if (rc != DEEPIDV_OK) {
        fprintf(stderr, "deepidv: %s\n", deepidv_last_error());
        return (int)rc;
    }

    char *created = NULL;
    const char *job_id = argc > 1 ? argv[1] : NULL;
    if (!job_id) {
        deepidv_error *err = NULL;
        rc = deepidv_client_create_adverse_media(client, "Ada", "Lovelace", "ada@example.com", "1815-12-10",
                                                 "GB", NULL, &created, &err);
        if (rc != DEEPIDV_OK) {
            fprintf(stderr, "deepidv: %s (%s)\n", deepidv_error_message(err), deepidv_result_name(rc));
            deepidv_error_free(err);
            deepidv_client_free(client);
            return (int)rc;
        }
        job_id = created;
        printf("started screening job %s\n", job_id);
    }

    deepidv_job *job = NULL;
    rc = deepidv_client_wait_job(client, job_id, 0, &job);
    if (job) {
        printf("job %s: %s (created at %lld ms)\n", deepidv_job_get_id(job), deepidv_job_get_status_text(job),
               (long long)deepidv_job_get_created_at_ms(job));
        if (deepidv_job_get_result_json(job)) printf("%s\n", deepidv_job_get_result_json(job));
        if (deepidv_job_get_error(job)) printf("error: %s\n", deepidv_job_get_error(job));
    } else {
        fprintf(stderr, "deepidv: %s (%s)\n", deepidv_last_error(), deepidv_result_name(rc));
    }
    deepidv_job_free(job);
    deepidv_string_free(created);
    deepidv_client_free(client);
    return (int)rc;
}
