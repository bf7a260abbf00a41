/* A cell's managed /etc/hosts and /etc/hostname: rendering them (pure) and rewriting the files in place,
 * since every container of the cell has them bind-mounted and a rename would leave the containers on the
 * old inode. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "drivers/cni/cni-internal.h"
#include "state/document.h"

/* The lines every hosts file starts with, as kukeon writes them. */
static const char hosts_preamble[] = "127.0.0.1\tlocalhost\n"
                                     "::1\tlocalhost ip6-localhost ip6-loopback\n"
                                     "fe00::\tip6-localnet\n"
                                     "ff00::\tip6-mcastprefix\n"
                                     "ff02::1\tip6-allnodes\n"
                                     "ff02::2\tip6-allrouters\n";

static bool ip_is_valid(const char *ip)
{
        unsigned char addr[16];
        return ip && (inet_pton(AF_INET, ip, addr) == 1 || inet_pton(AF_INET6, ip, addr) == 1);
}

static bool entry_is_valid(const CniHostEntry *e)
{
        return name_is_valid(e->stack) && name_is_valid(e->cell);
}

static int cmp_entry(const void *a, const void *b)
{
        const CniHostEntry *x = *(const CniHostEntry *const *)a, *y = *(const CniHostEntry *const *)b;
        int c = strcmp(x->cell, y->cell);
        if (c == 0)
                c = strcmp(x->stack, y->stack);
        if (c == 0) /* of two entries for one cell, the one with an address first */
                c = (int)ip_is_valid(y->ip) - (int)ip_is_valid(x->ip);
        if (c == 0)
                c = strcmp(strempty(x->ip), strempty(y->ip));
        return c;
}

/* Whether entry i (of the sorted, valid entries) gets the short name: it is in self's stack, or no other
 * stack has a cell of that name. Entries without an address count too, so a sibling's attachment never
 * moves a short name. */
static bool entry_has_short_name(CniHostEntry *const *v, size_t n, size_t i, const char *self_stack)
{
        if (streq(v[i]->stack, self_stack))
                return true;
        for (size_t k = 0; k < n; k++)
                if (streq(v[k]->cell, v[i]->cell) && !streq(v[k]->stack, v[i]->stack))
                        return false;
        return true;
}

static int hosts_render_sorted(CniHostEntry *const *v, size_t n, const char *self_stack, Buf *b)
{
        int r = buf_puts(b, hosts_preamble);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                /* one line per cell: duplicates (same stack and cell) keep the first */
                if (i > 0 && streq(v[i]->cell, v[i - 1]->cell) && streq(v[i]->stack, v[i - 1]->stack))
                        continue;
                if (!ip_is_valid(v[i]->ip))
                        continue;
                if (entry_has_short_name(v, n, i, self_stack))
                        r = buf_printf(b, "%s\t%s %s.%s\n", v[i]->ip, v[i]->cell, v[i]->cell, v[i]->stack);
                else
                        r = buf_printf(b, "%s\t%s.%s\n", v[i]->ip, v[i]->cell, v[i]->stack);
        }
        return r;
}

int cni_hosts_render(const char *self_stack, const char *self_cell, const CniHostEntry *cells,
                     size_t n_cells, char **ret)
{
        if (!name_is_valid(self_stack) || !name_is_valid(self_cell) || (n_cells > 0 && !cells))
                return -EINVAL;
        _cleanup_free_ CniHostEntry **v = calloc(n_cells + 1, sizeof(CniHostEntry *));
        if (!v)
                return -ENOMEM;
        size_t n = 0;
        for (size_t i = 0; i < n_cells; i++)
                if (entry_is_valid(&cells[i]))
                        v[n++] = (CniHostEntry *)&cells[i];
        qsort(v, n, sizeof(CniHostEntry *), cmp_entry);

        Buf b = BUF_INIT;
        int r = hosts_render_sorted(v, n, self_stack, &b);
        if (r < 0) {
                buf_done(&b);
                return r;
        }
        *ret = buf_steal(&b);
        return *ret ? 0 : -ENOMEM;
}

int cni_hostname_render(const char *cell, char **ret)
{
        if (!name_is_valid(cell))
                return -EINVAL;
        return asprintf(ret, "%s\n", cell) < 0 ? -ENOMEM : 0;
}

/* Whether fd (at offset 0) holds exactly data. */
static int fd_holds(int fd, const struct stat *st, const char *data, size_t len)
{
        if ((size_t)st->st_size != len)
                return 0;
        _cleanup_free_ char *have = malloc(len + 1);
        if (!have)
                return -ENOMEM;
        size_t done = 0;
        while (done < len) {
                ssize_t k = pread(fd, have + done, len - done, (off_t)done);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        return 0;
                done += (size_t)k;
        }
        return memcmp(have, data, len) == 0;
}

static int pwrite_all(int fd, const char *data, size_t len)
{
        size_t done = 0;
        while (done < len) {
                ssize_t k = pwrite(fd, data + done, len - done, (off_t)done);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                done += (size_t)k;
        }
        return 0;
}

int cni_etc_file_write(int dir_fd, const char *name, const char *content)
{
        if (!name || !*name || strchr(name, '/') || streq(name, ".") || streq(name, "..") || !content)
                return -EINVAL;
        size_t len = strlen(content);
        if (len > CNI_ETC_FILE_MAX)
                return -EFBIG;
        /* O_NOFOLLOW: the cell directory is user-writable; a symlink planted there is refused (-ELOOP),
         * never written through */
        _cleanup_close_ int fd =
                openat(dir_fd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        int r = fd_holds(fd, &st, content, len);
        if (r != 0)
                return r < 0 ? r : 0;
        /* Same inode: write over the old bytes, then cut what is left of them. A reader in between sees
         * the new lines followed by a tail of old ones, never an empty file. */
        r = pwrite_all(fd, content, len);
        if (r < 0)
                return r;
        if (ftruncate(fd, (off_t)len) < 0 || fsync(fd) < 0)
                return -errno;
        return 1;
}

int cni_cell_etc_write(int dir_fd, const char *self_stack, const char *self_cell, const CniHostEntry *cells,
                       size_t n_cells)
{
        _cleanup_free_ char *hosts = NULL, *hostname = NULL;
        int r = cni_hosts_render(self_stack, self_cell, cells, n_cells, &hosts);
        if (r < 0)
                return r;
        r = cni_hostname_render(self_cell, &hostname);
        if (r < 0)
                return r;
        int changed = cni_etc_file_write(dir_fd, CNI_HOSTNAME_FILE, hostname);
        if (changed < 0)
                return changed;
        r = cni_etc_file_write(dir_fd, CNI_HOSTS_FILE, hosts);
        if (r < 0)
                return r;
        return changed || r ? 1 : 0;
}
