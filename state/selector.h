/* Label selectors, kubectl style: "k=v", "k==v", "k!=v", "k", "!k", joined by commas (all must hold). */
#pragma once

#include <stdbool.h>

#include "state/diag.h"
#include "state/model.h"

typedef struct Selector Selector;

/* Parses a selector. Returns 0, -EINVAL (with a message in diag) or -ENOMEM. */
int selector_parse(const char *s, Selector **ret, Diag *diag);
Selector *selector_free(Selector *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(Selector *, selector_free);

/* True when labels satisfy every requirement (a NULL selector matches everything). */
bool selector_matches(const Selector *s, const StrMap *labels);
