/* bench/fuse_null: the cheapest FUSE file system this export's settings
 * allow, to measure what the FUSE round trip itself costs on this kernel.
 *
 *     fuse_null [--threads N] MOUNTPOINT
 *
 * One file, MOUNTPOINT/null, of 1 TiB: READ answers zeros, WRITE is taken
 * and dropped, with the export's settings (fuse/fuse_ops.cpp): direct I/O,
 * requests up to 1 MiB, 128 background requests, asynchronous direct I/O,
 * no splice. One thread reads /dev/fuse (blocking) and answers each request
 * at once, so fio on the file measures the kernel's request path, the
 * wake-ups and the copies through /dev/fuse, with no work behind them.
 * --threads N: libfuse's multi-threaded loop instead, up to N threads, each
 * with a /dev/fuse channel of its own (clone_fd), to see whether more
 * readers raise that floor.
 * Runs in the foreground until unmounted or SIGTERM. bench/fio_export
 * --fuse-null runs it beside the export. Benchmark only. */
#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NULL_INO 2
#define NULL_SIZE (1ULL << 40)
#define MAX_IO (1U << 20)

static char zeros[MAX_IO];

static void null_init(void* userdata, struct fuse_conn_info* conn)
{
    (void)userdata;
    conn->max_write = MAX_IO;
    conn->max_background = 128;
    conn->congestion_threshold = 96;
    conn->want &= ~(FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE | FUSE_CAP_WRITEBACK_CACHE);
    if (conn->capable & FUSE_CAP_ASYNC_DIO)
        conn->want |= FUSE_CAP_ASYNC_DIO;
    if (conn->capable & FUSE_CAP_ASYNC_READ)
        conn->want |= FUSE_CAP_ASYNC_READ;
    fprintf(stderr, "fuse_null: init: proto %u.%u, max_write %u, max_read %u, max_background %u\n", conn->proto_major,
            conn->proto_minor, conn->max_write, conn->max_read, conn->max_background);
}

static void fill(fuse_ino_t ino, struct stat* st)
{
    memset(st, 0, sizeof *st);
    st->st_ino = ino;
    st->st_nlink = ino == FUSE_ROOT_ID ? 2 : 1;
    st->st_mode = ino == FUSE_ROOT_ID ? (S_IFDIR | 0755) : (S_IFREG | 0600);
    st->st_size = ino == FUSE_ROOT_ID ? 0 : (off_t)NULL_SIZE;
    st->st_blksize = 4096;
}

static void null_lookup(fuse_req_t req, fuse_ino_t parent, const char* name)
{
    struct fuse_entry_param e;
    if (parent != FUSE_ROOT_ID || strcmp(name, "null") != 0) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    memset(&e, 0, sizeof e);
    e.ino = NULL_INO;
    e.attr_timeout = e.entry_timeout = 1.0;
    fill(NULL_INO, &e.attr);
    fuse_reply_entry(req, &e);
}

static void null_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi)
{
    struct stat st;
    (void)fi;
    if (ino != FUSE_ROOT_ID && ino != NULL_INO) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    fill(ino, &st);
    fuse_reply_attr(req, &st, 1.0);
}

static void null_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi)
{
    if (ino != NULL_INO) {
        fuse_reply_err(req, EISDIR);
        return;
    }
    fi->direct_io = 1;
    fuse_reply_open(req, fi);
}

static void null_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info* fi)
{
    (void)ino;
    (void)fi;
    if (off < 0 || (unsigned long long)off >= NULL_SIZE)
        size = 0;
    fuse_reply_buf(req, zeros, size < sizeof zeros ? size : sizeof zeros);
}

static void null_write(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off,
                       struct fuse_file_info* fi)
{
    (void)ino;
    (void)buf;
    (void)off;
    (void)fi;
    fuse_reply_write(req, size);
}

static void null_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi)
{
    (void)ino;
    (void)fi;
    fuse_reply_err(req, 0);
}

static const struct fuse_lowlevel_ops ops = {
    .init = null_init,
    .lookup = null_lookup,
    .getattr = null_getattr,
    .open = null_open,
    .read = null_read,
    .write = null_write,
    .flush = null_flush,
};

int main(int argc, char** argv)
{
    char* fake[] = {argv[0], "-ofsname=fuse_null", NULL};
    struct fuse_args args = FUSE_ARGS_INIT(2, fake);
    struct fuse_session* se;
    const char* mountpoint;
    int threads = 0;
    int r;

    if (argc == 4 && strcmp(argv[1], "--threads") == 0 && atoi(argv[2]) > 0) {
        threads = atoi(argv[2]);
        mountpoint = argv[3];
    } else if (argc == 2) {
        mountpoint = argv[1];
    } else {
        fprintf(stderr, "usage: fuse_null [--threads N] MOUNTPOINT\n");
        return 2;
    }
    se = fuse_session_new(&args, &ops, sizeof ops, NULL);
    if (se == NULL)
        return 1;
    if (fuse_set_signal_handlers(se) != 0 || fuse_session_mount(se, mountpoint) != 0) {
        fuse_session_destroy(se);
        return 1;
    }
    if (threads > 0) {
        struct fuse_loop_config* cfg = fuse_loop_cfg_create();
        fuse_loop_cfg_set_clone_fd(cfg, 1);
        fuse_loop_cfg_set_max_threads(cfg, (unsigned)threads);
        fuse_loop_cfg_set_idle_threads(cfg, (unsigned)threads);
        r = fuse_session_loop_mt(se, cfg);
        fuse_loop_cfg_destroy(cfg);
    } else {
        r = fuse_session_loop(se);
    }
    fuse_remove_signal_handlers(se);
    fuse_session_unmount(se);
    fuse_session_destroy(se);
    return r == 0 ? 0 : 1;
}
