"""Explicit vector loops in LLVM IR for the integer hot paths: ``lapv``, ``teng`` and ``glvn``.

LLVM's loop vectoriser picks its vector width from the widest type in a loop. The uint8
stencil loops of ``lapv`` and ``teng`` keep an int32 sum of int16 squares, so on a CPU with
256-bit vectors and no AVX-512 (an AMD EPYC, LLVM's ``znver4`` without AVX-512, 2026-12-03) it
chose 8 lanes: ``lapv`` squared 8 pixels per ``vpmaddwd`` (xmm), and ``teng`` widened every
term to int32 lanes and squared with ``vpmulld`` (about 3 instructions per pixel). The loops
here are written directly in LLVM IR over 256-bit vectors, the stencils in int16 lanes
(exact: ``|L|``, ``|Gx|``, ``|Gy| <= 1020``), each stencil vector squared and summed pairwise
into ``<8 x i32>``: ``vpmaddwd`` through its LLVM intrinsic where numba compiles for AVX2, and
elsewhere the same exact arithmetic in generic IR (even and odd lanes, sign-extended,
multiplied, added), which every LLVM target lowers.

- :data:`sobel_sq_u8` (``teng``): 16 columns per vector, 16 bytes of each neighbour row
  loaded and zero-extended.
- :data:`lap_sq_u8` (``lapv``): 32 columns per vector without byte shuffles: each 32-byte
  load is read as 16 words whose low and high bytes are the even and odd columns.
- :data:`row_sums` (``glvn``): sum (``vpsadbw``) and sum of squares of a uint8 or uint16 row.

Each loop covers ``n`` columns from ``c`` (stencils: of the ``mid`` row, whose neighbours at
``c - 1`` and ``c + n`` must exist): whole vectors, then the last ``n % step`` columns as one
more vector ending at column ``c + n - 1`` with the lanes already summed zeroed. Fewer than
one vector of columns are left to the caller's scalar loop (the intrinsic returns 0). Whole
vectors go 4 at a time into separate accumulators: a single chain of ``vpmaddwd`` + add
is latency-bound (on a CPU with AVX-512 VNNI LLVM fuses the pair into one ``vpdpwssd``, and a
1080p ``lapv`` ran at one per 4 cycles), independent chains overlap. The int32 lanes are
exact for ``n <= 16384`` (``lapv``: ``4 * 1020**2`` per lane and 32-column vector) and
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


def _madd_pairs(builder, a, b):
    """``<8 x i32>``: ``a[2k] b[2k] + a[2k + 1] b[2k + 1]`` of two ``<16 x i16>`` (x86:
    ``vpmaddwd``).

    LLVM does not turn the generic form (even and odd lanes, sign-extended, multiplied, added)
    into ``vpmaddwd`` (measured: it shuffled and squared with ``vpmulld``), so on AVX2 the
    instruction is called by its LLVM intrinsic; both forms are the same exact arithmetic.
    """
    if _AVX2:
        fnty = ir.FunctionType(_V8I32, [_V16I16, _V16I16])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.x86.avx2.pmadd.wd")
        return builder.call(fn, [a, b])
    ea = builder.sext(builder.shuffle_vector(a, a, _EVEN), _V8I32)
    oa = builder.sext(builder.shuffle_vector(a, a, _ODD), _V8I32)
    eb = builder.sext(builder.shuffle_vector(b, b, _EVEN), _V8I32)
    ob = builder.sext(builder.shuffle_vector(b, b, _ODD), _V8I32)
    return builder.add(builder.mul(ea, eb), builder.mul(oa, ob))


def _sq_pairs(builder, v):
    """``<8 x i32>``: ``v[2k]**2 + v[2k + 1]**2`` of a ``<16 x i16>`` (:func:`_madd_pairs`)."""
    return _madd_pairs(builder, v, v)


def _vector_loop(builder, start, count, step, kinds, terms, unroll):
    """Sum ``terms(col, first)`` over the ``count`` elements from ``start``, ``step`` per vector.

    ``count // step`` vectors, ``unroll`` at a time into as many separate sets of accumulators
    (types ``kinds``): one chain of ``vpmaddwd`` + add per accumulator is latency-bound (LLVM
    fuses them into ``vpdpwssd`` on AVX-512 VNNI, 4+ cycles each), so independent chains run
    in parallel. Then the last ``count % step`` elements as one more vector ending at element
    ``start + count - 1`` (``count >= step``), ``first`` (i64) being the first of its elements
    not yet summed (``None`` for whole vectors). Returns each kind's total over its lanes and
    sets as an i64.
    """
    sets = []
    for _ in range(unroll):
        slots = []
        for kind in kinds:
            slot = cgutils.alloca_once(builder, kind)  # entry block: promoted to a register
            builder.store(ir.Constant(kind, None), slot)
            slots.append(slot)
        sets.append(slots)

    def add(slots, col, first):
        for slot, v in zip(slots, terms(col, first), strict=True):
            builder.store(builder.add(builder.load(slot), v), slot)

    i64 = lambda v: ir.Constant(_I64, v)  # noqa: E731
    nvec = builder.sdiv(count, i64(step))
    nblk = builder.sdiv(nvec, i64(unroll))
    with cgutils.for_range(builder, nblk) as blk:
        for u, slots in enumerate(sets):
            vec = builder.add(builder.mul(blk.index, i64(unroll)), i64(u))
            add(slots, builder.add(start, builder.mul(vec, i64(step))), None)
    with cgutils.for_range(builder, builder.sub(nvec, builder.mul(nblk, i64(unroll)))) as left:
        vec = builder.add(builder.mul(nblk, i64(unroll)), left.index)
        add(sets[0], builder.add(start, builder.mul(vec, i64(step))), None)
    rem = builder.sub(count, builder.mul(nvec, i64(step)))
    tail = builder.and_(builder.icmp_signed(">", rem, i64(0)), builder.icmp_signed(">=", count, i64(step)))
    with builder.if_then(tail):
        add(sets[0], builder.sub(builder.add(start, count), i64(step)), builder.sub(i64(step), rem))
    totals = []
    for k in range(len(kinds)):
        acc = builder.load(sets[0][k])
        for slots in sets[1:]:  # the sets' lane sums stay within the same bounds as one set's
            acc = builder.add(acc, builder.load(slots[k]))
        totals.append(_reduce_i64(builder, acc))
    return totals


def _reduce_i64(builder, acc):
    """The sum of the lanes of an integer vector as an i64 (one reduction per call)."""
    wide = ir.VectorType(_I64, acc.type.count)
    if acc.type.element != _I64:
        acc = builder.sext(acc, wide)
    fnty = ir.FunctionType(_I64, [wide])
    fn = cgutils.get_or_insert_function(builder.module, fnty, f"llvm.vector.reduce.add.v{wide.count}i64")
    return builder.call(fn, [acc])


def _keep_from(builder, nlanes, first):
    """``<nlanes x i1>``: lane ``t`` true when ``t >= first`` (an i64 below ``nlanes``)."""
    ty = _I8 if nlanes > 16 else _I16
    vty = ir.VectorType(ty, nlanes)
    v = builder.insert_element(ir.Constant(vty, None), builder.trunc(first, ty), ir.Constant(_I32, 0))
    v = builder.shuffle_vector(v, v, ir.Constant(ir.VectorType(_I32, nlanes), [0] * nlanes))
    return builder.icmp_unsigned(">=", ir.Constant(vty, list(range(nlanes))), v)


def _rows_signature(up, mid, dn, c, n, dtype):
    """``int64(up, mid, dn, c, n)`` for three C-contiguous 1-D rows of ``dtype`` and two
    integers (a start column and a count), else None (the intrinsic does not apply)."""
    rows_ok = all(
        isinstance(a, nbt.Array) and a.ndim == 1 and a.dtype == dtype and a.layout == "C"
        for a in (up, mid, dn)
    )
    if not (rows_ok and isinstance(c, nbt.Integer) and isinstance(n, nbt.Integer)):
        return None
    return nbt.int64(up, mid, dn, c, n)


def _row_pointers(context, builder, signature, args, element) -> list:
    """The data pointers (to ``element``) of the intrinsic's three row arguments."""
    rows = []
    for k in range(3):
        ary = context.make_array(signature.args[k])(context, builder, args[k])
        rows.append(builder.bitcast(ary.data, element.as_pointer()))
    return rows


def _stencil_sq_loop(taps, stencils, unroll=4):
    """An intrinsic ``f(up, mid, dn, c, n) -> int64``: the sum of squares of ``stencils`` over
    the ``n`` columns from ``c`` when ``n >= 16`` (0 for ``n < 16``: the caller's scalar loop).

    ``taps``: ``{name: (row, dcol)}`` with ``row`` 0 (``up``), 1 (``mid``) or 2 (``dn``);
    ``stencils(builder, vec)``: the ``<16 x i16>`` vectors whose squares are summed, from the
    tap vectors ``vec[name]``.
    """

    @intrinsic
    def loop(typingctx, up, mid, dn, c, n):
        sig = _rows_signature(up, mid, dn, c, n, nbt.uint8)
        if sig is None:
            return None

        def codegen(context, builder, signature, args):
            rows = _row_pointers(context, builder, signature, args, _I8)

            def squares(col, first):
                """The ``<8 x i32>`` pair sums of each squared stencil of the 16 columns from
                ``col`` (columns before ``first`` count 0)."""
                vec = {}
                for name, (row, dcol) in taps.items():
                    ptr = builder.gep(rows[row], [builder.add(col, ir.Constant(_I64, dcol))])
                    raw = builder.load(builder.bitcast(ptr, _V16I8.as_pointer()), align=1)
                    vec[name] = builder.zext(raw, _V16I16)
                keep = None if first is None else _keep_from(builder, 16, first)
                total = None
                for v in stencils(builder, vec):
                    if keep is not None:
                        v = builder.select(keep, v, ir.Constant(_V16I16, None))
                    sq = _sq_pairs(builder, v)
                    total = sq if total is None else builder.add(total, sq)
                return [total]

            start = context.cast(builder, args[3], signature.args[3], nbt.int64)
            count = context.cast(builder, args[4], signature.args[4], nbt.int64)
            return _vector_loop(builder, start, count, 16, (_V8I32,), squares, unroll)[0]

        return sig, codegen

    return loop


def _sobel(builder, v):
    """Sobel ``Gx``, ``Gy`` from the diagonals ``p = dr - ul``, ``q = ur - dl``:
    ``Gx = p + q + 2 (mr - ml)``, ``Gy = p - q + 2 (d - u)``, in int16 lanes."""
    one = ir.Constant(_V16I16, 1)
    p = builder.sub(v["dr"], v["ul"])
    q = builder.sub(v["ur"], v["dl"])
    gx = builder.add(builder.add(p, q), builder.shl(builder.sub(v["mr"], v["ml"]), one))
    gy = builder.add(builder.sub(p, q), builder.shl(builder.sub(v["d"], v["u"]), one))
    return [gx, gy]


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


# --- sums and sums of squares of a row segment (glvn) -----------------------------------------

_V32I8 = ir.VectorType(_I8, 32)
_V4I64 = ir.VectorType(_I64, 4)


def _psad(builder, raw):
    """``<4 x i64>``: lane ``j`` the sum of bytes ``8j .. 8j + 7`` of a ``<32 x i8>`` (``vpsadbw``
    against zero on AVX2; elsewhere the same sums by pairwise widening adds)."""
    if _AVX2:
        fnty = ir.FunctionType(_V4I64, [_V32I8, _V32I8])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.x86.avx2.psad.bw")
        return builder.call(fn, [raw, ir.Constant(_V32I8, None)])
    v = builder.zext(raw, ir.VectorType(_I16, 32))
    for width, ty in ((16, _I16), (8, _I32), (4, _I64)):
        even = ir.Constant(ir.VectorType(_I32, width), [2 * k for k in range(width)])
        odd = ir.Constant(ir.VectorType(_I32, width), [2 * k + 1 for k in range(width)])
        vt = ir.VectorType(ty, width)
        a, b = builder.shuffle_vector(v, v, even), builder.shuffle_vector(v, v, odd)
        if a.type != vt:
            a, b = builder.zext(a, vt), builder.zext(b, vt)
        v = builder.add(a, b)
    return v


def _bytes_of_words(builder, raw):
    """The low and high bytes of the 16 little-endian words of a ``<32 x i8>``, as ``<16 x i16>``
    (``w & 255`` and ``w >> 8``: two ALU operations, no shuffles)."""
    w = builder.bitcast(raw, _V16I16)
    return builder.and_(w, ir.Constant(_V16I16, 255)), builder.lshr(w, ir.Constant(_V16I16, 8))


def _sums_loop(bodies):
    """An intrinsic ``f(row, c, n) -> (int64, int64)``: ``(sum, sum of squares)`` of the ``n``
    elements ``row[c : c + n]`` of a uint8 or uint16 row (``bodies[dtype] = (step, body)``:
    ``step`` elements per 32-byte vector): ``n // step`` vectors, then one more ending at
    ``c + n - 1`` with the elements already summed zeroed; ``(0, 0)`` for ``n < step`` (the
    caller's scalar loop). ``body(builder, raw)`` gives the terms of one ``<32 x i8>`` vector,
    added into accumulators of the types ``body.kinds``, and ``body.finish(builder, totals)``
    turns their lane totals (i64) into the pair."""

    @intrinsic
    def loop(typingctx, row, c, n):
        ok = isinstance(row, nbt.Array) and row.ndim == 1 and row.layout == "C"
        if not (ok and row.dtype in bodies and isinstance(c, nbt.Integer) and isinstance(n, nbt.Integer)):
            return None
        step, body = bodies[row.dtype]
        sig = nbt.UniTuple(nbt.int64, 2)(row, c, n)

        def codegen(context, builder, signature, args):
            ary = context.make_array(signature.args[0])(context, builder, args[0])
            base = builder.bitcast(ary.data, _I8.as_pointer())
            size = ir.Constant(_I64, 32 // step)  # bytes per element

            def terms(col, first):
                ptr = builder.gep(base, [builder.mul(col, size)])
                raw = builder.load(builder.bitcast(ptr, _V32I8.as_pointer()), align=1)
                if first is not None:
                    keep = _keep_from(builder, 32, builder.mul(first, size))
                    raw = builder.select(keep, raw, ir.Constant(_V32I8, None))
                return body(builder, raw)

            start = context.cast(builder, args[1], signature.args[1], nbt.int64)
            count = context.cast(builder, args[2], signature.args[2], nbt.int64)
            totals = _vector_loop(builder, start, count, step, body.kinds, terms, 4)
            return context.make_tuple(builder, signature.return_type, list(body.finish(builder, totals)))

        return sig, codegen

    return loop


def _u8_body(builder, raw):
    """``sum`` (``vpsadbw``) and ``sum of squares`` (``vpmaddwd`` of the even and odd bytes)."""
    lo, hi = _bytes_of_words(builder, raw)
    return _psad(builder, raw), builder.add(_sq_pairs(builder, lo), _sq_pairs(builder, hi))


_u8_body.kinds = (_V4I64, _V8I32)
_u8_body.finish = lambda builder, t: (t[0], t[1])


def _u16_body(builder, raw):
    """For 16 uint16 ``v = 256 h + l``: the byte sums of ``l`` and ``h`` and the pair sums of
    ``h**2``, ``h l`` and ``l**2`` (``v**2 = 65536 h**2 + 512 h l + l**2``, each pair < 2**18)."""
    lo, hi = _bytes_of_words(builder, raw)
    return (
        _psad(builder, builder.bitcast(lo, _V32I8)),
        _psad(builder, builder.bitcast(hi, _V32I8)),
        _sq_pairs(builder, hi),
        _madd_pairs(builder, hi, lo),
        _sq_pairs(builder, lo),
    )


_u16_body.kinds = (_V4I64, _V4I64, _V8I32, _V8I32, _V8I32)
_u16_body.finish = lambda builder, t: (
    builder.add(builder.shl(t[1], ir.Constant(_I64, 8)), t[0]),
    builder.add(
        builder.add(builder.shl(t[2], ir.Constant(_I64, 16)), builder.shl(t[3], ir.Constant(_I64, 9))), t[4]
    ),
)

#: ``(sum, sum of squares)`` of ``row[c : c + n]``, a uint8 row 32 values per vector (each int32
#: lane adds at most ``4 * 255**2`` per vector), a uint16 row 16 (at most ``2 * 255**2`` per
#: lane and vector): exact for ``n <= 2**16``.
row_sums = _sums_loop({nbt.uint8: (32, _u8_body), nbt.uint16: (16, _u16_body)})


# --- the Laplacian of 32 uint8 columns per vector, without byte shuffles (lapv) ---------------

_ML_M = ir.Constant(_V32I8, [1, -4] * 16)  # byte pairs (ml, m) -> ml - 4 m


def _maddubs(builder, raw, weights):
    """``<16 x i16>``: ``raw[2k] w[2k] + raw[2k + 1] w[2k + 1]``, bytes of ``raw`` unsigned and
    of ``w`` signed (``vpmaddubsw``; exact here: ``|ml - 4 m| <= 1020``)."""
    if _AVX2:
        fnty = ir.FunctionType(_V16I16, [_V32I8, _V32I8])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.x86.avx2.pmadd.ub.sw")
        return builder.call(fn, [raw, weights])
    even = ir.Constant(ir.VectorType(_I32, 16), [2 * k for k in range(16)])
    odd = ir.Constant(ir.VectorType(_I32, 16), [2 * k + 1 for k in range(16)])
    a0 = builder.zext(builder.shuffle_vector(raw, raw, even), _V16I16)
    a1 = builder.zext(builder.shuffle_vector(raw, raw, odd), _V16I16)
    w0 = builder.sext(builder.shuffle_vector(weights, weights, even), _V16I16)
    w1 = builder.sext(builder.shuffle_vector(weights, weights, odd), _V16I16)
    return builder.add(builder.mul(a0, w0), builder.mul(a1, w1))


@intrinsic
def lap_sq_u8(typingctx, up, mid, dn, c, n):
    """``sum(L**2)`` of the 4-neighbour Laplacian over the ``n >= 32`` columns ``[c, c + n)`` of
    the uint8 ``mid`` row (0 for ``n < 32``: the caller's scalar loop).

    32 columns per vector and no byte shuffles: each 32-byte load is read as 16 words, whose
    low bytes (``w & 255``) are the even columns and high bytes (``w >> 8``) the odd ones. The
    mid row is loaded at ``c - 1``, ``c`` and ``c + 1``: ``vpmaddubsw`` of the pairs
    ``(ml, m)`` with weights ``(1, -4)`` gives ``ml - 4 m`` (even columns from the load at
    ``c - 1``, odd ones from ``c``), and the load at ``c + 1`` gives ``mr``. Each half of ``L``
    (int16 lanes, ``|L| <= 1020``) is squared and summed pairwise by ``vpmaddwd``, four vectors
    at a time into separate int32 accumulators: exact for ``n <= 16384``. The last ``n % 32``
    columns are one more vector ending at column ``c + n - 1``, earlier columns zeroed.
    """
    sig = _rows_signature(up, mid, dn, c, n, nbt.uint8)
    if sig is None:
        return None

    def codegen(context, builder, signature, args):
        rows = _row_pointers(context, builder, signature, args, _I8)

        def load(row, col, dcol):
            ptr = builder.gep(rows[row], [builder.add(col, ir.Constant(_I64, dcol))])
            return builder.load(builder.bitcast(ptr, _V32I8.as_pointer()), align=1)

        def squares(col, first):
            u_e, u_o = _bytes_of_words(builder, load(0, col, 0))
            d_e, d_o = _bytes_of_words(builder, load(2, col, 0))
            mr_e, mr_o = _bytes_of_words(builder, load(1, col, 1))
            h_e = _maddubs(builder, load(1, col, -1), _ML_M)
            h_o = _maddubs(builder, load(1, col, 0), _ML_M)
            lap_e = builder.add(builder.add(u_e, d_e), builder.add(h_e, mr_e))
            lap_o = builder.add(builder.add(u_o, d_o), builder.add(h_o, mr_o))
            if first is not None:  # column offsets 2k (even) and 2k + 1 (odd) >= first
                f = builder.trunc(first, _I16)
                v = builder.insert_element(ir.Constant(_V16I16, None), f, ir.Constant(_I32, 0))
                v = builder.shuffle_vector(v, v, ir.Constant(ir.VectorType(_I32, 16), [0] * 16))
                zero = ir.Constant(_V16I16, None)
                keep_e = builder.icmp_unsigned(">=", ir.Constant(_V16I16, list(range(0, 32, 2))), v)
                keep_o = builder.icmp_unsigned(">=", ir.Constant(_V16I16, list(range(1, 32, 2))), v)
                lap_e = builder.select(keep_e, lap_e, zero)
                lap_o = builder.select(keep_o, lap_o, zero)
            return [builder.add(_sq_pairs(builder, lap_e), _sq_pairs(builder, lap_o))]

        start = context.cast(builder, args[3], signature.args[3], nbt.int64)
        count = context.cast(builder, args[4], signature.args[4], nbt.int64)
        return _vector_loop(builder, start, count, 32, (_V8I32,), squares, 4)[0]

    return sig, codegen


@intrinsic
def lap_sq_u16(typingctx, up, mid, dn, c, n):
    """``sum(L**2)`` of the 4-neighbour Laplacian over the ``n >= 16`` columns ``[c, c + n)`` of
    the uint16 ``mid`` row (0 for ``n < 16``: the caller's scalar loop), 16 columns per vector.

    With every pixel ``v = 256 h + l``, ``L = 256 Lh + Ll`` where ``Lh`` is the Laplacian of the
    high bytes and ``Ll`` that of the low bytes (both ``|.| <= 1020``, int16 lanes): ``Lh``
    from ``v >> 8``, and ``Ll = L - 256 Lh`` from the Laplacian of the words in wrapping int16
    arithmetic (exact, ``Ll`` fitting int16). ``L**2 = 65536 Lh**2 + 512 Lh Ll + Ll**2``:
    three ``vpmaddwd`` into int32 accumulators, exact for ``n <= 16384``.
    """
    sig = _rows_signature(up, mid, dn, c, n, nbt.uint16)
    if sig is None:
        return None
    taps = ((0, 0), (2, 0), (1, -1), (1, 1), (1, 0))  # u, d, ml, mr, m

    def codegen(context, builder, signature, args):
        rows = _row_pointers(context, builder, signature, args, _I16)
        eight, two = ir.Constant(_V16I16, 8), ir.Constant(_V16I16, 2)

        def squares(col, first):
            words = []
            for row, dcol in taps:
                ptr = builder.gep(rows[row], [builder.add(col, ir.Constant(_I64, dcol))])
                words.append(builder.load(builder.bitcast(ptr, _V16I16.as_pointer()), align=1))
            highs = [builder.lshr(w, eight) for w in words]
            lap = []
            for v in (words, highs):
                s = builder.add(builder.add(v[0], v[1]), builder.add(v[2], v[3]))
                lap.append(builder.sub(s, builder.shl(v[4], two)))
            lw, lh = lap
            ll = builder.sub(lw, builder.shl(lh, eight))
            if first is not None:
                keep = _keep_from(builder, 16, first)
                lh = builder.select(keep, lh, ir.Constant(_V16I16, None))
                ll = builder.select(keep, ll, ir.Constant(_V16I16, None))
            return [_sq_pairs(builder, lh), _madd_pairs(builder, lh, ll), _sq_pairs(builder, ll)]

        start = context.cast(builder, args[3], signature.args[3], nbt.int64)
        count = context.cast(builder, args[4], signature.args[4], nbt.int64)
        hh, hl, ll = _vector_loop(builder, start, count, 16, (_V8I32,) * 3, squares, 2)
        high = builder.add(builder.shl(hh, ir.Constant(_I64, 16)), builder.shl(hl, ir.Constant(_I64, 9)))
        return builder.add(high, ll)

    return sig, codegen
