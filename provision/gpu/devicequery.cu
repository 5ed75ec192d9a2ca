/* SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
 * SPDX-License-Identifier: GPL-3.0-or-later */
/* Prints each CUDA device's name and compute capability in the line formats of NVIDIA's
 * deviceQuery sample, so that the same parser reads this program's output and the sample's.
 * Uses the runtime API only (no kernels), so any nvcc target architecture will do. */
#include <stdio.h>
#include <cuda_runtime.h>

int main(void)
{
    int count = 0, driver = 0, runtime = 0, i;
    cudaError_t err = cudaGetDeviceCount(&count);

    printf("deviceQuery (dsprov) Starting...\n\n");
    if (err != cudaSuccess) {
        printf("cudaGetDeviceCount returned %d\n-> %s\nResult = FAIL\n", (int)err,
               cudaGetErrorString(err));
        return 1;
    }
    if (count == 0) {
        printf("There are no available device(s) that support CUDA\nResult = FAIL\n");
        return 1;
    }
    printf("Detected %d CUDA Capable device(s)\n", count);
    cudaDriverGetVersion(&driver);
    cudaRuntimeGetVersion(&runtime);
    for (i = 0; i < count; i++) {
        struct cudaDeviceProp prop;
        if (cudaGetDeviceProperties(&prop, i) != cudaSuccess)
            continue;
        printf("\nDevice %d: \"%s\"\n", i, prop.name);
        printf("  CUDA Driver Version / Runtime Version          %d.%d / %d.%d\n",
               driver / 1000, (driver % 100) / 10, runtime / 1000, (runtime % 100) / 10);
        printf("  CUDA Capability Major/Minor version number:    %d.%d\n", prop.major, prop.minor);
        printf("  Total amount of global memory:                 %.0f MBytes (%llu bytes)\n",
               (double)prop.totalGlobalMem / 1048576.0, (unsigned long long)prop.totalGlobalMem);
        printf("  (%03d) Multiprocessors\n", prop.multiProcessorCount);
    }
    printf("\nResult = PASS\n");
    return 0;
}
