/* libcurl and libarchive, loaded with dlopen() on first use.
 *
 * kukeond needs them only while it pulls an image from a registry or imports an archive, but linked in
 * they cost every start of it some 16 ms: their own dependencies (gnutls, krb5, ldap, ssh2, ICU, libxml2,
 * …) are mapped, relocated and faulted in whether a pull ever happens or not. So, as systemd does for its
 * optional libraries, each one is a table of function pointers resolved with dlsym() once, under
 * pthread_once() (libarchive is loaded from libuv threadpool workers). Callers use sym_<function>(); the
 * prototypes come from the -dev packages' headers, so the calls are still type-checked.
 *
 * registry-http.c is the only user of the curl pointers, archive-read.c of the archive ones. */
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <curl/curl.h>

/* Loads libcurl.so.4 and resolves every sym_curl_* pointer, once per process; thread-safe. Returns 0, or
 * -ELIBACC with *ret_error set to why (it says that pulling from a registry needs the library and what
 * dlopen() or dlsym() reported; static storage). The result of the first call holds for the process. */
int dl_curl_load(const char **ret_error);
/* The same for libarchive.so.13 and the sym_archive_* pointers (importing an image archive needs it). */
int dl_archive_load(const char **ret_error);

/* The functions used, each named once: the loader's tables and these declarations come from the lists. */
#define DL_CURL_SYMBOLS(X)                                                                                  \
        X(curl_easy_cleanup)                                                                                \
        X(curl_easy_getinfo)                                                                                \
        X(curl_easy_header)                                                                                 \
        X(curl_easy_init)                                                                                   \
        X(curl_easy_pause)                                                                                  \
        X(curl_easy_setopt)                                                                                 \
        X(curl_easy_strerror)                                                                               \
        X(curl_global_cleanup)                                                                              \
        X(curl_global_init)                                                                                 \
        X(curl_multi_add_handle)                                                                            \
        X(curl_multi_assign)                                                                                \
        X(curl_multi_cleanup)                                                                               \
        X(curl_multi_info_read)                                                                             \
        X(curl_multi_init)                                                                                  \
        X(curl_multi_remove_handle)                                                                         \
        X(curl_multi_setopt)                                                                                \
        X(curl_multi_socket_action)                                                                         \
        X(curl_slist_append)                                                                                \
        X(curl_slist_free_all)

#define DL_ARCHIVE_SYMBOLS(X)                                                                               \
        X(archive_entry_filetype)                                                                           \
        X(archive_entry_hardlink)                                                                           \
        X(archive_entry_pathname)                                                                           \
        X(archive_error_string)                                                                             \
        X(archive_filter_bytes)                                                                             \
        X(archive_read_data_block)                                                                          \
        X(archive_read_free)                                                                                \
        X(archive_read_new)                                                                                 \
        X(archive_read_next_header)                                                                         \
        X(archive_read_open_fd)                                                                             \
        X(archive_read_support_filter_bzip2)                                                                \
        X(archive_read_support_filter_gzip)                                                                 \
        X(archive_read_support_filter_xz)                                                                   \
        X(archive_read_support_filter_zstd)                                                                 \
        X(archive_read_support_format_tar)

/* The variadic curl_easy_setopt() and friends are type-checking macros under GCC: typeof without a
 * following "(" names the function itself. */
#define DLSYM_PROTOTYPE(symbol) extern typeof(symbol) *sym_##symbol;
DL_CURL_SYMBOLS(DLSYM_PROTOTYPE)
DL_ARCHIVE_SYMBOLS(DLSYM_PROTOTYPE)
#undef DLSYM_PROTOTYPE
