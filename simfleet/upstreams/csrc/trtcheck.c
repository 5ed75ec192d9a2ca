/* SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
 * SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * trtcheck: load a TensorRT library (real or the fleet's stand-in) and report what it is.
 *
 *   cc -o trtcheck trtcheck.c -ldl        (glibc < 2.34 needs -ldl; harmless later)
 *   trtcheck /usr/lib/aarch64-linux-gnu/libnvinfer_plugin.so.8
 *
 * Output, one "key: value" per line:
 *   library: <path>
 *   getInferLibVersion: <int>          as the library encodes it (8203 = 8.2.3, 100300 = 10.3.0)
 *   initLibNvInferPlugins: <int>       only when the library exports it
 *   gpu_archs: <list>                  stand-in libraries only
 *   plugin_creators: <count>           stand-in libraries only (getPluginCreatorNames)
 *   creator: <name>                    one line per creator
 * Exit status: 0 ok, 2 usage, 3 dlopen failed, 4 no getInferLibVersion.
 * POSIX C only (dlopen/dlsym), so it builds on a target that has a C compiler and no Python.
 */
#include <dlfcn.h>
#include <stdio.h>

typedef int (*version_fn)(void);
typedef int (*init_fn)(void *, const char *);
typedef const char *const *(*names_fn)(int *);
typedef const char *(*archs_fn)(void);

int main(int argc, char **argv)
{
    void *lib;
    version_fn version;
    init_fn init;
    names_fn names;
    archs_fn archs;

    if (argc != 2)
    {
        fprintf(stderr, "usage: %s LIBRARY\n", argv[0]);
        return 2;
    }
    lib = dlopen(argv[1], RTLD_NOW | RTLD_GLOBAL);
    if (lib == NULL)
    {
        fprintf(stderr, "dlopen failed: %s\n", dlerror());
        return 3;
    }
    printf("library: %s\n", argv[1]);
    *(void **) (&version) = dlsym(lib, "getInferLibVersion");
    if (version == NULL)
    {
        fprintf(stderr, "no getInferLibVersion in %s\n", argv[1]);
        return 4;
    }
    printf("getInferLibVersion: %d\n", version());
    *(void **) (&init) = dlsym(lib, "initLibNvInferPlugins");
    if (init != NULL)
    {
        /* Real libraries want an ILogger; only the stand-in accepts NULL. */
        *(void **) (&names) = dlsym(lib, "getPluginCreatorNames");
        if (names != NULL)
        {
            printf("initLibNvInferPlugins: %d\n", init(NULL, ""));
        }
    }
    *(void **) (&archs) = dlsym(lib, "getPluginGpuArchs");
    if (archs != NULL)
    {
        printf("gpu_archs: %s\n", archs());
    }
    *(void **) (&names) = dlsym(lib, "getPluginCreatorNames");
    if (names != NULL)
    {
        int count = 0;
        int i;
        const char *const *list = names(&count);
        printf("plugin_creators: %d\n", count);
        for (i = 0; i < count; ++i)
        {
            printf("creator: %s\n", list[i]);
        }
    }
    return 0;
}
