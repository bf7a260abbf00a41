/* Small shared macros: cleanup attributes, ownership transfer, array sizes. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define _cleanup_(f)         __attribute__((cleanup(f)))
#define _unused_             __attribute__((unused))
#define _printf_(a, b)       __attribute__((format(printf, a, b)))
#define _warn_unused_result_ __attribute__((warn_unused_result))

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Hand out a pointer owned by a cleanup variable: the variable is reset to NULL. */
#define TAKE_PTR(p)                                                                                         \
        ({                                                                                                  \
                __typeof__(p) _tp = (p);                                                                    \
                (p) = NULL;                                                                                 \
                _tp;                                                                                        \
        })

/* Hand out a file descriptor owned by a cleanup variable: the variable is reset to -EBADF. */
#define TAKE_FD(fd)                                                                                         \
        ({                                                                                                  \
                int _tfd = (fd);                                                                            \
                (fd) = -EBADF;                                                                              \
                _tfd;                                                                                       \
        })

static inline void freep(void *p)
{
        free(*(void **)p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void closep(int *fd)
{
        if (*fd >= 0) {
                int saved = errno;
                close(*fd);
                errno = saved;
        }
}
#define _cleanup_close_ _cleanup_(closep)

/* Declares foop(T **p) calling foo_free(*p), for _cleanup_(foop). */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)                                                             \
        static inline void func##p(type *p)                                                                 \
        {                                                                                                   \
                if (*p)                                                                                     \
                        func(*p);                                                                           \
        }

static inline const char *strempty(const char *s)
{
        return s ? s : "";
}

static inline int streq_ptr(const char *a, const char *b)
{
        if (!a || !b)
                return a == b;
        return strcmp(a, b) == 0;
}

#define streq(a, b) (strcmp((a), (b)) == 0)

/* Negative errno from the last libc failure, never 0. */
/* True when s begins with prefix. */
static inline bool startswith(const char *s, const char *prefix)
{
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

static inline int negative_errno(void)
{
        return errno > 0 ? -errno : -EIO;
}
