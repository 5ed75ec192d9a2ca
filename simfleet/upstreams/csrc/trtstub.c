/* SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
 * SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Stand-in for NVIDIA TensorRT's libnvinfer / libnvinfer_plugin, written for the simulated fleet.
 *
 * One source, two libraries:
 *   cc -shared -fPIC -DTRTSTUB_CORE   trtstub.c -o libnvinfer.so.X.Y.Z
 *   cc -shared -fPIC -DTRTSTUB_PLUGIN trtstub.c -o libnvinfer_plugin.so.X.Y.Z -lnvinfer
 *
 * Build-time inputs (macros):
 *   TRTSTUB_MAJOR / TRTSTUB_MINOR / TRTSTUB_PATCH  the TensorRT version (required)
 *   TRTSTUB_HAVE_CONFIG  include "trtstub_config.h" (found on the include path), which defines
 *                        TRTSTUB_PLUGIN_NAMES, a comma-separated list of string literals, and
 *                        TRTSTUB_GPU_ARCHS, a string such as "53 62".
 *
 * Exported API (C linkage, all libraries):
 *   int getInferLibVersion(void)
 *       encoded like NV_TENSORRT_VERSION: MAJOR*1000+MINOR*100+PATCH for TensorRT < 10
 *       (NvInferRuntimeCommon.h / NvInferRuntimeBase.h, TensorRT 7-8) and
 *       MAJOR*10000+MINOR*100+PATCH from TensorRT 10 on (NV_TENSORRT_VERSION_INT, TensorRT 10).
 * libnvinfer only:
 *   void *getPluginRegistry(void)   a C stand-in registry (the real one is a C++ object)
 * libnvinfer_plugin only:
 *   int initLibNvInferPlugins(void *logger, const char *libNamespace)   registers the creators
 *   const char *const *getPluginCreatorNames(int *count)   stand-in only: NULL-terminated list
 *   const char *getPluginGpuArchs(void)                     stand-in only: "53 62 72"
 * Every creator name and the marker "GPU_ARCHS=<list>" sit in .rodata, so `grep -c NAME lib`
 * finds them without loading the library.
 */
#include <stddef.h>

#if !defined(TRTSTUB_MAJOR) || !defined(TRTSTUB_MINOR) || !defined(TRTSTUB_PATCH)
#error "define TRTSTUB_MAJOR, TRTSTUB_MINOR and TRTSTUB_PATCH"
#endif

#ifdef TRTSTUB_HAVE_CONFIG
#include "trtstub_config.h"
#endif

#define TRTSTUB_EXPORT __attribute__((visibility("default")))

#if TRTSTUB_MAJOR >= 10
#define TRTSTUB_VERSION_INT (TRTSTUB_MAJOR * 10000 + TRTSTUB_MINOR * 100 + TRTSTUB_PATCH)
#else
#define TRTSTUB_VERSION_INT (TRTSTUB_MAJOR * 1000 + TRTSTUB_MINOR * 100 + TRTSTUB_PATCH)
#endif

#define TRTSTUB_STR2(x) #x
#define TRTSTUB_STR(x) TRTSTUB_STR2(x)

TRTSTUB_EXPORT int getInferLibVersion(void)
{
    return TRTSTUB_VERSION_INT;
}

#ifdef TRTSTUB_CORE
/* Marker so `strings` tells what this file is. */
TRTSTUB_EXPORT const char trtstub_core_id[] =
    "trtstub libnvinfer " TRTSTUB_STR(TRTSTUB_MAJOR) "." TRTSTUB_STR(TRTSTUB_MINOR) "."
    TRTSTUB_STR(TRTSTUB_PATCH) " (simulated fleet stand-in)";

struct trtstub_registry
{
    int count;
    const char *const *names;
    const char *plugin_namespace;
};

static struct trtstub_registry registry;

TRTSTUB_EXPORT void *getPluginRegistry(void)
{
    return &registry;
}
#endif /* TRTSTUB_CORE */

#ifdef TRTSTUB_PLUGIN
#ifndef TRTSTUB_PLUGIN_NAMES
#error "TRTSTUB_PLUGIN_NAMES must list the plugin creator names"
#endif
#ifndef TRTSTUB_GPU_ARCHS
#define TRTSTUB_GPU_ARCHS "unknown"
#endif

struct trtstub_registry
{
    int count;
    const char *const *names;
    const char *plugin_namespace;
};

/* Provided by libnvinfer: keeps a real NEEDED entry on libnvinfer.so.<major>. */
extern void *getPluginRegistry(void);

static const char *const creator_names[] = {TRTSTUB_PLUGIN_NAMES, NULL};

TRTSTUB_EXPORT const char trtstub_gpu_archs_marker[] = "GPU_ARCHS=" TRTSTUB_GPU_ARCHS;
TRTSTUB_EXPORT const char trtstub_plugin_id[] =
    "trtstub libnvinfer_plugin " TRTSTUB_STR(TRTSTUB_MAJOR) "." TRTSTUB_STR(TRTSTUB_MINOR) "."
    TRTSTUB_STR(TRTSTUB_PATCH) " (simulated fleet stand-in)";

TRTSTUB_EXPORT const char *const *getPluginCreatorNames(int *count)
{
    if (count != NULL)
    {
        int n = 0;
        while (creator_names[n] != NULL)
        {
            ++n;
        }
        *count = n;
    }
    return creator_names;
}

TRTSTUB_EXPORT const char *getPluginGpuArchs(void)
{
    return trtstub_gpu_archs_marker + sizeof("GPU_ARCHS=") - 1;
}

TRTSTUB_EXPORT int initLibNvInferPlugins(void *logger, const char *libNamespace)
{
    struct trtstub_registry *reg = (struct trtstub_registry *) getPluginRegistry();
    (void) logger;
    if (reg == NULL)
    {
        return 0;
    }
    getPluginCreatorNames(&reg->count);
    reg->names = creator_names;
    reg->plugin_namespace = libNamespace != NULL ? libNamespace : "";
    return 1;
}
#endif /* TRTSTUB_PLUGIN */
