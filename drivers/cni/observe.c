/* Observing what the plugins made, with libnl-3: a cell's interface and its IPv4 addresses inside the
 * cell's pinned namespace, and a space's bridge on the host; deleting a bridge. libnl's error space ends
 * here (cni_netlink_error_to_errno()).
 *
 * A netlink socket belongs to the network namespace it was created in, whichever thread uses it later.
 * So a socket for a cell's namespace is created by a short-lived thread that enters the namespace and
 * ends; the calling thread (the loop thread in particular) never changes namespace, and queries through
 * the socket from where it is. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/vfs.h>

#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/socket.h>

#include "drivers/cni/cni-internal.h"

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

int cni_netlink_error_to_errno(int nl_error)
{
        static const int map[][2] = {
                {NLE_SUCCESS, 0},
                {NLE_INTR, EINTR},
                {NLE_BAD_SOCK, EBADF},
                {NLE_AGAIN, EAGAIN},
                {NLE_NOMEM, ENOMEM},
                {NLE_EXIST, EEXIST},
                {NLE_INVAL, EINVAL},
                {NLE_RANGE, ERANGE},
                {NLE_MSGSIZE, EMSGSIZE},
                {NLE_OPNOTSUPP, EOPNOTSUPP},
                {NLE_AF_NOSUPPORT, EAFNOSUPPORT},
                {NLE_OBJ_NOTFOUND, ENOENT},
                {NLE_NOADDR, EADDRNOTAVAIL},
                {NLE_BUSY, EBUSY},
                {NLE_PROTO_MISMATCH, EPROTONOSUPPORT},
                {NLE_NOACCESS, EACCES},
                {NLE_PERM, EPERM},
                {NLE_NODEV, ENODEV},
                {NLE_DUMP_INTR, EINTR},
        };
        int code = nl_error < 0 ? -nl_error : nl_error;
        for (size_t i = 0; i < ARRAY_SIZE(map); i++)
                if (map[i][0] == code)
                        return -map[i][1];
        return -EIO;
}

static void nl_socket_freep(struct nl_sock **sk)
{
        if (*sk)
                nl_socket_free(*sk);
}

static void nl_cache_freep(struct nl_cache **c)
{
        if (*c)
                nl_cache_free(*c);
}

static void rtnl_link_putp(struct rtnl_link **l)
{
        if (*l)
                rtnl_link_put(*l);
}

/* A NETLINK_ROUTE socket in the calling thread's network namespace. */
static int netlink_connect(struct nl_sock **ret)
{
        struct nl_sock *sk = nl_socket_alloc();
        if (!sk)
                return -ENOMEM;
        int r = nl_connect(sk, NETLINK_ROUTE);
        if (r < 0) {
                nl_socket_free(sk);
                return cni_netlink_error_to_errno(r);
        }
        *ret = sk;
        return 0;
}

typedef struct SocketJob {
        int netns_fd;
        struct nl_sock *sk;
        int r;
} SocketJob;

/* A thread of its own that enters the namespace, makes the socket and ends: nothing else ever runs in
 * it. */
static void *socket_thread(void *userdata)
{
        SocketJob *job = userdata;
        job->r = setns(job->netns_fd, CLONE_NEWNET) < 0 ? -errno : netlink_connect(&job->sk);
        return NULL;
}

/* Opens the namespace pinned at path: 1 with *ret_fd, 0 when there is none (missing, or a plain file left
 * by a crash before the pin's mount). The check is on the opened file, so it is the one entered. */
static int netns_open(const char *path, int *ret_fd)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        struct statfs st;
        if (fstatfs(fd, &st) < 0)
                return -errno;
        if (st.f_type != NSFS_MAGIC)
                return 0;
        *ret_fd = TAKE_FD(fd);
        return 1;
}

/* A NETLINK_ROUTE socket inside the namespace netns_fd. */
static int netlink_connect_in(int netns_fd, struct nl_sock **ret)
{
        SocketJob job = {.netns_fd = netns_fd};
        pthread_t t;
        int r = -pthread_create(&t, NULL, socket_thread, &job);
        if (r < 0)
                return r;
        (void)pthread_join(t, NULL);
        if (job.r < 0)
                return job.r;
        *ret = job.sk;
        return 0;
}

static int cmp_addr(const void *a, const void *b)
{
        return strcmp(a, b);
}

/* The IPv4 addresses of interface ifindex, "a.b.c.d/p", sorted; at most CNI_OBSERVED_ADDRS_MAX. */
static int link_addrs(struct nl_sock *sk, int ifindex, char (*addrs)[CNI_SUBNET_MAX], size_t *ret_n)
{
        _cleanup_(nl_cache_freep) struct nl_cache *cache = NULL;
        int r = rtnl_addr_alloc_cache(sk, &cache);
        if (r < 0)
                return cni_netlink_error_to_errno(r);
        size_t n = 0;
        for (struct nl_object *o = nl_cache_get_first(cache); o && n < CNI_OBSERVED_ADDRS_MAX;
             o = nl_cache_get_next(o)) {
                struct rtnl_addr *a = (struct rtnl_addr *)o;
                struct nl_addr *local = rtnl_addr_get_local(a);
                if (rtnl_addr_get_ifindex(a) != ifindex || rtnl_addr_get_family(a) != AF_INET || !local ||
                    nl_addr_get_len(local) != sizeof(struct in_addr))
                        continue;
                char ip[INET_ADDRSTRLEN];
                if (!inet_ntop(AF_INET, nl_addr_get_binary_addr(local), ip, sizeof(ip)))
                        continue;
                snprintf(addrs[n++], CNI_SUBNET_MAX, "%s/%d", ip, rtnl_addr_get_prefixlen(a));
        }
        qsort(addrs, n, CNI_SUBNET_MAX, cmp_addr);
        *ret_n = n;
        return 0;
}

/* What the kernel says about interface name through sk. A missing interface is an observation (0 with
 * has_link false), not an error. */
static int link_observe(struct nl_sock *sk, const char *name, CniLinkObserved *ret)
{
        *ret = (CniLinkObserved){0};
        _cleanup_(rtnl_link_putp) struct rtnl_link *link = NULL;
        int r = rtnl_link_get_kernel(sk, 0, name, &link);
        if (r == -NLE_OBJ_NOTFOUND || r == -NLE_NODEV)
                return 0;
        if (r < 0)
                return cni_netlink_error_to_errno(r);
        ret->has_link = true;
        ret->is_up = rtnl_link_get_flags(link) & IFF_UP;
        snprintf(ret->kind, sizeof(ret->kind), "%s", strempty(rtnl_link_get_type(link)));
        return link_addrs(sk, rtnl_link_get_ifindex(link), ret->addrs, &ret->n_addrs);
}

int cni_observe_cell(const char *netns_path, const char *ifname, CniCellObserved *ret)
{
        if (!netns_path || !ret)
                return -EINVAL;
        ifname = ifname ? ifname : CNI_DEFAULT_IFNAME;
        if (!cni_ifname_is_valid(ifname))
                return -EINVAL;
        *ret = (CniCellObserved){0};
        _cleanup_close_ int fd = -EBADF;
        int r = netns_open(netns_path, &fd);
        if (r <= 0)
                return r; /* no namespace to look into */
        ret->has_netns = true;
        _cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
        r = netlink_connect_in(fd, &sk);
        if (r < 0)
                return r;
        return link_observe(sk, ifname, &ret->link);
}

int cni_observe_bridge(const char *name, CniBridgeObserved *ret)
{
        if (!cni_ifname_is_valid(name) || !ret)
                return -EINVAL;
        *ret = (CniBridgeObserved){0};
        _cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
        int r = netlink_connect(&sk);
        if (r < 0)
                return r;
        r = link_observe(sk, name, &ret->link);
        if (r < 0)
                return r;
        ret->is_bridge = streq(ret->link.kind, "bridge");
        return 0;
}

bool cni_link_has_ip(const CniLinkObserved *link, const char *ip)
{
        if (!link->has_link || !ip || !*ip)
                return false;
        size_t n = strcspn(ip, "/");
        for (size_t i = 0; i < link->n_addrs; i++)
                if (strncmp(link->addrs[i], ip, n) == 0 && link->addrs[i][n] == '/')
                        return true;
        return false;
}

bool cni_cell_observed_is_attached(const CniCellObserved *o, const char *ip)
{
        return o->has_netns && o->link.has_link && o->link.is_up && cni_link_has_ip(&o->link, ip);
}

int cni_bridge_delete(const char *name)
{
        if (!cni_ifname_is_valid(name))
                return -EINVAL;
        _cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
        int r = netlink_connect(&sk);
        if (r < 0)
                return r;
        _cleanup_(rtnl_link_putp) struct rtnl_link *link = NULL;
        r = rtnl_link_get_kernel(sk, 0, name, &link);
        if (r == -NLE_OBJ_NOTFOUND || r == -NLE_NODEV)
                return 0;
        if (r < 0)
                return cni_netlink_error_to_errno(r);
        /* a name is not proof: only a bridge is ours to delete */
        if (!streq_ptr(rtnl_link_get_type(link), "bridge"))
                return -EMEDIUMTYPE;
        r = rtnl_link_delete(sk, link);
        if (r == -NLE_OBJ_NOTFOUND || r == -NLE_NODEV)
                return 0; /* gone in between */
        return r < 0 ? cni_netlink_error_to_errno(r) : 1;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends a copy of name to the NULL-terminated *v of *n entries. */
static int strv_push(char ***v, size_t *n, const char *name)
{
        char **grown = realloc(*v, (*n + 2) * sizeof(char *));
        if (!grown)
                return -ENOMEM;
        *v = grown;
        grown[*n + 1] = NULL;
        if (!(grown[*n] = strdup(name)))
                return -ENOMEM;
        (*n)++;
        return 0;
}

int cni_bridge_list(const char *prefix, char ***ret, size_t *ret_n)
{
        prefix = prefix ? prefix : CNI_BRIDGE_PREFIX;
        _cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
        int r = netlink_connect(&sk);
        if (r < 0)
                return r;
        _cleanup_(nl_cache_freep) struct nl_cache *cache = NULL;
        r = rtnl_link_alloc_cache(sk, AF_UNSPEC, &cache);
        if (r < 0)
                return cni_netlink_error_to_errno(r);
        size_t n = 0;
        _cleanup_strv_ char **v = calloc(1, sizeof(char *));
        if (!v)
                return -ENOMEM;
        for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
                struct rtnl_link *link = (struct rtnl_link *)o;
                const char *name = rtnl_link_get_name(link);
                if (!name || strncmp(name, prefix, strlen(prefix)) != 0 ||
                    !streq_ptr(rtnl_link_get_type(link), "bridge"))
                        continue;
                r = strv_push(&v, &n, name);
                if (r < 0)
                        return r;
        }
        qsort(v, n, sizeof(char *), cmp_str);
        *ret = TAKE_PTR(v);
        if (ret_n)
                *ret_n = n;
        return 0;
}
