/* Events.Subscribe: a server stream of Envelopes whose Any payload we decode into CtrdEvent. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "drivers/containerd/ctrd-internal.h"

#include "github.com/containerd/containerd/api/events/container.pb-c.h"
#include "github.com/containerd/containerd/api/events/namespace.pb-c.h"
#include "github.com/containerd/containerd/api/events/task.pb-c.h"

#define EVENTS_SUBSCRIBE CTRD_PATH("events", "Events", "Subscribe")

const char *ctrd_event_type_to_string(CtrdEventType type)
{
        static const char *const names[_CTRD_EVENT_TYPE_MAX] = {
                [CTRD_EVENT_OTHER] = "other",
                [CTRD_EVENT_TASK_CREATE] = "task-create",
                [CTRD_EVENT_TASK_START] = "task-start",
                [CTRD_EVENT_TASK_EXIT] = "task-exit",
                [CTRD_EVENT_TASK_OOM] = "task-oom",
                [CTRD_EVENT_TASK_DELETE] = "task-delete",
                [CTRD_EVENT_CONTAINER_CREATE] = "container-create",
                [CTRD_EVENT_CONTAINER_DELETE] = "container-delete",
                [CTRD_EVENT_NAMESPACE_CREATE] = "namespace-create",
                [CTRD_EVENT_NAMESPACE_DELETE] = "namespace-delete",
        };
        return (unsigned)type < _CTRD_EVENT_TYPE_MAX ? names[type] : "invalid";
}

/* ---- decoding ---- */

static void fill_task_create(CtrdEvent *ev, const void *m)
{
        const Containerd__Events__TaskCreate *e = m;
        ev->container_id = e->container_id;
        ev->pid = e->pid;
}

static void fill_task_start(CtrdEvent *ev, const void *m)
{
        const Containerd__Events__TaskStart *e = m;
        ev->container_id = e->container_id;
        ev->pid = e->pid;
}

static void fill_task_exit(CtrdEvent *ev, const void *m)
{
        const Containerd__Events__TaskExit *e = m;
        ev->container_id = e->container_id;
        /* containerd sets id to the container id for the init process (containerd-api.md §3g). */
        ev->exec_id = streq(e->id, e->container_id) ? "" : e->id;
        ev->pid = e->pid;
        ev->exit_status = e->exit_status;
        ev->exited_at_ns = ctrd_timestamp_ns(e->exited_at);
}

static void fill_task_oom(CtrdEvent *ev, const void *m)
{
        const Containerd__Events__TaskOOM *e = m;
        ev->container_id = e->container_id;
}

static void fill_task_delete(CtrdEvent *ev, const void *m)
{
        const Containerd__Events__TaskDelete *e = m;
        ev->container_id = e->container_id;
        ev->exec_id = streq(e->id, e->container_id) ? "" : e->id;
        ev->pid = e->pid;
        ev->exit_status = e->exit_status;
        ev->exited_at_ns = ctrd_timestamp_ns(e->exited_at);
}

static void fill_container_create(CtrdEvent *ev, const void *m)
{
        const Containerd__Events__ContainerCreate *e = m;
        ev->container_id = e->id;
}

static void fill_container_delete(CtrdEvent *ev, const void *m)
{
        const Containerd__Events__ContainerDelete *e = m;
        ev->container_id = e->id;
}

static void fill_namespace_create(CtrdEvent *ev, const void *m)
{
        const Containerd__Events__NamespaceCreate *e = m;
        ev->name = e->name;
}

static void fill_namespace_delete(CtrdEvent *ev, const void *m)
{
        const Containerd__Events__NamespaceDelete *e = m;
        ev->name = e->name;
}

/* The payload's type URL is the bare proto name (containerd.events.TaskExit), which is the
 * descriptor's name. */
static const struct {
        CtrdEventType type;
        const ProtobufCMessageDescriptor *desc;
        void (*fill)(CtrdEvent *ev, const void *payload);
} decoders[] = {
        {CTRD_EVENT_TASK_CREATE, &containerd__events__task_create__descriptor, fill_task_create},
        {CTRD_EVENT_TASK_START, &containerd__events__task_start__descriptor, fill_task_start},
        {CTRD_EVENT_TASK_EXIT, &containerd__events__task_exit__descriptor, fill_task_exit},
        {CTRD_EVENT_TASK_OOM, &containerd__events__task_oom__descriptor, fill_task_oom},
        {CTRD_EVENT_TASK_DELETE, &containerd__events__task_delete__descriptor, fill_task_delete},
        {CTRD_EVENT_CONTAINER_CREATE, &containerd__events__container_create__descriptor,
         fill_container_create},
        {CTRD_EVENT_CONTAINER_DELETE, &containerd__events__container_delete__descriptor,
         fill_container_delete},
        {CTRD_EVENT_NAMESPACE_CREATE, &containerd__events__namespace_create__descriptor,
         fill_namespace_create},
        {CTRD_EVENT_NAMESPACE_DELETE, &containerd__events__namespace_delete__descriptor,
         fill_namespace_delete},
};

void ctrd_event_buf_done(CtrdEventBuf *buf)
{
        if (buf->payload)
                protobuf_c_message_free_unpacked(buf->payload, NULL);
        if (buf->envelope)
                containerd__services__events__v1__envelope__free_unpacked(buf->envelope, NULL);
        *buf = (CtrdEventBuf){0};
}

int ctrd_event_decode(const uint8_t *data, size_t len, CtrdEventBuf *buf, CtrdEvent *ret)
{
        *buf = (CtrdEventBuf){0};
        Containerd__Services__Events__V1__Envelope *env =
                containerd__services__events__v1__envelope__unpack(NULL, len, data);
        if (!env)
                return -EBADMSG;
        buf->envelope = env;
        *ret = (CtrdEvent){
                .type = CTRD_EVENT_OTHER,
                .topic = env->topic,
                .ns = env->namespace_,
                .timestamp_ns = ctrd_timestamp_ns(env->timestamp),
                .container_id = "",
                .exec_id = "",
                .name = "",
        };
        if (!env->event)
                return 0;
        /* Accept a "host/" prefix too, as Any allows, though containerd sends none. */
        const char *type = strrchr(env->event->type_url, '/');
        type = type ? type + 1 : env->event->type_url;
        for (size_t i = 0; i < ARRAY_SIZE(decoders); i++) {
                if (!streq(type, decoders[i].desc->name))
                        continue;
                buf->payload = protobuf_c_message_unpack(decoders[i].desc, NULL, env->event->value.len,
                                                         env->event->value.data);
                if (!buf->payload) {
                        ctrd_event_buf_done(buf);
                        return -EBADMSG;
                }
                ret->type = decoders[i].type;
                decoders[i].fill(ret, buf->payload);
                break;
        }
        return 0;
}

/* ---- the subscription ---- */

struct CtrdSubscription {
        GrpcCall *call;
        ctrd_event_cb on_event;
        ctrd_done_cb on_end;
        void *userdata;
};

static int on_event_message(GrpcCall *call, const uint8_t *data, size_t len, void *userdata)
{
        CtrdSubscription *sub = userdata;
        CtrdEventBuf buf;
        CtrdEvent ev;
        /* A lost event would go unnoticed: end the stream instead, the owner re-subscribes and re-lists. */
        int r = ctrd_event_decode(data, len, &buf, &ev);
        if (r < 0)
                return r;
        sub->on_event(&ev, sub->userdata);
        ctrd_event_buf_done(&buf);
        return 0;
}

static void on_event_stream_done(GrpcCall *call, int r, const char *message, void *userdata)
{
        CtrdSubscription *sub = userdata;
        if (r == 0) {
                /* containerd never ends a subscription by itself: report it as a loss all the same. */
                r = -ENOTCONN;
                message = "the event stream ended";
        }
        sub->on_end(r, message, sub->userdata);
        free(sub);
}

int ctrd_events_subscribe(GrpcConn *conn, const char *const *filters, size_t n_filters,
                          ctrd_event_cb on_event, ctrd_done_cb on_end, void *userdata,
                          CtrdSubscription **ret)
{
        if (!conn || !on_event || !on_end || (n_filters > 0 && !filters))
                return -EINVAL;
        CtrdSubscription *sub = calloc(1, sizeof(*sub));
        if (!sub)
                return -ENOMEM;
        *sub = (CtrdSubscription){.on_event = on_event, .on_end = on_end, .userdata = userdata};
        Containerd__Services__Events__V1__SubscribeRequest req =
                CONTAINERD__SERVICES__EVENTS__V1__SUBSCRIBE_REQUEST__INIT;
        req.n_filters = n_filters;
        req.filters = (char **)filters;
        const GrpcCallOptions opts = {.timeout_ms = GRPC_NO_TIMEOUT};
        int r = grpc_call_start(conn, EVENTS_SUBSCRIBE, &req.base, &opts, on_event_message,
                                on_event_stream_done, sub, &sub->call);
        if (r < 0) {
                free(sub);
                return r;
        }
        if (ret)
                *ret = sub;
        return 0;
}

void ctrd_events_unsubscribe(CtrdSubscription *sub)
{
        if (!sub)
                return;
        grpc_call_cancel(sub->call);
        free(sub);
}
