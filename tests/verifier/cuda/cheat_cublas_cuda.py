"""Cheat: a load_inline candidate whose "kernel" hands the work to cuBLAS (a vendor library is
framework compute, and native code is past the compute lock)."""

import torch
import torch.nn as nn
from torch.utils.cpp_extension import load_inline

CUDA_SOURCE = r"""
#include <torch/extension.h>
#include <cublas_v2.h>

torch::Tensor gemm_forward(torch::Tensor a, torch::Tensor b) {
    auto c = torch::empty({a.size(0), b.size(1)}, a.options());
    cublasHandle_t handle;
    cublasCreate(&handle);
    float one = 1.0f, zero = 0.0f;
    cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_N, b.size(1), a.size(0), a.size(1), &one,
                b.data_ptr<float>(), b.size(1), a.data_ptr<float>(), a.size(1), &zero, c.data_ptr<float>(), b.size(1));
    cublasDestroy(handle);
    return c;
}
"""

module = load_inline(
    name="kiln_cublas_cheat",
    cpp_sources="torch::Tensor gemm_forward(torch::Tensor a, torch::Tensor b);",
    cuda_sources=CUDA_SOURCE,
    functions=["gemm_forward"],
    extra_ldflags=["-lcublas"],
)


class ModelNew(nn.Module):
    def __init__(self, channels, kernel_size):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2, groups=channels)

    def forward(self, x):
        return module.gemm_forward(x.flatten(1), self.conv.weight.flatten(1))
