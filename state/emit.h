/* JSON value trees to deterministic YAML. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

/* YAML text of v (one document, no "---"), or NULL on -ENOMEM. Caller frees. */
char *yaml_from_json(json_t *v);
/* True when a plain scalar s would be read back as something other than the same string by a YAML 1.1
 * or 1.2 reader, or could not be written plain at all. */
bool yaml_string_needs_quotes(const char *s);
