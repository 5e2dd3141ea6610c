# Combinations (included by engine.pyx; _build_combos lays a rule set's programs out in
# the control plane, _combos and _prog_eval run per packet). A stream rule made of several
# independent expressions (content chains that are not relative to each other, negated
# contents) cannot be one Hyperscan expression; Hyperscan's logical combinations report it
# only at the stream's next match or at its end, too late to drop the packet that
# completed it. So the operands are reported (once per stream each) and the engine
# evaluates the rule's formula when an operand is first seen: every operand the packet
# brought is marked first, then the formulas of their rules run over "seen so far in this
# stream", so a negated operand means "not in this stream up to and including this
# packet". A rule fires at most once per stream. Programs are postfix over operand
# indices: PUSH k, NOT, AND n, OR n (top 2 bits).
cdef enum:
    OPC_PUSH = 0
    OPC_NOT = 1
    OPC_AND = 2
    OPC_OR = 3
    PROG_STACK = 64
    NEW_OPS_CAP = 256


cdef void _combos(Engine self, uint64_t *bits, uint32_t first) noexcept nogil:
    """Mark the operands this scan reported, then evaluate their combinations."""
    cdef const ruleset *r = &self.rs
    cdef uint32_t newk[NEW_OPS_CAP]
    cdef uint32_t nnew = 0, i, j, k, c, end = self.mbuf.count, id
    cdef uint64_t at
    for i in range(first, end):
        id = self.mrec[i].id
        if id >= r.nop_of or r.op_of[id] == NO_SIG:
            continue
        k = r.op_of[id]
        if bits[k >> 6] & (1ULL << (k & 63)):
            continue
        bits[k >> 6] |= 1ULL << (k & 63)
        if nnew < NEW_OPS_CAP:
            newk[nnew] = k
            nnew += 1
        else:
            self.cnt[C_MATCH_OVERFLOW] += 1
    at = self.mrec[end - 1].end
    for i in range(nnew):
        k = newk[i]
        for j in range(r.op_first[k], r.op_first[k + 1]):
            c = r.op_list[j]
            if bits[(r.nops + c) >> 6] & (1ULL << ((r.nops + c) & 63)):
                continue   # fired already in this stream
            if _prog_eval(&r.prog[r.prog_first[c]], r.prog_first[c + 1] - r.prog_first[c], bits):
                bits[(r.nops + c) >> 6] |= 1ULL << ((r.nops + c) & 63)
                xdpfw_match_push(&self.mbuf, r.combo_base + c, at)


cdef bint _prog_eval(const uint32_t *prog, uint32_t n, const uint64_t *bits) noexcept nogil:
    """A combination's postfix program over the stream's operand bitmap."""
    cdef uint8_t stack[PROG_STACK]
    cdef uint32_t sp = 0, i, op, arg, j
    cdef uint8_t v
    for i in range(n):
        op = prog[i] >> 30
        arg = prog[i] & 0x3FFFFFFF
        if op == OPC_PUSH:
            stack[sp] = (bits[arg >> 6] >> (arg & 63)) & 1
            sp += 1
        elif op == OPC_NOT:
            stack[sp - 1] ^= 1
        else:
            v = 1 if op == OPC_AND else 0
            for j in range(sp - arg, sp):
                if op == OPC_AND:
                    v &= stack[j]
                else:
                    v |= stack[j]
            sp -= arg
            stack[sp] = v
            sp += 1
    return stack[0] != 0


cdef object _build_combos(ruleset *r, combos, report, uint32_t slots):
    """Lay the stream combinations out for _combos (see "Combinations"); returns the report
    map extended with their ids."""
    cdef uint32_t i
    if not combos:
        return report
    operands: dict[int, int] = {}
    progs = []

    def emit(tree, out, depth):
        if isinstance(tree, int):
            out.append((int(OPC_PUSH) << 30) | operands.setdefault(tree, len(operands)))
            return depth + 1
        op, *args = tree
        peak = depth
        for n, a in enumerate(args):
            peak = max(peak, emit(a, out, depth + n))
        if op == "not":
            out.append(int(OPC_NOT) << 30)
        else:
            out.append((int(OPC_AND if op == "and" else OPC_OR) << 30) | len(args))
        return peak

    for sig, tree in combos:
        prog = []
        if emit(tree, prog, 0) > PROG_STACK:
            raise ValueError(f"signature {sig}: formula too deep for the engine's evaluator")
        progs.append(prog)
    r.nops, r.ncombos = len(operands), len(combos)
    r.nop_of = max(operands) + 1
    r.combo_base = max(max(report, default=-1), r.nop_of - 1) + 1
    owners = [[] for _ in range(r.nops)]
    for c, prog in enumerate(progs):
        for k in dict.fromkeys(x & 0x3FFFFFFF for x in prog if x >> 30 == int(OPC_PUSH)):
            owners[k].append(c)
    r.op_of = <uint32_t *>PyMem_Calloc(r.nop_of, sizeof(uint32_t))
    r.op_first = <uint32_t *>PyMem_Calloc(r.nops + 1, sizeof(uint32_t))
    r.op_list = <uint32_t *>PyMem_Calloc(max(1, sum(map(len, owners))), sizeof(uint32_t))
    r.prog_first = <uint32_t *>PyMem_Calloc(r.ncombos + 1, sizeof(uint32_t))
    r.prog = <uint32_t *>PyMem_Calloc(max(1, sum(map(len, progs))), sizeof(uint32_t))
    r.opwords = (r.nops + r.ncombos + 63) // 64
    r.opbits = <uint64_t *>PyMem_Calloc(<size_t>slots * r.opwords, sizeof(uint64_t))
    if not (r.op_of and r.op_first and r.op_list and r.prog_first and r.prog and r.opbits):
        raise MemoryError()
    for i in range(r.nop_of):
        r.op_of[i] = NO_SIG
    for pid, k in operands.items():
        r.op_of[pid] = k
    n = 0
    for k, cs in enumerate(owners):
        r.op_first[k] = n
        for c in cs:
            r.op_list[n] = c
            n += 1
    r.op_first[r.nops] = n
    n = 0
    for c, prog in enumerate(progs):
        r.prog_first[c] = n
        for x in prog:
            r.prog[n] = x
            n += 1
    r.prog_first[r.ncombos] = n
    report = dict(report)
    for c, (sig, _) in enumerate(combos):
        report[r.combo_base + c] = sig
    return report
