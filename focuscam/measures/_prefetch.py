"""A software prefetch for the kernels: ``llvm.prefetch`` of the rows a kernel reads next.

A region of interest is read row by row at the frame's stride, so every row starts in new
cache lines (often a new page) and the hardware prefetcher restarts each time: a cold
512 x 512 ROI of a 1080p frame read at ~1.6x the time of the same bytes prefetched a few rows
ahead (measured, benchmarks/README.md). :func:`prefetch_row` asks for one byte per 64-byte line
of a row a few rows ahead; it never faults (a prefetch is a hint) and changes no result.

The hot paths prefetch on full frames too: on the Intel Xeon (AVX-512) machine of the
issue-15 measurements it made cold 1080p frames 5-20 % faster (lapv gray 0.46 -> 0.39 ms,
glvn 0.30 -> 0.23 ms) and 5472 x 3648 uint16 frames some 30 % (benchmarks/README.md). On AMD
Zen (an EPYC, 2026-12-03) it made full frames 6-31 % slower (lapv gray 6-9 %, BGR 11-17 %,
uint16 16-22 %, glvn 30 %; teng neutral) while ROIs still gained 1.7-3x: there a row that spans
the whole frame width (the next row follows it in memory, which the hardware prefetcher
streams) is not prefetched (:data:`FULL_ROWS`). The choice is made once per process from the
CPU name numba compiles for, which is also part of its cache key, so a cached kernel always
matches the machine it runs on.
"""

from __future__ import annotations

from llvmlite import ir
from numba import njit
from numba.core import cgutils
from numba.core import types as nbt
from numba.extending import intrinsic

from ._compile import quick_cache_load

#: Rows read ahead of the row being computed.
AHEAD = 4


def _prefetch_full_rows() -> bool:
    """False on AMD Zen (``znver*``), True elsewhere: see the module docstring."""
    import llvmlite.binding as ll
    from numba.core import config

    return not (config.CPU_NAME or ll.get_host_cpu_name()).startswith("znver")


#: Prefetch rows that span the whole frame width too (not on AMD Zen; see the module docstring).
FULL_ROWS = _prefetch_full_rows()


@intrinsic
def _prefetch(typingctx, arr, idx):
    """``llvm.prefetch(&arr[idx], read, high locality, data)`` for a 1-D array."""
    sig = nbt.void(arr, idx)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]], wraparound=False)
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        builder.call(
            fn, [builder.bitcast(ptr, i8p), ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)]
        )
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True, nogil=True, inline="always")
def prefetch_row(img, r, c0, c1):
    """Prefetch ``img[r, c0:c1]`` (a 2-D array; no-op for rows outside it, and for whole rows
    unless :data:`FULL_ROWS`)."""
    if 0 <= r < img.shape[0] and (FULL_ROWS or c1 - c0 < img.shape[1]):
        row = img[r]
        step = max(64 // row.itemsize, 1)
        for c in range(c0, c1, step):
            _prefetch(row, c)


quick_cache_load(globals())  # cached kernels load without numba's target refresh (see ._compile)
