#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "common/macro.h"
#include "common/pidlock.h"

static int pidlock_path(const char *state_dir, char *buf, size_t size)
{
        int n = snprintf(buf, size, "%s/kukeond.pid", state_dir);
        return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static pid_t pidlock_read_pid(int fd)
{
        char buf[32];
        ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
        if (n <= 0)
                return 0;
        buf[n] = '\0';
        long v = strtol(buf, NULL, 10);
        return v > 0 ? (pid_t)v : 0;
}

int pidlock_acquire(const char *state_dir, pid_t *ret_holder)
{
        char path[4096];
        int r = pidlock_path(state_dir, path, sizeof(path));
        if (r < 0)
                return r;
        if (mkdir(state_dir, 0755) < 0 && errno != EEXIST)
                return negative_errno();
        _cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return negative_errno();
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                r = negative_errno();
                if (ret_holder)
                        *ret_holder = pidlock_read_pid(fd);
                return r == -EAGAIN ? -EWOULDBLOCK : r;
        }
        char pid[32];
        int n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
        if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)n, 0) != n)
                return negative_errno();
        return TAKE_FD(fd);
}

int pidlock_test(const char *state_dir, pid_t *ret_holder)
{
        char path[4096];
        int r = pidlock_path(state_dir, path, sizeof(path));
        if (r < 0)
                return r;
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return errno == ENOENT ? 0 : negative_errno();
        if (flock(fd, LOCK_SH | LOCK_NB) < 0) {
                if (errno != EWOULDBLOCK)
                        return negative_errno();
                if (ret_holder)
                        *ret_holder = pidlock_read_pid(fd);
                return 1;
        }
        (void)flock(fd, LOCK_UN);
        return 0;
}
