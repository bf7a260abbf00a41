/* Deterministic YAML from a JSON value tree: keys in the order given, block style, and every string that
 * a YAML 1.1 reader would take for something else (yes, on, 1.10, 0755, ~) double-quoted. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "common/buf.h"
#include "state/emit.h"

static bool looks_special(const char *s)
{
        static const char *const words[] = {
                "y",    "Y",    "yes",   "Yes",   "YES",   "n",     "N",     "no",   "No",
                "NO",   "true", "True",  "TRUE",  "false", "False", "FALSE", "on",   "On",
                "ON",   "off",  "Off",   "OFF",   "~",     "null",  "Null",  "NULL", ".inf",
                ".Inf", ".INF", "-.inf", "+.inf", ".nan",  ".NaN",  ".NAN",  "<<",   "=",
        };
        for (size_t i = 0; i < ARRAY_SIZE(words); i++)
                if (streq(s, words[i]))
                        return true;
        return false;
}

bool yaml_string_needs_quotes(const char *s)
{
        size_t n = strlen(s);
        if (n == 0 || looks_special(s))
                return true;
        /* anything that starts like a number: 1.10, 0755, 10:30, .5, -1, +1, 2024-01-01 */
        const char *p = s;
        if (*p == '-' || *p == '+')
                p++;
        if (*p == '.')
                p++;
        if (*p >= '0' && *p <= '9')
                return true;
        if (p > s && (strcasecmp(p, "inf") == 0 || strcasecmp(p, "nan") == 0))
                return true; /* +.inf, -.Inf, .NaN */
        if (strchr("-?:,[]{}#&*!|>'\"%@`", s[0]))
                return true;
        if (s[0] == ' ' || s[n - 1] == ' ' || s[0] == '\t' || s[n - 1] == '\t')
                return true;
        if (strstr(s, ": ") || strstr(s, " #") || s[n - 1] == ':')
                return true;
        for (p = s; *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                        return true;
        return false;
}

static int emit(yaml_emitter_t *e, yaml_event_t *ev)
{
        return yaml_emitter_emit(e, ev) ? 0 : -ENOMEM;
}

static int emit_scalar(yaml_emitter_t *e, const char *s, bool quote)
{
        yaml_event_t ev;
        if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), 1, 1,
                                          quote ? YAML_DOUBLE_QUOTED_SCALAR_STYLE : YAML_PLAIN_SCALAR_STYLE))
                return -ENOMEM;
        return emit(e, &ev);
}

static int emit_value(yaml_emitter_t *e, json_t *v)
{
        yaml_event_t ev;
        char num[32];
        int r;

        switch (json_typeof(v)) {
        case JSON_OBJECT: {
                const char *key;
                json_t *item;
                bool flow = json_object_size(v) == 0;
                if (!yaml_mapping_start_event_initialize(
                            &ev, NULL, NULL, 1, flow ? YAML_FLOW_MAPPING_STYLE : YAML_BLOCK_MAPPING_STYLE))
                        return -ENOMEM;
                if ((r = emit(e, &ev)) < 0)
                        return r;
                json_object_foreach (v, key, item) {
                        if ((r = emit_scalar(e, key, yaml_string_needs_quotes(key))) < 0 ||
                            (r = emit_value(e, item)) < 0)
                                return r;
                }
                if (!yaml_mapping_end_event_initialize(&ev))
                        return -ENOMEM;
                return emit(e, &ev);
        }
        case JSON_ARRAY: {
                size_t i;
                json_t *item;
                bool flow = json_array_size(v) == 0;
                if (!yaml_sequence_start_event_initialize(
                            &ev, NULL, NULL, 1, flow ? YAML_FLOW_SEQUENCE_STYLE : YAML_BLOCK_SEQUENCE_STYLE))
                        return -ENOMEM;
                if ((r = emit(e, &ev)) < 0)
                        return r;
                json_array_foreach (v, i, item) {
                        if ((r = emit_value(e, item)) < 0)
                                return r;
                }
                if (!yaml_sequence_end_event_initialize(&ev))
                        return -ENOMEM;
                return emit(e, &ev);
        }
        case JSON_STRING:
                return emit_scalar(e, json_string_value(v), yaml_string_needs_quotes(json_string_value(v)));
        case JSON_INTEGER:
                snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
                return emit_scalar(e, num, false);
        case JSON_REAL:
                snprintf(num, sizeof(num), "%.17g", json_real_value(v));
                return emit_scalar(e, num, false);
        case JSON_TRUE:
                return emit_scalar(e, "true", false);
        case JSON_FALSE:
                return emit_scalar(e, "false", false);
        case JSON_NULL:
                return emit_scalar(e, "null", false);
        }
        return -EINVAL;
}

static int write_handler(void *data, unsigned char *buffer, size_t size)
{
        return buf_append(data, buffer, size) == 0;
}

char *yaml_from_json(json_t *v)
{
        yaml_emitter_t e;
        yaml_event_t ev;
        Buf out = BUF_INIT;
        int r = 0;

        if (!yaml_emitter_initialize(&e))
                return NULL;
        yaml_emitter_set_output(&e, write_handler, &out);
        yaml_emitter_set_unicode(&e, 1);
        yaml_emitter_set_width(&e, -1);
        yaml_emitter_set_indent(&e, 2);

        if (!yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) || emit(&e, &ev) < 0 ||
            !yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) || emit(&e, &ev) < 0)
                r = -ENOMEM;
        if (r == 0)
                r = emit_value(&e, v);
        if (r == 0 &&
            (!yaml_document_end_event_initialize(&ev, 1) || emit(&e, &ev) < 0 ||
             !yaml_stream_end_event_initialize(&ev) || emit(&e, &ev) < 0 || !yaml_emitter_flush(&e)))
                r = -ENOMEM;
        yaml_emitter_delete(&e);
        if (r < 0) {
                buf_done(&out);
                return NULL;
        }
        return buf_steal(&out);
}
