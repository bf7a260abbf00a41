/* The watcher thread: the only code that calls libinotifytools (see watcher.h and docs/watching.md). */
#include <dirent.h>
#include <fcntl.h>
#include <inotifytools/inotify.h>
#include <inotifytools/inotifytools.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "common/macro.h"
#include "daemon/watcher.h"

#define WAKE_FILE_NAME ".kukeond-watcher"
/* Watches whose directory went away: libinotifytools keeps their records (it cannot drop a record
 * without inotify_rm_watch, which fails for them), so past this many the watches are set up anew. */
#define STALE_WATCHES_MAX 512
#define WALK_DEPTH_MAX    8

typedef struct WatcherEvent {
        char *relpath;
        uint32_t mask;
} WatcherEvent;

struct Watcher {
        uv_async_t async; /* the thread → the loop */
        pthread_t thread;
        bool has_thread;
        atomic_bool is_stopping;
        char *root; /* with a trailing '/' */
        size_t root_len;
        char *wake_path;
        int wake_wd; /* thread only */
        /* watches the kernel dropped (IN_IGNORED): their records keep their names in the library, so
         * a directory made again under the same name would look watched */
        int stale[STALE_WATCHES_MAX];
        unsigned n_stale;
        watcher_event_cb cb;
        void *userdata;

        pthread_mutex_t lock; /* protects the fields below */
        WatcherEvent *queue;
        size_t n_queue, cap_queue;
        bool has_overflow;
};

/* ---- thread side ---- */

static void queue_push(Watcher *w, const char *relpath, uint32_t mask)
{
        bool wake = false;
        pthread_mutex_lock(&w->lock);
        if (w->has_overflow || w->n_queue >= WATCHER_QUEUE_MAX) {
                w->has_overflow = true;
        } else {
                if (w->n_queue == w->cap_queue) {
                        size_t cap = w->cap_queue ? w->cap_queue * 2 : 64;
                        WatcherEvent *q = realloc(w->queue, cap * sizeof(*q));
                        if (q) {
                                w->queue = q;
                                w->cap_queue = cap;
                        }
                }
                char *p = w->n_queue < w->cap_queue ? strdup(relpath) : NULL;
                if (p)
                        w->queue[w->n_queue++] = (WatcherEvent){p, mask};
                else
                        w->has_overflow = true; /* out of memory: a resync covers what we drop */
        }
        wake = true;
        pthread_mutex_unlock(&w->lock);
        if (wake)
                (void)uv_async_send(&w->async);
}

static void push_failure(Watcher *w, const char *what, int error)
{
        char msg[PATH_MAX + 128];
        snprintf(msg, sizeof(msg), "%s: %s", what, strerror(error ? error : EIO));
        queue_push(w, msg, WATCHER_FAILED);
}

static bool has_dot_component(const char *rel)
{
        for (const char *p = rel; *p; p++)
                if (*p == '.' && (p == rel || p[-1] == '/'))
                        return true;
        return false;
}

static bool is_stale(const Watcher *w, int wd)
{
        for (unsigned i = 0; i < w->n_stale; i++)
                if (w->stale[i] == wd)
                        return true;
        return false;
}

/* Sets up every watch from scratch. Returns 0 or the errno of what failed. */
static int watch_all(Watcher *w)
{
        if (!inotifytools_initialize())
                return inotifytools_error() ? inotifytools_error() : EIO;
        if (!inotifytools_watch_file(w->wake_path, IN_ATTRIB | IN_CLOSE_WRITE))
                return inotifytools_error() ? inotifytools_error() : EIO;
        w->wake_wd = inotifytools_wd_from_filename(w->wake_path);
        if (!inotifytools_watch_recursively(w->root, WATCHER_EVENTS))
                return inotifytools_error() ? inotifytools_error() : EIO;
        w->n_stale = 0;
        return 0;
}

/* Events were lost, or the watches' names went stale: start over, then have everything rescanned. */
static bool rewatch(Watcher *w)
{
        inotifytools_cleanup();
        int e = watch_all(w);
        if (e) {
                push_failure(w, "setting the watches up again", e);
                return false;
        }
        queue_push(w, "", WATCHER_RESYNC);
        return true;
}

/* A new directory: watch it, then report what it already holds, so that files written before the watch
 * existed are not missed, and walk its subdirectories the same way. A subdirectory made after the watch
 * and before the listing is seen twice (its event and the listing): the second finds it watched. */
static void walk_new_dir(Watcher *w, const char *path, unsigned depth)
{
        char dirpath[PATH_MAX];
        if (snprintf(dirpath, sizeof(dirpath), "%s/", path) >= (int)sizeof(dirpath))
                return;
        int wd = inotifytools_wd_from_filename(dirpath);
        if (wd < 0 || is_stale(w, wd))
                (void)inotifytools_watch_file(dirpath, WATCHER_EVENTS);
        if (depth >= WALK_DEPTH_MAX)
                return;
        DIR *d = opendir(path);
        if (!d)
                return;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                char child[PATH_MAX];
                struct stat st;
                if (snprintf(child, sizeof(child), "%s/%s", path, de->d_name) >= (int)sizeof(child) ||
                    lstat(child, &st) < 0)
                        continue;
                if (S_ISDIR(st.st_mode)) {
                        queue_push(w, child + w->root_len, IN_CREATE | IN_ISDIR);
                        walk_new_dir(w, child, depth + 1);
                } else {
                        queue_push(w, child + w->root_len, S_ISREG(st.st_mode) ? IN_CLOSE_WRITE : IN_CREATE);
                }
        }
        closedir(d);
}

/* Returns false when watching has to stop. */
static bool handle_event(Watcher *w, const struct inotify_event *ev)
{
        if (ev->mask & IN_Q_OVERFLOW)
                return rewatch(w);
        if (ev->wd == w->wake_wd)
                return true;
        const char *dir = inotifytools_filename_from_wd(ev->wd);
        if (ev->mask & IN_IGNORED) {
                if (w->n_stale == STALE_WATCHES_MAX)
                        return rewatch(w);
                w->stale[w->n_stale++] = ev->wd;
                return true;
        }
        if (!dir || strncmp(dir, w->root, w->root_len) != 0)
                return true; /* a watch the library has no name for any more */
        char path[PATH_MAX];
        if (snprintf(path, sizeof(path), "%s%s", dir, ev->len ? ev->name : "") >= (int)sizeof(path))
                return true;
        size_t len = strlen(path);
        if (len > w->root_len && path[len - 1] == '/')
                path[len - 1] = '\0';
        const char *rel = strlen(path) >= w->root_len ? path + w->root_len : "";
        if (has_dot_component(rel))
                return true;
        if (!*rel && (ev->mask & IN_DELETE_SELF)) {
                push_failure(w, "the run path was removed", ENOENT);
                return false;
        }
        if ((ev->mask & IN_ISDIR) && (ev->mask & IN_MOVED_FROM)) {
                /* every watch below it now carries a stale name */
                queue_push(w, rel, ev->mask);
                return rewatch(w);
        }
        queue_push(w, rel, ev->mask);
        if ((ev->mask & IN_ISDIR) && (ev->mask & (IN_CREATE | IN_MOVED_TO)))
                walk_new_dir(w, path, 0);
        return true;
}

static void cleanup_library(void *unused)
{
        inotifytools_cleanup();
}

static void *watcher_main(void *userdata)
{
        Watcher *w = userdata;
        (void)pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
        int e = watch_all(w);
        if (e) {
                push_failure(w, "watching the run path", e);
                inotifytools_cleanup();
                return NULL;
        }
        queue_push(w, "", WATCHER_READY);
        pthread_cleanup_push(cleanup_library, NULL);
        while (!atomic_load(&w->is_stopping)) {
                /* only here may watcher_stop()'s fallback cancel us: inside the blocking select() */
                (void)pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
                struct inotify_event *ev = inotifytools_next_events(-1, 1);
                (void)pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
                if (atomic_load(&w->is_stopping))
                        break;
                if (!ev) {
                        e = inotifytools_error();
                        if (e == EINTR || e == 0)
                                continue;
                        push_failure(w, "reading inotify events", e);
                        break;
                }
                if (!handle_event(w, ev))
                        break;
        }
        pthread_cleanup_pop(1);
        return NULL;
}

/* ---- loop side ---- */

static void on_watcher_async(uv_async_t *handle)
{
        Watcher *w = handle->data;
        pthread_mutex_lock(&w->lock);
        WatcherEvent *q = w->queue;
        size_t n = w->n_queue;
        bool overflow = w->has_overflow;
        w->queue = NULL;
        w->n_queue = w->cap_queue = 0;
        w->has_overflow = false;
        pthread_mutex_unlock(&w->lock);

        for (size_t i = 0; i < n; i++) {
                if (!atomic_load(&w->is_stopping))
                        w->cb(q[i].relpath, q[i].mask, w->userdata);
                free(q[i].relpath);
        }
        free(q);
        if (overflow && !atomic_load(&w->is_stopping))
                w->cb("", WATCHER_RESYNC, w->userdata);
}

static void watcher_free(Watcher *w)
{
        for (size_t i = 0; i < w->n_queue; i++)
                free(w->queue[i].relpath);
        free(w->queue);
        pthread_mutex_destroy(&w->lock);
        free(w->root);
        free(w->wake_path);
        free(w);
}

static void on_async_closed(uv_handle_t *handle)
{
        watcher_free(handle->data);
}

static int make_wake_file(const char *path)
{
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        return fd < 0 ? negative_errno() : 0;
}

int watcher_start(uv_loop_t *loop, const char *root, const char *wake_dir, watcher_event_cb cb,
                  void *userdata, Watcher **ret)
{
        Watcher *w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        pthread_mutex_init(&w->lock, NULL);
        w->cb = cb;
        w->userdata = userdata;
        w->wake_wd = -1;
        size_t rl = strlen(root);
        if (asprintf(&w->root, "%s%s", root, rl && root[rl - 1] == '/' ? "" : "/") < 0 ||
            asprintf(&w->wake_path, "%s/" WAKE_FILE_NAME, wake_dir) < 0) {
                w->root = w->wake_path = NULL;
                watcher_free(w);
                return -ENOMEM;
        }
        w->root_len = strlen(w->root);
        int r = make_wake_file(w->wake_path);
        if (r >= 0)
                r = uv_async_init(loop, &w->async, on_watcher_async);
        if (r < 0) {
                watcher_free(w);
                return r;
        }
        w->async.data = w;

        /* the thread takes no signals: they are the loop's (uv_signal) */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        r = -pthread_create(&w->thread, NULL, watcher_main, w);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (r < 0) {
                uv_close((uv_handle_t *)&w->async, on_async_closed);
                return r;
        }
        w->has_thread = true;
        *ret = w;
        return 0;
}

void watcher_stop(Watcher *w)
{
        if (!w)
                return;
        atomic_store(&w->is_stopping, true);
        if (w->has_thread) {
                /* an IN_ATTRIB on the wake file ends the thread's wait; should that file be gone, the
                 * thread is cancelled where it waits */
                if (utimensat(AT_FDCWD, w->wake_path, NULL, AT_SYMLINK_NOFOLLOW) < 0)
                        (void)pthread_cancel(w->thread);
                (void)pthread_join(w->thread, NULL);
                w->has_thread = false;
        }
        (void)unlink(w->wake_path);
        uv_close((uv_handle_t *)&w->async, on_async_closed);
}
