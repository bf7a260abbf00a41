/* The pure parts of the gRPC protocol: status codes, grpc-timeout, grpc-message decoding. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/macro.h"
#include "drivers/containerd/grpc.h"

int grpc_status_to_errno(int status)
{
        switch (status) {
        case GRPC_STATUS_OK:
                return 0;
        case GRPC_STATUS_CANCELLED:
                return -ECANCELED;
        case GRPC_STATUS_INVALID_ARGUMENT:
                return -EINVAL;
        case GRPC_STATUS_DEADLINE_EXCEEDED:
                return -ETIMEDOUT;
        case GRPC_STATUS_NOT_FOUND:
                return -ENOENT;
        case GRPC_STATUS_ALREADY_EXISTS:
                return -EEXIST;
        case GRPC_STATUS_PERMISSION_DENIED:
        case GRPC_STATUS_UNAUTHENTICATED:
                return -EACCES;
        case GRPC_STATUS_RESOURCE_EXHAUSTED:
                /* What grpc-go answers for a message over its size limit; containerd has no other use. */
                return -EMSGSIZE;
        case GRPC_STATUS_FAILED_PRECONDITION:
                /* containerd: a non-empty namespace, a missing namespace header, a busy resource. */
                return -EBUSY;
        case GRPC_STATUS_OUT_OF_RANGE:
                /* containerd: a Content.Write offset that does not match the server's. */
                return -ERANGE;
        case GRPC_STATUS_UNIMPLEMENTED:
                return -EOPNOTSUPP;
        case GRPC_STATUS_UNAVAILABLE:
                /* The server is going away or a resource is locked: retry once connected again. */
                return -ENOTCONN;
        default:
                /* UNKNOWN (containerd's catch-all, including task-state conflicts), ABORTED, INTERNAL,
                 * DATA_LOSS and codes we do not know. */
                return -EIO;
        }
}

const char *grpc_status_to_string(int status)
{
        static const char *const names[] = {
                [GRPC_STATUS_OK] = "OK",
                [GRPC_STATUS_CANCELLED] = "CANCELLED",
                [GRPC_STATUS_UNKNOWN] = "UNKNOWN",
                [GRPC_STATUS_INVALID_ARGUMENT] = "INVALID_ARGUMENT",
                [GRPC_STATUS_DEADLINE_EXCEEDED] = "DEADLINE_EXCEEDED",
                [GRPC_STATUS_NOT_FOUND] = "NOT_FOUND",
                [GRPC_STATUS_ALREADY_EXISTS] = "ALREADY_EXISTS",
                [GRPC_STATUS_PERMISSION_DENIED] = "PERMISSION_DENIED",
                [GRPC_STATUS_RESOURCE_EXHAUSTED] = "RESOURCE_EXHAUSTED",
                [GRPC_STATUS_FAILED_PRECONDITION] = "FAILED_PRECONDITION",
                [GRPC_STATUS_ABORTED] = "ABORTED",
                [GRPC_STATUS_OUT_OF_RANGE] = "OUT_OF_RANGE",
                [GRPC_STATUS_UNIMPLEMENTED] = "UNIMPLEMENTED",
                [GRPC_STATUS_INTERNAL] = "INTERNAL",
                [GRPC_STATUS_UNAVAILABLE] = "UNAVAILABLE",
                [GRPC_STATUS_DATA_LOSS] = "DATA_LOSS",
                [GRPC_STATUS_UNAUTHENTICATED] = "UNAUTHENTICATED",
        };
        if (status < 0 || (size_t)status >= ARRAY_SIZE(names))
                return "UNKNOWN";
        return names[status];
}

int grpc_status_from_http(int http_status)
{
        switch (http_status) {
        case 400:
                return GRPC_STATUS_INTERNAL;
        case 401:
                return GRPC_STATUS_UNAUTHENTICATED;
        case 403:
                return GRPC_STATUS_PERMISSION_DENIED;
        case 404:
                return GRPC_STATUS_UNIMPLEMENTED;
        case 429:
        case 502:
        case 503:
        case 504:
                return GRPC_STATUS_UNAVAILABLE;
        default:
                return GRPC_STATUS_UNKNOWN;
        }
}

char *grpc_timeout_format(int64_t timeout_ms, char buf[static GRPC_TIMEOUT_MAX])
{
        /* The value has at most 8 digits; coarser units are rounded up so the server's deadline is never
         * earlier than ours. */
        static const struct {
                char unit;
                int64_t ms;
        } units[] = {{'m', 1}, {'S', 1000}, {'M', 60 * 1000}, {'H', 60 * 60 * 1000}};
        const int64_t max = 99999999;
        if (timeout_ms < 1)
                timeout_ms = 1;
        for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
                int64_t v = timeout_ms / units[i].ms + (timeout_ms % units[i].ms != 0);
                if (v <= max || i == ARRAY_SIZE(units) - 1) {
                        snprintf(buf, GRPC_TIMEOUT_MAX, "%u%c", (unsigned)(v < max ? v : max),
                                 units[i].unit);
                        return buf;
                }
        }
        return buf; /* not reached */
}

int64_t grpc_server_timeout(int64_t timeout_ms)
{
        /* containerd reports its own expiry of many methods as UNKNOWN ("context deadline exceeded",
         * containerd-api.md §2.4), and its answer could overtake our timer: give the server a little
         * longer so that our timer decides, and the caller always sees -ETIMEDOUT. */
        const int64_t margin = 250 + timeout_ms / 10;
        return timeout_ms > INT64_MAX - margin ? INT64_MAX : timeout_ms + margin;
}

static int unhex(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

char *grpc_percent_decode(const char *s, size_t len)
{
        char *out = malloc(len + 1);
        if (!out)
                return NULL;
        size_t n = 0;
        for (size_t i = 0; i < len; i++) {
                int hi, lo;
                if (s[i] == '%' && i + 2 < len && (hi = unhex(s[i + 1])) >= 0 &&
                    (lo = unhex(s[i + 2])) >= 0) {
                        out[n++] = (char)(hi << 4 | lo);
                        i += 2;
                } else
                        out[n++] = s[i];
        }
        out[n] = '\0';
        return out;
}
