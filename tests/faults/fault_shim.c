/* fault_shim: an LD_PRELOAD library that makes file-system calls fail on purpose.
 *
 * It interposes the calls HDF5 (MPI-IO driver), ROMIO's ufs driver and ckpt itself make on a
 * checkpoint file (strace of a checkpoint: open, lseek, pwrite64, ftruncate, fsync, close,
 * fallocate, rename, unlink, read/pread on the HDF5 signature; see README.md) and, when told to,
 * acts on the n-th matching call instead of making it: kills the process, or returns -1 with
 * errno EIO or ENOSPC. Everything is chosen by environment variables (README.md):
 *
 *   CKPT_FAULT_PATH=<substring>   only calls on paths (or fds whose /proc/self/fd link) containing it
 *   CKPT_FAULT_CALL=<kind>[,...]  the calls that count towards n: fsync, pwrite, ... or any
 *   CKPT_FAULT_N=<n>              act on the n-th matching call (1-based); unset: count only
 *   CKPT_FAULT_ACTION=kill|kill-after|eio|enospc|delay
 *   CKPT_FAULT_DELAY_MS=<ms>      delay: sleep this long (default 2000), then make the call (a slow
 *                                 disk, long enough to signal the process while it waits)
 *   CKPT_FAULT_RANK=<r>|all       which rank acts (PMI_RANK, set by hydra; 0 without a launcher)
 *   CKPT_FAULT_STICKY=1           every matching call from the n-th on fails (a disk that keeps failing)
 *   CKPT_FAULT_ARMED=0|1          counting starts armed (default 1) or waits for ckpt_fault_arm(1)
 *   CKPT_FAULT_COUNT_FILE=<path>  write the per-kind counts and the call sequence there at disarm
 *                                 and at exit ("%r" is replaced by the rank, else ".<rank>" appended)
 *   CKPT_FAULT_HIT_FILE=<path>    append the report line of every injected fault there too ("%r" as
 *                                 above): stderr may be lost when the job is torn down
 *
 * Only the decision path runs in an interposed call: atomics, readlink() of /proc/self/fd, and
 * raw write(2) for the one-line report; no malloc, no stdio, no locks. The shim never calls an
 * interposed function itself (it calls the real ones it looked up), so it cannot recurse, and a
 * thread-local guard makes any call made while the shim is deciding pass straight through.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

enum kind {
    K_OPEN, K_CLOSE, K_READ, K_PREAD, K_WRITE, K_PWRITE, K_WRITEV, K_LSEEK, K_FSYNC, K_FDATASYNC,
    K_FTRUNCATE, K_FALLOCATE, K_POSIX_FALLOCATE, K_RENAME, K_UNLINK, K_LOCK, K_STAT, K_STATFS, K_OPENDIR,
    K_COUNT
};
static const char* const kind_names[K_COUNT] = {
    "open", "close", "read", "pread", "write", "pwrite", "writev", "lseek", "fsync", "fdatasync",
    "ftruncate", "fallocate", "posix_fallocate", "rename", "unlink", "lock", "stat", "statfs", "opendir"};

enum action { A_NONE, A_KILL, A_KILL_AFTER, A_EIO, A_ENOSPC, A_DELAY };

/* ---- configuration (read once, in the constructor) ---------------------------------------- */
static int cfg_active;            /* 0: inert (the launcher itself, or nothing configured) */
static char cfg_path[512];        /* substring filter; empty: every path */
static unsigned cfg_calls;        /* bit mask of kinds that count towards n */
static long cfg_n;                /* 0: count only */
static int cfg_action = A_NONE;
static int cfg_rank_all = 1, cfg_rank = -1;
static int cfg_sticky;
static long cfg_delay_ms = 2000;
static char cfg_count_file[512];
static char cfg_hit_file[512];
static int my_rank;

/* ---- state --------------------------------------------------------------------------------- */
static atomic_int armed;
static atomic_long matched;                 /* calls matching CKPT_FAULT_CALL so far (the n) */
static atomic_long seen;                    /* every call on a matching path while armed */
static atomic_long per_kind[K_COUNT];
static atomic_long injected;                /* faults acted on */
#define LOG_SIZE 16384
struct log_entry {
    unsigned char kind;
    char name[63];
};
static struct log_entry call_log[LOG_SIZE];  /* the sequence of calls, for the count file */

/* 0 unknown, 1 matches the path filter, 2 does not. Reset whenever an interposed call makes or
 * closes the fd, so a reused number is looked up again. */
#define FD_CACHE 65536
static atomic_uchar fd_state[FD_CACHE];
static __thread int in_shim;

/* ---- the real functions -------------------------------------------------------------------- */
#define REAL(name, ret, ...)                                                      \
    static ret (*real_##name)(__VA_ARGS__);                                       \
    static ret (*get_##name(void))(__VA_ARGS__) {                                 \
        if (!real_##name) real_##name = (ret(*)(__VA_ARGS__))dlsym(RTLD_NEXT, #name); \
        return real_##name;                                                       \
    }
REAL(open, int, const char*, int, ...)
REAL(open64, int, const char*, int, ...)
REAL(openat, int, int, const char*, int, ...)
REAL(openat64, int, int, const char*, int, ...)
REAL(creat, int, const char*, mode_t)
REAL(creat64, int, const char*, mode_t)
REAL(close, int, int)
REAL(read, ssize_t, int, void*, size_t)
REAL(pread, ssize_t, int, void*, size_t, off_t)
REAL(pread64, ssize_t, int, void*, size_t, off64_t)
REAL(write, ssize_t, int, const void*, size_t)
REAL(pwrite, ssize_t, int, const void*, size_t, off_t)
REAL(pwrite64, ssize_t, int, const void*, size_t, off64_t)
REAL(writev, ssize_t, int, const struct iovec*, int)
REAL(pwritev, ssize_t, int, const struct iovec*, int, off_t)
REAL(lseek, off_t, int, off_t, int)
REAL(lseek64, off64_t, int, off64_t, int)
REAL(fsync, int, int)
REAL(fdatasync, int, int)
REAL(ftruncate, int, int, off_t)
REAL(ftruncate64, int, int, off64_t)
REAL(fallocate, int, int, int, off_t, off_t)
REAL(fallocate64, int, int, int, off64_t, off64_t)
REAL(posix_fallocate, int, int, off_t, off_t)
REAL(posix_fallocate64, int, int, off64_t, off64_t)
REAL(rename, int, const char*, const char*)
REAL(renameat, int, int, const char*, int, const char*)
REAL(renameat2, int, int, const char*, int, const char*, unsigned)
REAL(unlink, int, const char*)
REAL(unlinkat, int, int, const char*, int)
REAL(fcntl, int, int, int, ...)
REAL(fcntl64, int, int, int, ...)
REAL(stat, int, const char*, struct stat*)
REAL(stat64, int, const char*, struct stat64*)
REAL(lstat, int, const char*, struct stat*)
REAL(lstat64, int, const char*, struct stat64*)
REAL(fstatat, int, int, const char*, struct stat*, int)
REAL(fstatat64, int, int, const char*, struct stat64*, int)
REAL(statfs, int, const char*, struct statfs*)
REAL(statfs64, int, const char*, struct statfs64*)
REAL(statvfs, int, const char*, struct statvfs*)
REAL(statvfs64, int, const char*, struct statvfs64*)
REAL(opendir, DIR*, const char*)
REAL(dup, int, int)
REAL(dup2, int, int, int)
REAL(dup3, int, int, int, int)

/* ---- small async-signal-safe helpers ------------------------------------------------------- */
static void say(const char* s) {
    ssize_t (*w)(int, const void*, size_t) = get_write();
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t k = w(2, s, n);
        if (k <= 0) return;
        s += k;
        n -= (size_t)k;
    }
}
static char* put_str(char* p, char* end, const char* s) {
    while (*s && p < end) *p++ = *s++;
    return p;
}
static char* put_long(char* p, char* end, long v) {
    char digits[24];
    int n = 0;
    if (v < 0) {
        if (p < end) *p++ = '-';
        v = -v;
    }
    do digits[n++] = (char)('0' + v % 10); while ((v /= 10) > 0 && n < 23);
    while (n > 0 && p < end) *p++ = digits[--n];
    return p;
}
static const char* base_name(const char* path) {
    const char* slash = strrchr(path, '/');
    if (slash && slash[1]) return slash + 1;
    if (slash && slash != path) { /* "dir/": the component before the slash */
        const char* q = slash - 1;
        while (q > path && q[-1] != '/') --q;
        return q;
    }
    return path;
}

/* `pattern` with "%r" replaced by the rank (or ".<rank>" appended when it has none). */
static void rank_path(const char* pattern, char* path, size_t size) {
    char *p = path, *end = path + size - 1;
    int had_rank = 0;
    for (const char* s = pattern; *s && p < end; ++s) {
        if (s[0] == '%' && s[1] == 'r') {
            p = put_long(p, end, my_rank);
            ++s;
            had_rank = 1;
        } else {
            *p++ = *s;
        }
    }
    if (!had_rank) {
        p = put_str(p, end, ".");
        p = put_long(p, end, my_rank);
    }
    *p = '\0';
}

/* strncpy that always terminates (and that GCC does not warn about). */
static void copy_str(char* dst, const char* src, size_t size) {
    size_t i = 0;
    for (; i + 1 < size && src[i]; ++i) dst[i] = src[i];
    dst[i] = '\0';
}

static int path_matches(const char* path) {
    return path && (cfg_path[0] == '\0' || strstr(path, cfg_path) != NULL);
}

/* The fd's path, through /proc/self/fd; "" when it has none (a socket keeps its "socket:[..]"). */
static void fd_path(int fd, char* out, size_t size) {
    char link[40], *p = link, *end = link + sizeof link - 1;
    p = put_str(p, end, "/proc/self/fd/");
    p = put_long(p, end, fd);
    *p = '\0';
    ssize_t n = readlink(link, out, size - 1);
    out[n > 0 ? n : 0] = '\0';
}

static int fd_matches(int fd, char* name, size_t size) {
    if (fd < 0) return 0;
    unsigned char s = fd < FD_CACHE ? atomic_load(&fd_state[fd]) : 0;
    if (s == 2) return 0;
    char path[4096];
    fd_path(fd, path, sizeof path);
    const int m = path_matches(path);
    if (fd < FD_CACHE) atomic_store(&fd_state[fd], (unsigned char)(m ? 1 : 2));
    if (m && name) {
        copy_str(name, base_name(path), size);
    }
    return m;
}
static void fd_forget(int fd) {
    if (fd >= 0 && fd < FD_CACHE) atomic_store(&fd_state[fd], 0);
}

/* ---- the decision ------------------------------------------------------------------------- */
static int act_for(int kind, const char* path, int fd) {
    if (!cfg_active || in_shim || !atomic_load(&armed)) return A_NONE;
    const int saved = errno;
    in_shim = 1;
    char name[63] = "";
    int m;
    if (path) {
        m = path_matches(path);
        if (m) {
            copy_str(name, base_name(path), sizeof name);
        }
    } else {
        m = fd_matches(fd, name, sizeof name);
    }
    int act = A_NONE;
    if (m) {
        const long seq = atomic_fetch_add(&seen, 1);
        atomic_fetch_add(&per_kind[kind], 1);
        if (seq < LOG_SIZE) {
            call_log[seq].kind = (unsigned char)kind;
            memcpy(call_log[seq].name, name, sizeof name);
        }
        if (cfg_n > 0 && (cfg_calls & (1u << kind)) && (cfg_rank_all || cfg_rank == my_rank)) {
            const long n = atomic_fetch_add(&matched, 1) + 1;
            if (n == cfg_n || (cfg_sticky && n > cfg_n && cfg_action != A_KILL && cfg_action != A_KILL_AFTER))
                act = cfg_action;
            if (act != A_NONE) {
                atomic_fetch_add(&injected, 1);
                char line[256], *p = line, *end = line + sizeof line - 2;
                static const char* const what[] = {"", "kill", "kill after the call", "EIO", "ENOSPC", "delay"};
                p = put_str(p, end, "fault_shim: rank ");
                p = put_long(p, end, my_rank);
                p = put_str(p, end, ": ");
                p = put_str(p, end, kind_names[kind]);
                p = put_str(p, end, " #");
                p = put_long(p, end, n);
                p = put_str(p, end, " (call ");
                p = put_long(p, end, seq + 1);
                p = put_str(p, end, ") on ");
                p = put_str(p, end, name[0] ? name : "?");
                p = put_str(p, end, ": ");
                p = put_str(p, end, what[act]);
                *p++ = '\n';
                *p = '\0';
                /* Sticky failures after the first are not reported one by one. */
                if (n == cfg_n) {
                    say(line);
                    if (cfg_hit_file[0]) {
                        char path[600];
                        rank_path(cfg_hit_file, path, sizeof path);
                        const int fd = get_open()(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
                        if (fd >= 0) {
                            if (get_write()(fd, line, strlen(line)) < 0) { /* nothing to do */ }
                            get_close()(fd);
                        }
                    }
                }
            }
        }
    }
    in_shim = 0;
    errno = saved;
    return act;
}

static void die(void) {
    kill(getpid(), SIGKILL);
    for (;;) pause();
}

/* Before the call: kill now, or fail it. Returns 1 if the call must not be made (errno set). */
static int before(int act) {
    if (act == A_KILL) die();
    if (act == A_EIO) {
        errno = EIO;
        return 1;
    }
    if (act == A_ENOSPC) {
        errno = ENOSPC;
        return 1;
    }
    if (act == A_DELAY) {
        const int saved = errno;
        struct timespec left = {cfg_delay_ms / 1000, (cfg_delay_ms % 1000) * 1000000L};
        while (nanosleep(&left, &left) != 0 && errno == EINTR) {
        }
        errno = saved;
    }
    return 0;
}
static void after(int act) {
    if (act == A_KILL_AFTER) die();
}

/* ---- the count file ------------------------------------------------------------------------ */
static void write_counts(void) {
    if (!cfg_active || cfg_count_file[0] == '\0') return;
    int saved = errno;
    in_shim = 1;
    char path[600], *p, *end;
    rank_path(cfg_count_file, path, sizeof path);
    int (*op)(const char*, int, ...) = get_open();
    const int fd = op(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        in_shim = 0;
        errno = saved;
        return;
    }
    ssize_t (*w)(int, const void*, size_t) = get_write();
    char line[160];
    p = line;
    end = line + sizeof line - 2;
    p = put_str(p, end, "rank ");
    p = put_long(p, end, my_rank);
    p = put_str(p, end, "\ntotal ");
    p = put_long(p, end, atomic_load(&seen));
    p = put_str(p, end, "\ninjected ");
    p = put_long(p, end, atomic_load(&injected));
    *p++ = '\n';
    if (w(fd, line, (size_t)(p - line)) < 0) goto done;
    for (int k = 0; k < K_COUNT; ++k) {
        p = put_str(line, end, "count ");
        p = put_str(p, end, kind_names[k]);
        p = put_str(p, end, " ");
        p = put_long(p, end, atomic_load(&per_kind[k]));
        *p++ = '\n';
        if (w(fd, line, (size_t)(p - line)) < 0) goto done;
    }
    const long n = atomic_load(&seen) < LOG_SIZE ? atomic_load(&seen) : LOG_SIZE;
    for (long i = 0; i < n; ++i) {
        p = put_str(line, end, "call ");
        p = put_long(p, end, i + 1);
        p = put_str(p, end, " ");
        p = put_str(p, end, kind_names[call_log[i].kind]);
        p = put_str(p, end, " ");
        p = put_str(p, end, call_log[i].name[0] ? call_log[i].name : "?");
        *p++ = '\n';
        if (w(fd, line, (size_t)(p - line)) < 0) goto done;
    }
done:
    get_close()(fd);
    in_shim = 0;
    errno = saved;
}

/* Called by a program that knows when its checkpoint starts and ends (found with dlsym, so the
 * program runs unchanged without the shim). Disarming writes the count file. */
EXPORT void ckpt_fault_arm(int on) {
    atomic_store(&armed, on ? 1 : 0);
    if (!on) write_counts();
}
EXPORT long ckpt_fault_injected(void) { return atomic_load(&injected); }

static unsigned parse_calls(const char* s) {
    if (!s || !*s || strcmp(s, "any") == 0) return ~0u;
    unsigned mask = 0;
    while (*s) {
        const char* comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        for (int k = 0; k < K_COUNT; ++k)
            if (strlen(kind_names[k]) == len && strncmp(kind_names[k], s, len) == 0) mask |= 1u << k;
        if (len == 3 && strncmp(s, "any", 3) == 0) mask = ~0u;
        s += len;
        if (*s == ',') ++s;
    }
    return mask;
}

__attribute__((constructor)) static void init(void) {
    /* The launcher (mpiexec, hydra's proxy) is never faulted, even if LD_PRELOAD reaches it. */
    const char* prog = program_invocation_short_name;
    if (strncmp(prog, "mpiexec", 7) == 0 || strncmp(prog, "mpirun", 6) == 0 || strncmp(prog, "hydra", 5) == 0)
        return;
    const char* r = getenv("PMI_RANK");
    if (!r) r = getenv("OMPI_COMM_WORLD_RANK");
    my_rank = r ? atoi(r) : 0;
    const char* v;
    if ((v = getenv("CKPT_FAULT_PATH"))) copy_str(cfg_path, v, sizeof cfg_path);
    cfg_calls = parse_calls(getenv("CKPT_FAULT_CALL"));
    cfg_n = (v = getenv("CKPT_FAULT_N")) ? atol(v) : 0;
    if ((v = getenv("CKPT_FAULT_ACTION"))) {
        if (strcmp(v, "kill") == 0) cfg_action = A_KILL;
        else if (strcmp(v, "kill-after") == 0) cfg_action = A_KILL_AFTER;
        else if (strcmp(v, "eio") == 0) cfg_action = A_EIO;
        else if (strcmp(v, "enospc") == 0) cfg_action = A_ENOSPC;
        else if (strcmp(v, "delay") == 0) cfg_action = A_DELAY;
        else say("fault_shim: unknown CKPT_FAULT_ACTION (kill, kill-after, eio, enospc, delay); counting only\n");
    }
    if (cfg_action == A_NONE) cfg_n = 0;
    if ((v = getenv("CKPT_FAULT_RANK")) && strcmp(v, "all") != 0) {
        cfg_rank_all = 0;
        cfg_rank = atoi(v);
    }
    cfg_sticky = (v = getenv("CKPT_FAULT_STICKY")) && strcmp(v, "1") == 0;
    if ((v = getenv("CKPT_FAULT_DELAY_MS"))) cfg_delay_ms = atol(v);
    if ((v = getenv("CKPT_FAULT_COUNT_FILE"))) copy_str(cfg_count_file, v, sizeof cfg_count_file);
    if ((v = getenv("CKPT_FAULT_HIT_FILE"))) copy_str(cfg_hit_file, v, sizeof cfg_hit_file);
    atomic_store(&armed, !((v = getenv("CKPT_FAULT_ARMED")) && strcmp(v, "0") == 0));
    cfg_active = 1;
}

__attribute__((destructor)) static void fini(void) {
    if (atomic_load(&armed)) write_counts();
}

/* ---- the interposed calls ----------------------------------------------------------------- */
#define MODE_ARG(flags, mode)                                  \
    mode_t mode = 0;                                           \
    if ((flags) & (O_CREAT | O_TMPFILE)) {                     \
        va_list ap;                                            \
        va_start(ap, flags);                                   \
        mode = (mode_t)va_arg(ap, int);                        \
        va_end(ap);                                            \
    }

#define OPEN_BODY(call)                       \
    const int act = act_for(K_OPEN, path, -1); \
    if (before(act)) return -1;                \
    const int fd = call;                       \
    fd_forget(fd);                             \
    after(act);                                \
    return fd;

EXPORT int open(const char* path, int flags, ...) {
    MODE_ARG(flags, mode)
    OPEN_BODY(get_open()(path, flags, mode))
}
EXPORT int open64(const char* path, int flags, ...) {
    MODE_ARG(flags, mode)
    OPEN_BODY(get_open64()(path, flags, mode))
}
EXPORT int openat(int dirfd, const char* path, int flags, ...) {
    MODE_ARG(flags, mode)
    OPEN_BODY(get_openat()(dirfd, path, flags, mode))
}
EXPORT int openat64(int dirfd, const char* path, int flags, ...) {
    MODE_ARG(flags, mode)
    OPEN_BODY(get_openat64()(dirfd, path, flags, mode))
}
EXPORT int creat(const char* path, mode_t mode) { OPEN_BODY(get_creat()(path, mode)) }
EXPORT int creat64(const char* path, mode_t mode) { OPEN_BODY(get_creat64()(path, mode)) }

EXPORT int dup(int old) {
    const int fd = get_dup()(old);
    fd_forget(fd);
    return fd;
}
EXPORT int dup2(int old, int new_fd) {
    const int fd = get_dup2()(old, new_fd);
    fd_forget(new_fd);
    return fd;
}
EXPORT int dup3(int old, int new_fd, int flags) {
    const int fd = get_dup3()(old, new_fd, flags);
    fd_forget(new_fd);
    return fd;
}

/* Linux releases the descriptor even when close() reports an error (a deferred write error on
 * NFS): a failed close here closes it too, then reports the error. */
EXPORT int close(int fd) {
    const int act = act_for(K_CLOSE, NULL, fd);
    if (act == A_KILL) die();
    fd_forget(fd);
    const int rc = get_close()(fd);
    if (act == A_EIO || act == A_ENOSPC) {
        errno = act == A_EIO ? EIO : ENOSPC;
        return -1;
    }
    after(act);
    return rc;
}

#define FD_BODY(kind, fd, call, fail) \
    const int act = act_for(kind, NULL, fd); \
    if (before(act)) return fail;            \
    __typeof__(call) rc = call;              \
    after(act);                              \
    return rc;

EXPORT ssize_t read(int fd, void* buf, size_t n) { FD_BODY(K_READ, fd, get_read()(fd, buf, n), -1) }
EXPORT ssize_t pread(int fd, void* buf, size_t n, off_t off) { FD_BODY(K_PREAD, fd, get_pread()(fd, buf, n, off), -1) }
EXPORT ssize_t pread64(int fd, void* buf, size_t n, off64_t off) {
    FD_BODY(K_PREAD, fd, get_pread64()(fd, buf, n, off), -1)
}
EXPORT ssize_t write(int fd, const void* buf, size_t n) { FD_BODY(K_WRITE, fd, get_write()(fd, buf, n), -1) }
EXPORT ssize_t pwrite(int fd, const void* buf, size_t n, off_t off) {
    FD_BODY(K_PWRITE, fd, get_pwrite()(fd, buf, n, off), -1)
}
EXPORT ssize_t pwrite64(int fd, const void* buf, size_t n, off64_t off) {
    FD_BODY(K_PWRITE, fd, get_pwrite64()(fd, buf, n, off), -1)
}
EXPORT ssize_t writev(int fd, const struct iovec* iov, int n) { FD_BODY(K_WRITEV, fd, get_writev()(fd, iov, n), -1) }
EXPORT ssize_t pwritev(int fd, const struct iovec* iov, int n, off_t off) {
    FD_BODY(K_WRITEV, fd, get_pwritev()(fd, iov, n, off), -1)
}
EXPORT off_t lseek(int fd, off_t off, int whence) { FD_BODY(K_LSEEK, fd, get_lseek()(fd, off, whence), (off_t)-1) }
EXPORT off64_t lseek64(int fd, off64_t off, int whence) {
    FD_BODY(K_LSEEK, fd, get_lseek64()(fd, off, whence), (off64_t)-1)
}
EXPORT int fsync(int fd) { FD_BODY(K_FSYNC, fd, get_fsync()(fd), -1) }
EXPORT int fdatasync(int fd) { FD_BODY(K_FDATASYNC, fd, get_fdatasync()(fd), -1) }
EXPORT int ftruncate(int fd, off_t len) { FD_BODY(K_FTRUNCATE, fd, get_ftruncate()(fd, len), -1) }
EXPORT int ftruncate64(int fd, off64_t len) { FD_BODY(K_FTRUNCATE, fd, get_ftruncate64()(fd, len), -1) }
EXPORT int fallocate(int fd, int mode, off_t off, off_t len) {
    FD_BODY(K_FALLOCATE, fd, get_fallocate()(fd, mode, off, len), -1)
}
EXPORT int fallocate64(int fd, int mode, off64_t off, off64_t len) {
    FD_BODY(K_FALLOCATE, fd, get_fallocate64()(fd, mode, off, len), -1)
}

/* posix_fallocate returns the error number instead of setting errno. */
#define PF_BODY(call)                                  \
    const int act = act_for(K_POSIX_FALLOCATE, NULL, fd); \
    if (act == A_KILL) die();                          \
    if (act == A_EIO) return EIO;                      \
    if (act == A_ENOSPC) return ENOSPC;                \
    const int rc = call;                               \
    after(act);                                        \
    return rc;
EXPORT int posix_fallocate(int fd, off_t off, off_t len) { PF_BODY(get_posix_fallocate()(fd, off, len)) }
EXPORT int posix_fallocate64(int fd, off64_t off, off64_t len) { PF_BODY(get_posix_fallocate64()(fd, off, len)) }

#define PATH_BODY(kind, path, call)            \
    const int act = act_for(kind, path, -1);   \
    if (before(act)) return -1;                \
    const int rc = call;                       \
    after(act);                                \
    return rc;

/* A rename counts when either name matches; it is reported by its source. */
static const char* either(const char* a, const char* b) { return path_matches(a) ? a : b; }
EXPORT int rename(const char* from, const char* to) { PATH_BODY(K_RENAME, either(from, to), get_rename()(from, to)) }
EXPORT int renameat(int fd1, const char* from, int fd2, const char* to) {
    PATH_BODY(K_RENAME, either(from, to), get_renameat()(fd1, from, fd2, to))
}
EXPORT int renameat2(int fd1, const char* from, int fd2, const char* to, unsigned flags) {
    PATH_BODY(K_RENAME, either(from, to), get_renameat2()(fd1, from, fd2, to, flags))
}
EXPORT int unlink(const char* path) { PATH_BODY(K_UNLINK, path, get_unlink()(path)) }
EXPORT int unlinkat(int dirfd, const char* path, int flags) {
    PATH_BODY(K_UNLINK, path, get_unlinkat()(dirfd, path, flags))
}

/* fcntl: only the record locks count (ROMIO locks around its read-modify-write of a block);
 * F_SETFD and the like pass straight through. */
static int is_lock(int cmd) {
    return cmd == F_SETLK || cmd == F_SETLKW || cmd == F_GETLK
#ifdef F_OFD_SETLK
           || cmd == F_OFD_SETLK || cmd == F_OFD_SETLKW || cmd == F_OFD_GETLK
#endif
        ;
}
#define FCNTL_BODY(real)                                  \
    va_list ap;                                           \
    va_start(ap, cmd);                                    \
    void* arg = va_arg(ap, void*);                        \
    va_end(ap);                                           \
    const int act = is_lock(cmd) ? act_for(K_LOCK, NULL, fd) : A_NONE; \
    if (before(act)) return -1;                           \
    const int rc = real(fd, cmd, arg);                    \
    if (rc >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)) fd_forget(rc); \
    after(act);                                           \
    return rc;
EXPORT int fcntl(int fd, int cmd, ...) { FCNTL_BODY(get_fcntl()) }
EXPORT int fcntl64(int fd, int cmd, ...) { FCNTL_BODY(get_fcntl64()) }

EXPORT int stat(const char* path, struct stat* st) { PATH_BODY(K_STAT, path, get_stat()(path, st)) }
EXPORT int stat64(const char* path, struct stat64* st) { PATH_BODY(K_STAT, path, get_stat64()(path, st)) }
EXPORT int lstat(const char* path, struct stat* st) { PATH_BODY(K_STAT, path, get_lstat()(path, st)) }
EXPORT int lstat64(const char* path, struct stat64* st) { PATH_BODY(K_STAT, path, get_lstat64()(path, st)) }
/* fstatat with an empty path is fstat of the fd (AT_EMPTY_PATH): counted by the fd's name. */
EXPORT int fstatat(int dirfd, const char* path, struct stat* st, int flags) {
    if (path[0] == '\0') { FD_BODY(K_STAT, dirfd, get_fstatat()(dirfd, path, st, flags), -1) }
    PATH_BODY(K_STAT, path, get_fstatat()(dirfd, path, st, flags))
}
EXPORT int fstatat64(int dirfd, const char* path, struct stat64* st, int flags) {
    if (path[0] == '\0') { FD_BODY(K_STAT, dirfd, get_fstatat64()(dirfd, path, st, flags), -1) }
    PATH_BODY(K_STAT, path, get_fstatat64()(dirfd, path, st, flags))
}
EXPORT int statfs(const char* path, struct statfs* st) { PATH_BODY(K_STATFS, path, get_statfs()(path, st)) }
EXPORT int statfs64(const char* path, struct statfs64* st) { PATH_BODY(K_STATFS, path, get_statfs64()(path, st)) }
EXPORT int statvfs(const char* path, struct statvfs* st) { PATH_BODY(K_STATFS, path, get_statvfs()(path, st)) }
EXPORT int statvfs64(const char* path, struct statvfs64* st) { PATH_BODY(K_STATFS, path, get_statvfs64()(path, st)) }

/* opendir opens the directory with glibc's internal open, which no interposer sees. */
EXPORT DIR* opendir(const char* path) {
    const int act = act_for(K_OPENDIR, path, -1);
    if (before(act)) return NULL;
    DIR* d = get_opendir()(path);
    if (d) fd_forget(dirfd(d));
    after(act);
    return d;
}
