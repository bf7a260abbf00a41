/* Loading libcurl and libarchive on first use (see dl-libs.h). */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>

#include "common/macro.h"
#include "drivers/containerd/dl-libs.h"

#define DLSYM_FUNCTION(symbol) typeof(symbol) *sym_##symbol = NULL;
DL_CURL_SYMBOLS(DLSYM_FUNCTION)
DL_ARCHIVE_SYMBOLS(DLSYM_FUNCTION)

typedef struct DlSym {
        void **fn;
        const char *name;
} DlSym;

typedef struct DlLib {
        const char *soname;
        const char *needed_for; /* what fails without it, for the message */
        const DlSym *syms;
        size_t n_syms;
        pthread_once_t once;
        int r; /* of the one load: 0 or -ELIBACC */
        char error[512];
} DlLib;

#define DLSYM_ARG(symbol) {.fn = (void **)&sym_##symbol, .name = #symbol},
static const DlSym curl_syms[] = {DL_CURL_SYMBOLS(DLSYM_ARG)};
static const DlSym archive_syms[] = {DL_ARCHIVE_SYMBOLS(DLSYM_ARG)};

static DlLib curl_lib = {
        .soname = "libcurl.so.4",
        .needed_for = "pulling from a registry",
        .syms = curl_syms,
        .n_syms = ARRAY_SIZE(curl_syms),
        .once = PTHREAD_ONCE_INIT,
};

static DlLib archive_lib = {
        .soname = "libarchive.so.13",
        .needed_for = "importing an image archive",
        .syms = archive_syms,
        .n_syms = ARRAY_SIZE(archive_syms),
        .once = PTHREAD_ONCE_INIT,
};

/* Either every pointer of lib is set, or none is and lib->error says why. The library stays loaded for
 * the rest of the process. */
static void dl_lib_load(DlLib *lib)
{
        void *dl = dlopen(lib->soname, RTLD_NOW);
        size_t n = 0;
        while (dl && n < lib->n_syms && (*lib->syms[n].fn = dlsym(dl, lib->syms[n].name)))
                n++;
        if (n == lib->n_syms)
                return;
        /* dlerror() names the file and, after a dlsym(), the missing symbol */
        snprintf(lib->error, sizeof(lib->error), "%s needs %s, which cannot be loaded: %s", lib->needed_for,
                 lib->soname, dlerror());
        while (n > 0)
                *lib->syms[--n].fn = NULL;
        if (dl)
                (void)dlclose(dl);
        lib->r = -ELIBACC;
}

static void curl_load_once(void)
{
        dl_lib_load(&curl_lib);
}

static void archive_load_once(void)
{
        dl_lib_load(&archive_lib);
}

static int dl_lib_result(const DlLib *lib, const char **ret_error)
{
        if (lib->r < 0)
                *ret_error = lib->error;
        return lib->r;
}

int dl_curl_load(const char **ret_error)
{
        (void)pthread_once(&curl_lib.once, curl_load_once);
        return dl_lib_result(&curl_lib, ret_error);
}

int dl_archive_load(const char **ret_error)
{
        (void)pthread_once(&archive_lib.once, archive_load_once);
        return dl_lib_result(&archive_lib, ret_error);
}
