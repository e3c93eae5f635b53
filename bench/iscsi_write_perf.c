/* iscsi_write_perf: the WRITE counterpart of libiscsi's iscsi-perf (which
 * only reads), for bench/compare. Over libiscsi's async API it keeps -m
 * WRITE(16) commands of -b blocks in flight for -t seconds, sequential or
 * (-r) random LBAs aligned to the request, and prints
 *   iops average N (M MB/s)          (the line iscsi-perf ends with)
 *   cpu_s X                          (getrusage user+sys of the process)
 * The URL is libiscsi's: iscsi://HOST[:PORT]/IQN/LUN[?header_digest=crc32c].
 * libiscsi offers no data digest. The LUN's data is overwritten. */
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

struct state {
    struct iscsi_context* iscsi;
    int lun;
    uint32_t block_size;
    uint64_t blocks;      /* LUN capacity */
    uint32_t per_request; /* blocks per WRITE */
    uint64_t cursor;      /* next sequential LBA */
    int random;
    unsigned char* data;
    double deadline;
    int in_flight;
    uint64_t completed;
    int failed;
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

static uint64_t next_lba(struct state* s)
{
    const uint64_t units = s->blocks / s->per_request;
    uint64_t unit;
    if (s->random) {
        unit = (((uint64_t)random() << 31) ^ (uint64_t)random()) % units;
    } else {
        unit = s->cursor;
        s->cursor = (s->cursor + 1) % units;
    }
    return unit * s->per_request;
}

static void issue(struct state* s);

static void done(struct iscsi_context* iscsi, int status, void* command_data, void* private_data)
{
    struct state* s = private_data;
    struct scsi_task* task = command_data;
    (void)iscsi;
    s->in_flight--;
    if (status != SCSI_STATUS_GOOD) {
        fprintf(stderr, "iscsi_write_perf: WRITE failed: %s\n", iscsi_get_error(s->iscsi));
        s->failed = 1;
    } else {
        s->completed++;
    }
    if (task)
        scsi_free_scsi_task(task);
    if (!s->failed && now() < s->deadline)
        issue(s);
}

static void issue(struct state* s)
{
    const uint32_t len = s->per_request * s->block_size;
    struct scsi_task* t =
        iscsi_write16_task(s->iscsi, s->lun, next_lba(s), s->data, len, (int)s->block_size, 0, 0, 0, 0, 0, done, s);
    if (t == NULL) {
        fprintf(stderr, "iscsi_write_perf: cannot queue a WRITE: %s\n", iscsi_get_error(s->iscsi));
        s->failed = 1;
        return;
    }
    s->in_flight++;
}

static void usage(void)
{
    fprintf(stderr, "usage: iscsi_write_perf [-i initiator-name] [-m max_requests] [-b blocks_per_request] "
                    "[-t seconds] [-r] <LUN URL>\n");
    exit(2);
}

int main(int argc, char** argv)
{
    const char* initiator = "iqn.2026-11.org.iscsi-vscsi:write-perf";
    int qd = 32, seconds = 10, opt;
    struct state s;
    memset(&s, 0, sizeof s);
    s.per_request = 8;
    while ((opt = getopt(argc, argv, "i:m:b:t:r")) != -1) {
        switch (opt) {
        case 'i': initiator = optarg; break;
        case 'm': qd = atoi(optarg); break;
        case 'b': s.per_request = (uint32_t)atoi(optarg); break;
        case 't': seconds = atoi(optarg); break;
        case 'r': s.random = 1; break;
        default: usage();
        }
    }
    if (optind != argc - 1 || qd < 1 || qd > 1024 || s.per_request < 1 || seconds < 1)
        usage();

    s.iscsi = iscsi_create_context(initiator);
    if (s.iscsi == NULL) {
        fprintf(stderr, "iscsi_write_perf: cannot create a context\n");
        return 1;
    }
    struct iscsi_url* url = iscsi_parse_full_url(s.iscsi, argv[optind]);
    if (url == NULL) {
        fprintf(stderr, "iscsi_write_perf: bad URL: %s\n", iscsi_get_error(s.iscsi));
        return 1;
    }
    iscsi_set_targetname(s.iscsi, url->target);
    iscsi_set_session_type(s.iscsi, ISCSI_SESSION_NORMAL);
    if (iscsi_full_connect_sync(s.iscsi, url->portal, url->lun) != 0) {
        fprintf(stderr, "iscsi_write_perf: login failed: %s\n", iscsi_get_error(s.iscsi));
        return 1;
    }
    s.lun = url->lun;
    iscsi_destroy_url(url);

    struct scsi_task* cap = iscsi_readcapacity16_sync(s.iscsi, s.lun);
    struct scsi_readcapacity16* rc = cap && cap->status == SCSI_STATUS_GOOD ? scsi_datain_unmarshall(cap) : NULL;
    if (rc == NULL || rc->block_length == 0) {
        fprintf(stderr, "iscsi_write_perf: READ CAPACITY(16) failed: %s\n", iscsi_get_error(s.iscsi));
        return 1;
    }
    s.block_size = rc->block_length;
    s.blocks = rc->returned_lba + 1;
    scsi_free_scsi_task(cap);
    if (s.blocks < s.per_request) {
        fprintf(stderr, "iscsi_write_perf: the LUN is smaller than one request\n");
        return 1;
    }
    s.data = calloc(s.per_request, s.block_size);
    if (s.data == NULL)
        return 1;
    for (size_t i = 0; i < (size_t)s.per_request * s.block_size; ++i)
        s.data[i] = (unsigned char)(i * 131 + 7);
    printf("WRITE of %u blocks (%u bytes) with %d parallel requests for %d seconds; capacity %llu blocks\n",
           s.per_request, s.per_request * s.block_size, qd, seconds, (unsigned long long)s.blocks);

    const double cpu0 = cpu_seconds();
    const double t0 = now();
    s.deadline = t0 + seconds;
    for (int i = 0; i < qd && !s.failed; ++i)
        issue(&s);
    while (s.in_flight > 0) {
        struct pollfd pfd = {.fd = iscsi_get_fd(s.iscsi), .events = (short)iscsi_which_events(s.iscsi)};
        if (poll(&pfd, 1, 1000) < 0)
            break;
        if (iscsi_service(s.iscsi, pfd.revents) < 0) {
            fprintf(stderr, "iscsi_write_perf: %s\n", iscsi_get_error(s.iscsi));
            s.failed = 1;
            break;
        }
    }
    const double elapsed = now() - t0;
    const double cpu = cpu_seconds() - cpu0;
    const double iops = (double)s.completed / elapsed;
    printf("iops average %.0f (%.0f MB/s)\n", iops, iops * s.per_request * s.block_size / (1024.0 * 1024.0));
    printf("cpu_s %.3f\n", cpu);
    iscsi_logout_sync(s.iscsi);
    iscsi_destroy_context(s.iscsi);
    free(s.data);
    return s.failed ? 1 : 0;
}
