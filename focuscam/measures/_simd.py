"""Explicit 16-lane loops for the uint8 stencil hot paths: sums of squares of int16 stencils.

LLVM's loop vectoriser picks its vector width from the widest type in a loop. The uint8
stencil loops of ``lapv`` and ``teng`` keep an int32 sum of int16 squares, so on a CPU with
256-bit vectors and no AVX-512 (an AMD EPYC, LLVM's ``znver4`` without AVX-512, 2026-12-03) it
chose 8 lanes: ``lapv`` squared 8 pixels per ``vpmaddwd`` (xmm), and ``teng`` widened every
term to int32 lanes and squared with ``vpmulld`` (about 3 instructions per pixel). The loops
here are written directly in LLVM IR over ``<16 x i16>`` vectors: 16 bytes of each neighbour
row are loaded and zero-extended, the stencil is computed in int16 lanes (exact: ``|L|``,
``|Gx|``, ``|Gy| <= 1020``), and each stencil vector is squared and summed pairwise into
``<8 x i32>``: ``vpmaddwd`` through its LLVM intrinsic where numba compiles for AVX2, and
elsewhere the same exact arithmetic in generic IR (even and odd lanes, sign-extended,
multiplied, added), which every LLVM target lowers.

Each loop covers the ``n >= 16`` columns ``[c, c + n)`` of the ``mid`` row (neighbours at
``c - 1`` and ``c + n`` must exist): ``n // 16`` vectors, then the last ``n % 16`` columns as
one more vector ending at column ``c + n - 1`` with the lanes already summed zeroed. Fewer
than 16 columns are left to the caller's scalar loop (the intrinsic returns 0). The int32
lanes are exact for ``n <= 16384`` (``lapv``: ``2 * 1020**2`` per lane and vector) and
``n <= 8192`` (``teng``: two stencils per pixel); the callers use blocks of 2048 and 4096.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types as nbt
from numba.core import cgutils
from numba.extending import intrinsic

_I8, _I16, _I32, _I64 = ir.IntType(8), ir.IntType(16), ir.IntType(32), ir.IntType(64)
_V16I8 = ir.VectorType(_I8, 16)
_V16I16 = ir.VectorType(_I16, 16)
_V8I16 = ir.VectorType(_I16, 8)
_V8I32 = ir.VectorType(_I32, 8)
_EVEN = ir.Constant(ir.VectorType(_I32, 8), [2 * k for k in range(8)])
_ODD = ir.Constant(ir.VectorType(_I32, 8), [2 * k + 1 for k in range(8)])


def _has_avx2() -> bool:
    """Whether numba compiles for an x86 CPU with AVX2 (its CPU features are in its cache key)."""
    import platform

    import llvmlite.binding as ll
    from numba.core import config

    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    features = config.CPU_FEATURES
    if features is None:
        features = ll.get_host_cpu_features().flatten()
    return "+avx2" in features.split(",")


#: ``vpmaddwd`` on 256-bit vectors where the CPU has it; elsewhere the same sums in generic IR.
_AVX2 = _has_avx2()


def _sq_pairs(builder, v):
    """``<8 x i32>``: ``v[2k]**2 + v[2k + 1]**2`` of a ``<16 x i16>`` (x86: ``vpmaddwd``).

    LLVM does not turn the generic form (even and odd lanes, sign-extended, multiplied, added)
    into ``vpmaddwd`` (measured: it shuffled and squared with ``vpmulld``), so on AVX2 the
    instruction is called by its LLVM intrinsic; both forms are the same exact arithmetic.
    """
    if _AVX2:
        fnty = ir.FunctionType(_V8I32, [_V16I16, _V16I16])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.x86.avx2.pmadd.wd")
        return builder.call(fn, [v, v])
    even = builder.sext(builder.shuffle_vector(v, v, _EVEN), _V8I32)
    odd = builder.sext(builder.shuffle_vector(v, v, _ODD), _V8I32)
    return builder.add(builder.mul(even, even), builder.mul(odd, odd))


def _hsum(builder, acc):
    """The sum of the 8 int32 lanes of ``acc`` as an int64."""
    total = ir.Constant(_I64, 0)
    for k in range(8):
        total = builder.add(total, builder.sext(builder.extract_element(acc, ir.Constant(_I32, k)), _I64))
    return total


def _splat(builder, x):
    """A ``<16 x i16>`` of the i16 ``x`` in every lane."""
    v = builder.insert_element(ir.Constant(_V16I16, None), x, ir.Constant(_I32, 0))
    return builder.shuffle_vector(v, v, ir.Constant(ir.VectorType(_I32, 16), [0] * 16))


def _stencil_sq_loop(taps, stencils):
    """An intrinsic ``f(up, mid, dn, c, n) -> int64``: the sum of squares of ``stencils`` over
    the ``n`` columns from ``c`` when ``n >= 16`` (0 for ``n < 16``: the caller's scalar loop).

    ``taps``: ``{name: (row, dcol)}`` with ``row`` 0 (``up``), 1 (``mid``) or 2 (``dn``);
    ``stencils(builder, vec)``: the ``<16 x i16>`` vectors whose squares are summed, from the
    tap vectors ``vec[name]``.
    """

    def _squares(builder, rows, col, keep):
        """``<8 x i32>`` pair sums of the squared stencils of the 16 columns from ``col``
        (lanes where ``keep`` is false count 0)."""
        vec = {}
        for name, (row, dcol) in taps.items():
            ptr = builder.gep(rows[row], [builder.add(col, ir.Constant(_I64, dcol))])
            raw = builder.load(builder.bitcast(ptr, _V16I8.as_pointer()), align=1)
            vec[name] = builder.zext(raw, _V16I16)
        total = ir.Constant(_V8I32, None)
        for v in stencils(builder, vec):
            if keep is not None:
                v = builder.select(keep, v, ir.Constant(_V16I16, None))
            total = builder.add(total, _sq_pairs(builder, v))
        return total

    @intrinsic
    def loop(typingctx, up, mid, dn, c, n):
        rows_ok = all(
            isinstance(a, nbt.Array) and a.ndim == 1 and a.dtype == nbt.uint8 and a.layout == "C"
            for a in (up, mid, dn)
        )
        if not (rows_ok and isinstance(c, nbt.Integer) and isinstance(n, nbt.Integer)):
            return None
        sig = nbt.int64(up, mid, dn, c, n)

        def codegen(context, builder, signature, args):
            rows = []
            for k in range(3):
                ary = context.make_array(signature.args[k])(context, builder, args[k])
                rows.append(builder.bitcast(ary.data, _I8.as_pointer()))
            start = context.cast(builder, args[3], signature.args[3], nbt.int64)
            count = context.cast(builder, args[4], signature.args[4], nbt.int64)
            nvec = builder.sdiv(count, ir.Constant(_I64, 16))
            acc = builder.alloca(_V8I32)
            builder.store(ir.Constant(_V8I32, None), acc)
            head = builder.block
            cond_bb = builder.append_basic_block("simd.cond")
            body_bb = builder.append_basic_block("simd.body")
            end_bb = builder.append_basic_block("simd.end")
            builder.branch(cond_bb)
            builder.position_at_end(cond_bb)
            i = builder.phi(_I64)
            i.add_incoming(ir.Constant(_I64, 0), head)
            builder.cbranch(builder.icmp_signed("<", i, nvec), body_bb, end_bb)
            builder.position_at_end(body_bb)
            col = builder.add(start, builder.mul(i, ir.Constant(_I64, 16)))
            builder.store(builder.add(builder.load(acc), _squares(builder, rows, col, None)), acc)
            i.add_incoming(builder.add(i, ir.Constant(_I64, 1)), builder.block)
            builder.branch(cond_bb)
            builder.position_at_end(end_bb)
            # the last n % 16 columns: one more vector ending at column c + n - 1, whose lanes
            # before the first column not yet summed are zeroed (n >= 16: it stays in range)
            rem = builder.sub(count, builder.mul(nvec, ir.Constant(_I64, 16)))
            tail = builder.and_(
                builder.icmp_signed(">", rem, ir.Constant(_I64, 0)),
                builder.icmp_signed(">=", count, ir.Constant(_I64, 16)),
            )
            with builder.if_then(tail):
                col = builder.sub(builder.add(start, count), ir.Constant(_I64, 16))
                first = builder.trunc(builder.sub(ir.Constant(_I64, 16), rem), _I16)
                lanes = ir.Constant(_V16I16, list(range(16)))
                keep = builder.icmp_unsigned(">=", lanes, _splat(builder, first))
                builder.store(builder.add(builder.load(acc), _squares(builder, rows, col, keep)), acc)
            return _hsum(builder, builder.load(acc))

        return sig, codegen

    return loop


def _lap(builder, v):
    """The 4-neighbour Laplacian ``u + d + ml + mr - 4 m`` in int16 lanes."""
    s = builder.add(builder.add(v["u"], v["d"]), builder.add(v["ml"], v["mr"]))
    return [builder.sub(s, builder.shl(v["m"], ir.Constant(_V16I16, 2)))]


def _sobel(builder, v):
    """Sobel ``Gx``, ``Gy`` from the diagonals ``p = dr - ul``, ``q = ur - dl``:
    ``Gx = p + q + 2 (mr - ml)``, ``Gy = p - q + 2 (d - u)``, in int16 lanes."""
    one = ir.Constant(_V16I16, 1)
    p = builder.sub(v["dr"], v["ul"])
    q = builder.sub(v["ur"], v["dl"])
    gx = builder.add(builder.add(p, q), builder.shl(builder.sub(v["mr"], v["ml"]), one))
    gy = builder.add(builder.sub(p, q), builder.shl(builder.sub(v["d"], v["u"]), one))
    return [gx, gy]


#: ``sum(L**2)`` over the vector part of a row block (see the module docstring).
lap_sq_u8 = _stencil_sq_loop({"u": (0, 0), "d": (2, 0), "ml": (1, -1), "m": (1, 0), "mr": (1, 1)}, _lap)
#: ``sum(Gx**2 + Gy**2)`` over the vector part of a row block.
sobel_sq_u8 = _stencil_sq_loop(
    {
        "ul": (0, -1),
        "u": (0, 0),
        "ur": (0, 1),
        "ml": (1, -1),
        "mr": (1, 1),
        "dl": (2, -1),
        "d": (2, 0),
        "dr": (2, 1),
    },
    _sobel,
)
