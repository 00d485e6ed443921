/*
 * mini_http.h: a tiny blocking HTTP/1.1 client over POSIX sockets (one request per connection,
 * `Connection: close`), for the examples and tests. Plain http only; no TLS.
 *
 * Not a general-purpose client: it reads the whole answer into memory (up to MH_MAX_BYTES) and
 * understands Content-Length, chunked transfer coding, and bodies delimited by the connection's end.
 */
#ifndef MINI_HTTP_H
#define MINI_HTTP_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem; include this header first */
#endif
#include <errno.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <unistd.h>

#define MH_MAX_BYTES (64u * 1024u * 1024u)
#define MH_MAX_HEADERS 64

/* What went wrong below HTTP (maps onto deepidv_transport_error). */
enum mh_error { MH_OK = 0, MH_CONNECT = -1, MH_TIMEOUT = -2, MH_IO = -3 };

typedef struct mh_response {
    int status;
    size_t n_headers;
    char *names[MH_MAX_HEADERS];
    char *values[MH_MAX_HEADERS];
    unsigned char *body;
    size_t body_len;
    char *raw; /* the whole answer; names/values point into it */
} mh_response;

static void mh_response_free(mh_response *r) {
    if (!r) return;
    free(r->raw);
    free(r->body);
    memset(r, 0, sizeof *r);
}

static int mh_write_all(int fd, const void *buf, size_t len) {
    const char *p = buf;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            return (errno == EAGAIN || errno == EWOULDBLOCK) ? MH_TIMEOUT : MH_IO;
        }
        p += n;
        len -= (size_t)n;
    }
    return MH_OK;
}

/* Decodes a chunked body in place of `src`; returns its length, or -1 if it is malformed or cut short. */
static long mh_dechunk(const unsigned char *src, size_t len, unsigned char *dst) {
    size_t i = 0, out = 0;
    for (;;) {
        char *end;
        if (i >= len) return -1;
        unsigned long size = strtoul((const char *)src + i, &end, 16);
        const unsigned char *crlf = memmem(src + i, len - i, "\r\n", 2);
        if (!crlf || (const unsigned char *)end > crlf) return -1;
        i = (size_t)(crlf - src) + 2;
        if (size == 0) return (long)out;
        if (size > len - i) return -1;
        memcpy(dst + out, src + i, size);
        out += size;
        i += size + 2;
    }
}

/*
 * Sends one request and reads the whole answer. `host` may be a name or an address (IPv6 with or
 * without brackets). Returns MH_OK and fills `out`, or an mh_error (then `out` is empty).
 */
static int mh_request(const char *host, uint16_t port, const char *method, const char *path,
                      const char *const *hnames, const char *const *hvalues, size_t nh,
                      const unsigned char *body, size_t body_len, unsigned timeout_ms,
                      mh_response *out) {
    memset(out, 0, sizeof *out);
    char hostbuf[256];
    snprintf(hostbuf, sizeof hostbuf, "%s", host);
    size_t hl = strlen(hostbuf);
    if (hl > 1 && hostbuf[0] == '[' && hostbuf[hl - 1] == ']') {
        memmove(hostbuf, hostbuf + 1, hl - 2);
        hostbuf[hl - 2] = '\0';
    }
    char portbuf[8];
    snprintf(portbuf, sizeof portbuf, "%u", (unsigned)port);
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(hostbuf, portbuf, &hints, &ai) != 0 || !ai) return MH_CONNECT;
    int fd = -1;
    for (struct addrinfo *a = ai; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (fd < 0) continue;
        struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    if (fd < 0) return MH_CONNECT;

    /* the request head */
    size_t cap = 1024 + strlen(path) + strlen(host);
    for (size_t i = 0; i < nh; i++) cap += strlen(hnames[i]) + strlen(hvalues[i]) + 4;
    char *head = malloc(cap);
    if (!head) { close(fd); return MH_IO; }
    int n = snprintf(head, cap, "%s %s HTTP/1.1\r\nHost: %s:%u\r\nConnection: close\r\n", method, path,
                     host, (unsigned)port);
    for (size_t i = 0; i < nh; i++) n += snprintf(head + n, cap - (size_t)n, "%s: %s\r\n", hnames[i], hvalues[i]);
    if (body_len > 0 || strcmp(method, "POST") == 0)
        n += snprintf(head + n, cap - (size_t)n, "Content-Length: %zu\r\n", body_len);
    n += snprintf(head + n, cap - (size_t)n, "\r\n");
    int rc = mh_write_all(fd, head, (size_t)n);
    free(head);
    if (rc == MH_OK && body_len > 0) rc = mh_write_all(fd, body, body_len);
    if (rc != MH_OK) { close(fd); return rc; }

    /* the whole answer, until the server closes */
    size_t len = 0, size = 16384;
    char *buf = malloc(size + 1);
    if (!buf) { close(fd); return MH_IO; }
    for (;;) {
        if (len == size) {
            if (size >= MH_MAX_BYTES) break;
            size *= 2;
            char *bigger = realloc(buf, size + 1);
            if (!bigger) { free(buf); close(fd); return MH_IO; }
            buf = bigger;
        }
        ssize_t got = recv(fd, buf + len, size - len, 0);
        if (got == 0) break;
        if (got < 0) {
            if (errno == EINTR) continue;
            int e = (errno == EAGAIN || errno == EWOULDBLOCK) ? MH_TIMEOUT : MH_IO;
            free(buf);
            close(fd);
            return e;
        }
        len += (size_t)got;
    }
    close(fd);
    buf[len] = '\0';

    char *end_of_head = memmem(buf, len, "\r\n\r\n", 4);
    if (!end_of_head || strncmp(buf, "HTTP/1.", 7) != 0) { free(buf); return MH_IO; }
    *end_of_head = '\0';
    unsigned char *raw_body = (unsigned char *)end_of_head + 4;
    size_t raw_len = len - (size_t)(raw_body - (unsigned char *)buf);
    out->raw = buf;
    out->status = atoi(buf + 9);

    long content_length = -1;
    int chunked = 0;
    char *line = strstr(buf, "\r\n");
    while (line && out->n_headers < MH_MAX_HEADERS) {
        *line = '\0';
        line += 2;
        char *next = strstr(line, "\r\n");
        char *colon = strchr(line, ':');
        if (colon && (!next || colon < next)) {
            *colon = '\0';
            char *v = colon + 1;
            while (*v == ' ' || *v == '\t') v++;
            if (next) *next = '\0';
            out->names[out->n_headers] = line;
            out->values[out->n_headers] = v;
            out->n_headers++;
            if (strcasecmp(line, "content-length") == 0) content_length = atol(v);
            if (strcasecmp(line, "transfer-encoding") == 0 && strstr(v, "chunked")) chunked = 1;
            if (next) *next = '\r';
        }
        line = next;
    }
    /* cut the header strings apart for good */
    for (size_t i = 0; i < out->n_headers; i++) {
        char *cr = strchr(out->values[i], '\r');
        if (cr) *cr = '\0';
    }

    out->body = malloc(raw_len + 1);
    if (!out->body) { mh_response_free(out); return MH_IO; }
    if (chunked) {
        long dl = mh_dechunk(raw_body, raw_len, out->body);
        if (dl < 0) { mh_response_free(out); return MH_IO; }
        out->body_len = (size_t)dl;
    } else if (content_length >= 0) {
        if ((size_t)content_length > raw_len) { mh_response_free(out); return MH_IO; } /* truncated */
        memcpy(out->body, raw_body, (size_t)content_length);
        out->body_len = (size_t)content_length;
    } else {
        memcpy(out->body, raw_body, raw_len);
        out->body_len = raw_len;
    }
    out->body[out->body_len] = '\0';
    return MH_OK;
}

/* Splits "http://HOST:PORT[/...]" into host and port. Returns 0 on success. */
static int mh_parse_url(const char *url, char *host, size_t host_len, uint16_t *port) {
    const char *p = strncmp(url, "http://", 7) == 0 ? url + 7 : NULL;
    if (!p) return -1;
    const char *colon = strrchr(p, ':');
    const char *slash = strchr(p, '/');
    if (!colon || (slash && colon > slash)) return -1;
    size_t n = (size_t)(colon - p);
    if (n + 1 > host_len) return -1;
    memcpy(host, p, n);
    host[n] = '\0';
    *port = (uint16_t)atoi(colon + 1);
    return 0;
}

/* A JSON POST (or any method) with no extra headers; returns the status, or -1. Body in `out`. */
static int mh_simple(const char *url, const char *method, const char *path, const char *json,
                     mh_response *out) {
    char host[128];
    uint16_t port;
    if (mh_parse_url(url, host, sizeof host, &port) != 0) return -1;
    const char *n[] = {"Content-Type"};
    const char *v[] = {"application/json"};
    size_t len = json ? strlen(json) : 0;
    if (mh_request(host, port, method, path, n, v, json ? 1 : 0, (const unsigned char *)json, len, 5000,
                   out) != MH_OK)
        return -1;
    return out->status;
}

#endif /* MINI_HTTP_H */
