/* The OCI runtime spec of one container: containerd's defaults (what the Go client's oci.WithDefaultSpec
 * and WithDefaultUnixDevices produce), merged with the image config (WithImageConfig), then with the
 * container's own fields. Pure code: no I/O, no globals; the result is the JSON that goes into
 * Containers.Create as Any{types.containerd.io/opencontainers/runtime-spec/1/Spec}.
 *
 * docs/oci-spec.md describes every field and every deliberate difference from `ctr oci spec`. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "state/document.h"
#include "state/model.h"

typedef struct OciSpecInput {
        /* The effective container spec: space defaults merged, defaults filled. Required. */
        const ContainerSpec *container;
        /* The cell the container belongs to: realm, space, stack and cell names (KUKEON_* env). Required. */
        const ResourceId *cell;
        /* The cell's root container. Changes nothing in the spec today (every container of a cell joins
         * the same pinned netns and gets its own uts/ipc namespaces); kept so the caller states it. */
        bool is_root;
        /* The containerd container id; only used in error messages. May be NULL. */
        const char *containerd_id;
        /* The "config" object of the image's OCI config (Entrypoint, Cmd, Env, WorkingDir, User,
         * StopSignal). NULL: an image without a config (nothing to merge). Borrowed. */
        const json_t *image_config;
        /* Contents of the image's /etc/passwd and /etc/group, NUL-terminated, or NULL when the caller did
         * not read them. Needed only when oci_spec_needs_passwd() says so; when given, they also supply
         * the primary gid of a numeric uid and the supplementary groups, as containerd does. */
        const char *etc_passwd;
        const char *etc_group;
        /* The cell's pinned network namespace to join (/run/netns/kukeon_...). Must be NULL exactly when
         * container->host_network is set. */
        const char *netns_path;
        /* linux.cgroupsPath, an absolute cgroupfs path: <cell cgroup>/<cell>_root or <cell
         * cgroup>/<container>. Required. Its parent directory becomes KUKEON_CGROUP_PATH. */
        const char *cgroups_path;
        /* The container's hostname, the cell name. NULL: no hostname (the uts namespace keeps the
         * host's). */
        const char *hostname;
        /* Host paths of the cell's managed /etc/hosts and /etc/hostname, bind-mounted read-only. NULL:
         * not overlaid. hosts_path is ignored for hostNetwork containers (they keep the image's file). */
        const char *hosts_path;
        const char *hostname_path;
        /* The capabilities the daemon can grant: its own bounding set, bit n = capability n (read once
         * with prctl(PR_CAPBSET_READ) or from CapBnd in /proc/self/status). "Every capability"
         * (privileged, capabilities.add: [ALL]) means every one of these, as containerd's
         * WithAllCurrentCapabilities does; runc refuses to start a process with a capability its caller
         * lacks. 0: every capability up to CAP_CHECKPOINT_RESTORE. */
        uint64_t available_caps;
} OciSpecInput;

/* Builds the spec. On success returns 0 and *ret owns a new JSON object. On input that cannot become a
 * spec (an unknown capability, a user name without /etc/passwd, nothing to run, an image config of the
 * wrong shape, ...) returns -EINVAL and, when ret_error is not NULL, *ret_error owns a message such as
 * `capabilities.add[1]: unknown capability "FOO"` (the field path is relative to the container, or
 * names the image config). -ENOMEM on allocation failure (*ret_error then stays NULL). */
int oci_spec_build(const OciSpecInput *in, json_t **ret, char **ret_error);

/* The LinuxResources object that changes a running container's limits in place (Tasks.Update): every
 * limit stated, an unset one as the kernel's default (memory and pids unlimited, no CPU quota, 1024 CPU
 * shares), so that removing a limit also works. NULL on -ENOMEM. */
json_t *oci_resources_update_build(const Resources *res);
/* True when the effective user (the container's user, else the image config's User) names a user or
 * group by name (other than "root"), so oci_spec_build() needs etc_passwd / etc_group to resolve it.
 * A caller that reads those files only when this says so gets every numeric user right without them. */
bool oci_spec_needs_passwd(const ContainerSpec *container, const json_t *image_config);

/* The image's stop signal (config StopSignal, e.g. "SIGQUIT"), else "SIGTERM". It is not part of the
 * OCI spec: containerd keeps it in the container label io.containerd.image.config.stop-signal, and the
 * daemon sends it before SIGKILL. The string is borrowed from image_config or static. */
const char *oci_image_stop_signal(const json_t *image_config);
