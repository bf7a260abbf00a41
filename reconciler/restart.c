/* Restart policy and back-off (DESIGN §4): never, on-failure with a retry limit, always; the delay
 * starts at restartBackoffSeconds, doubles on every restart up to a cap, and starts over after a
 * healthy run. */
#include "reconciler/plan.h"

static int64_t backoff_base(const ContainerSpec *spec)
{
        return spec->restart_backoff_seconds >= 0 ? spec->restart_backoff_seconds : 1;
}

int64_t restart_next_backoff(const ContainerSpec *spec, const RestartMemory *mem)
{
        int64_t cur = mem->backoff_seconds > 0 ? mem->backoff_seconds : backoff_base(spec);
        if (cur == 0)
                return 0;
        int64_t next = cur * 2;
        return next > RESTART_BACKOFF_CAP_SECONDS ? RESTART_BACKOFF_CAP_SECONDS : next;
}

RestartDecision restart_decide(const ContainerSpec *spec, const RestartMemory *mem, int32_t exit_status,
                               int64_t started_at, int64_t exited_at, int64_t now, int64_t *ret_at)
{
        switch (spec->restart_policy) {
        case RESTART_ALWAYS:
                break;
        case RESTART_ON_FAILURE:
                if (exit_status == 0)
                        return RESTART_NO;
                if (mem->restart_count >= spec->restart_max_retries)
                        return RESTART_GIVE_UP;
                break;
        default:
                return RESTART_NO;
        }
        bool healthy = started_at > 0 && exited_at >= started_at + RESTART_HEALTHY_SECONDS;
        int64_t delay = healthy || mem->backoff_seconds <= 0 ? backoff_base(spec) : mem->backoff_seconds;
        /* the first restart after an exit waits the base delay from the exit; later ones their back-off */
        int64_t from = exited_at > 0 ? exited_at : now;
        if (delay <= 0 || from + delay <= now)
                return RESTART_NOW;
        *ret_at = from + delay;
        return RESTART_LATER;
}
