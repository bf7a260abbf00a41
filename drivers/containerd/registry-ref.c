/* Image references of a registry pull: splitting the normalized reference, credential matching. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/macro.h"
#include "drivers/containerd/ctrd.h"
#include "drivers/containerd/registry-ref.h"

void registry_ref_done(RegistryRef *ref)
{
        free(ref->name);
        free(ref->domain);
        free(ref->host);
        free(ref->repository);
        free(ref->tag);
        free(ref->digest);
        *ref = (RegistryRef){0};
}

static char *strndup_or_null(const char *s, size_t len)
{
        return s ? strndup(s, len) : NULL;
}

/* Splits the normalized "domain/path[:tag][@digest]" (always with a domain). */
static int ref_split(RegistryRef *ref)
{
        const char *s = ref->name;
        const char *slash = strchr(s, '/');
        if (!slash)
                return -EINVAL;
        const char *at = strchr(slash, '@');
        const char *end = at ? at : s + strlen(s);
        const char *last_slash = memrchr(slash, '/', (size_t)(end - slash));
        const char *colon = memchr(last_slash, ':', (size_t)(end - last_slash));
        const char *path_end = colon ? colon : end;
        ref->domain = strndup(s, (size_t)(slash - s));
        ref->repository = strndup(slash + 1, (size_t)(path_end - slash - 1));
        ref->tag = colon ? strndup_or_null(colon + 1, (size_t)(end - colon - 1)) : NULL;
        ref->digest = at ? strdup(at + 1) : NULL;
        if (!ref->domain || !ref->repository || (colon && !ref->tag) || (at && !ref->digest))
                return -ENOMEM;
        ref->host = strdup(streq(ref->domain, REGISTRY_DOCKER_DOMAIN) ? REGISTRY_DOCKER_HOST : ref->domain);
        return ref->host ? 0 : -ENOMEM;
}

int registry_ref_parse(const char *ref, RegistryRef *ret)
{
        *ret = (RegistryRef){0};
        int r = ctrd_image_ref_normalize(ref, &ret->name);
        if (r >= 0)
                r = ref_split(ret);
        if (r < 0)
                registry_ref_done(ret);
        return r;
}

const char *registry_ref_object(const RegistryRef *ref)
{
        return ref->digest ? ref->digest : ref->tag;
}

/* The length of host without its ":port" (an IPv6 literal keeps its brackets). */
static size_t host_name_len(const char *host)
{
        if (host[0] == '[') {
                const char *close = strchr(host, ']');
                return close ? (size_t)(close - host + 1) : strlen(host);
        }
        const char *colon = strrchr(host, ':');
        return colon ? (size_t)(colon - host) : strlen(host);
}

char *registry_ref_source_host(const RegistryRef *ref)
{
        return strndup(ref->domain, host_name_len(ref->domain));
}

bool registry_host_is_loopback(const char *host)
{
        if (!host)
                return false;
        size_t len = host_name_len(host);
        if ((len == 9 && strncasecmp(host, "localhost", 9) == 0) ||
            (len == 5 && strncmp(host, "[::1]", 5) == 0))
                return true;
        /* 127.0.0.0/8: four dotted decimal parts, the first 127. */
        if (len < 9 || strncmp(host, "127.", 4) != 0)
                return false;
        int dots = 0;
        for (size_t i = 4; i < len; i++) {
                if (host[i] == '.')
                        dots++;
                else if (!isdigit((unsigned char)host[i]))
                        return false;
        }
        return dots == 2;
}

static bool is_docker_alias(const char *s, size_t len)
{
        static const char *const aliases[] = {"docker.io", "index.docker.io", "registry-1.docker.io",
                                              "registry.hub.docker.com"};
        for (size_t i = 0; i < ARRAY_SIZE(aliases); i++)
                if (strlen(aliases[i]) == len && strncasecmp(s, aliases[i], len) == 0)
                        return true;
        return false;
}

bool registry_server_matches(const char *server, const RegistryRef *ref)
{
        if (!server || !ref || !ref->domain)
                return false;
        const char *s = server;
        const char *scheme = strstr(s, "://");
        if (scheme)
                s = scheme + 3;
        size_t len = strcspn(s, "/");
        if (len == 0)
                return false;
        if (is_docker_alias(s, len))
                return is_docker_alias(ref->domain, strlen(ref->domain));
        return (strlen(ref->domain) == len && strncasecmp(s, ref->domain, len) == 0) ||
               (strlen(ref->host) == len && strncasecmp(s, ref->host, len) == 0);
}
