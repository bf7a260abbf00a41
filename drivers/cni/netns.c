/* Pinned network namespaces: a bind mount of a namespace on a file in the netns dir, as `ip netns add`
 * makes them, so they outlive every process in them and `ip netns` lists them. Raw mount and namespace
 * calls live here only. */
#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "drivers/cni/cni-internal.h"

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

static const char *netns_dir(const char *dir)
{
        return dir ? dir : CNI_DEFAULT_NETNS_DIR;
}

int cni_netns_path(const char *dir, const char *name, char *ret, size_t size)
{
        if (!name || !*name || strchr(name, '/') || streq(name, ".") || streq(name, ".."))
                return -EINVAL;
        int n = snprintf(ret, size, "%s/%s", netns_dir(dir), name);
        return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int cni_netns_dir_prepare(const char *dir)
{
        dir = netns_dir(dir);
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return -errno;
        /* Shared, so a namespace pinned here shows in every mount namespace that shares the directory (and
         * its unmount too). Changing propagation needs a mount point: the first time, make the directory
         * one by binding it on itself. Later calls find the mount and bind nothing more. */
        if (mount("", dir, "none", MS_SHARED | MS_REC, NULL) == 0)
                return 0;
        if (errno != EINVAL)
                return -errno;
        if (mount(dir, dir, "none", MS_BIND | MS_REC, NULL) < 0)
                return -errno;
        return mount("", dir, "none", MS_SHARED | MS_REC, NULL) < 0 ? -errno : 0;
}

int cni_netns_path_check(const char *path)
{
        struct statfs st;
        if (statfs(path, &st) < 0)
                return errno == ENOENT ? 0 : -errno;
        return st.f_type == NSFS_MAGIC ? 1 : 0;
}

int cni_netns_check(const char *dir, const char *name)
{
        char path[4096];
        int r = cni_netns_path(dir, name, path, sizeof(path));
        return r < 0 ? r : cni_netns_path_check(path);
}

/* In the new namespace: lo up, so a cell's processes reach themselves on 127.0.0.1. */
static int loopback_up(void)
{
        _cleanup_close_ int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (s < 0)
                return -errno;
        struct ifreq ifr = {0};
        snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
        if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
                return -errno;
        ifr.ifr_flags |= IFF_UP;
        return ioctl(s, SIOCSIFFLAGS, &ifr) < 0 ? -errno : 0;
}

typedef struct PinJob {
        char path[4096];
        int r;
} PinJob;

/* Before the pin: the path, whether it is pinned already (0), the directory, the mount-point file (a
 * plain file left by a crash between creating it and mounting on it is taken over). 1 when there is work. */
static int pin_prepare(const char *dir, const char *name, PinJob *job)
{
        int r = cni_netns_path(dir, name, job->path, sizeof(job->path));
        if (r < 0)
                return r;
        r = cni_netns_path_check(job->path);
        if (r != 0)
                return r < 0 ? r : 0;
        r = cni_netns_dir_prepare(dir);
        if (r < 0)
                return r;
        int fd = open(job->path, O_RDONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0444);
        if (fd < 0)
                return -errno;
        close(fd);
        return 1;
}

/* Moves the calling thread into a new network namespace and pins it. Only for a thread of its own that
 * ends right after: nothing else may ever run in it. */
static void pin_in_this_thread(PinJob *job)
{
        job->r = unshare(CLONE_NEWNET) < 0 ? -errno : loopback_up();
        if (job->r >= 0 && mount("/proc/thread-self/ns/net", job->path, "none", MS_BIND, NULL) < 0)
                job->r = -errno;
        if (job->r < 0)
                (void)unlink(job->path);
        else
                job->r = 1;
}

static void *pin_thread(void *userdata)
{
        pin_in_this_thread(userdata);
        return NULL;
}

int cni_netns_create(const char *dir, const char *name)
{
        _cleanup_free_ PinJob *job = calloc(1, sizeof(PinJob));
        if (!job)
                return -ENOMEM;
        int r = pin_prepare(dir, name, job);
        if (r <= 0)
                return r;
        pthread_t t;
        r = -pthread_create(&t, NULL, pin_thread, job);
        if (r < 0) {
                (void)unlink(job->path);
                return r;
        }
        (void)pthread_join(t, NULL);
        return job->r;
}

typedef struct AsyncPin {
        uv_async_t async;
        pthread_t thread;
        char *dir;
        char *name;
        PinJob job;
        bool started;
        cni_netns_cb cb;
        void *userdata;
} AsyncPin;

static void async_pin_free(AsyncPin *a)
{
        free(a->dir);
        free(a->name);
        free(a);
}

/* A thread of its own: prepares, then pins itself, then ends. */
static void *async_pin_thread(void *userdata)
{
        AsyncPin *a = userdata;
        a->job.r = pin_prepare(a->dir, a->name, &a->job);
        if (a->job.r > 0)
                pin_in_this_thread(&a->job);
        uv_async_send(&a->async);
        return NULL;
}

static void on_pin_closed(uv_handle_t *h)
{
        AsyncPin *a = h->data;
        if (a->started)
                a->cb(a->job.r, a->userdata);
        async_pin_free(a);
}

static void on_pin_done(uv_async_t *h)
{
        AsyncPin *a = h->data;
        /* the thread's last act was the send: the join returns at once */
        (void)pthread_join(a->thread, NULL);
        uv_close((uv_handle_t *)&a->async, on_pin_closed);
}

int cni_netns_create_async(uv_loop_t *loop, const char *dir, const char *name, cni_netns_cb cb,
                           void *userdata)
{
        char path[4096];
        int r = cni_netns_path(dir, name, path, sizeof(path));
        if (r < 0)
                return r;
        AsyncPin *a = calloc(1, sizeof(AsyncPin));
        if (!a)
                return -ENOMEM;
        a->dir = dir ? strdup(dir) : NULL;
        a->name = strdup(name);
        if ((dir && !a->dir) || !a->name) {
                async_pin_free(a);
                return -ENOMEM;
        }
        a->cb = cb;
        a->userdata = userdata;
        r = uv_async_init(loop, &a->async, on_pin_done);
        if (r < 0) {
                async_pin_free(a);
                return r;
        }
        a->async.data = a;
        r = -pthread_create(&a->thread, NULL, async_pin_thread, a);
        if (r < 0) {
                uv_close((uv_handle_t *)&a->async, on_pin_closed); /* frees; cb does not run */
                return r;
        }
        a->started = true;
        return 0;
}

int cni_netns_delete(const char *dir, const char *name)
{
        char path[4096];
        int r = cni_netns_path(dir, name, path, sizeof(path));
        if (r < 0)
                return r;
        bool removed = false;
        /* every mount on the file (one, unless someone stacked more) */
        for (int i = 0; i < 16; i++) {
                if (umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) < 0) {
                        if (errno == EINVAL || errno == ENOENT)
                                break;
                        return -errno;
                }
                removed = true;
        }
        if (unlink(path) < 0) {
                if (errno != ENOENT)
                        return -errno;
        } else
                removed = true;
        return removed ? 1 : 0;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

char **cni_strv_free(char **v)
{
        if (v)
                for (char **p = v; *p; p++)
                        free(*p);
        free(v);
        return NULL;
}

int cni_netns_list(const char *dir, char ***ret, size_t *ret_n)
{
        DIR *d = opendir(netns_dir(dir));
        size_t n = 0;
        _cleanup_strv_ char **v = calloc(1, sizeof(char *));
        if (!v) {
                if (d)
                        closedir(d);
                return -ENOMEM;
        }
        if (!d) {
                if (errno != ENOENT)
                        return -errno;
                goto done;
        }
        struct dirent *de;
        int r = 0;
        while ((de = readdir(d))) {
                if (strncmp(de->d_name, CNI_NETNS_PREFIX, strlen(CNI_NETNS_PREFIX)) != 0)
                        continue;
                char **grown = realloc(v, (n + 2) * sizeof(char *));
                if (!grown) {
                        r = -ENOMEM;
                        break;
                }
                v = grown;
                v[n + 1] = NULL;
                if (!(v[n] = strdup(de->d_name))) {
                        r = -ENOMEM;
                        break;
                }
                n++;
        }
        closedir(d);
        if (r < 0)
                return r;
        qsort(v, n, sizeof(char *), cmp_str);
done:
        *ret = TAKE_PTR(v);
        if (ret_n)
                *ret_n = n;
        return 0;
}
