/* Internals shared by the store's files. */
#pragma once

#include <sys/stat.h>

#include "state/store.h"

/* Opens the directory at relpath ("" for the run path itself) without following symlinks. */
int store_open_dir(Store *s, const char *relpath, int *ret_fd);
/* lstat of a path below the run path. */
int store_stat(Store *s, const char *relpath, struct stat *ret);
