# The engine's rule sets (included by engine.pyx): what one rule set is for a worker, its
# build from the control plane's tables, the live reload (staged aside, swapped in by the
# worker between batches, the retired one freed by the control plane) and its free. Only
# _between runs on the worker (noexcept nogil); the rest runs in the control plane.

# What one rule set is for the worker: tables and matcher handles, all C. The live set is
# `Engine.rs`; a reload builds `Engine.staged` aside and the worker swaps it in between
# batches (_between); the old one waits in `Engine.retired` until the control
# plane frees it.
cdef struct hdr_seg:
    uint64_t hi, lo             # a 128-bit address (IPv4 mapped), high and low halves

cdef enum:
    HDR_INDEX_MAX_COVER_LOG2 = 40   # a side covering more addresses is not listed


cdef struct ruleset:
    xdpfw_sig *sigs
    uint32_t nsigs
    xdpfw_addr_range *addrs
    xdpfw_port_range *ports
    uint32_t *report_sig        # stream database's pattern id -> signature index
    uint32_t nreport
    uint32_t *breport_sig       # block database's pattern id -> signature index
    uint32_t nbreport
    uint32_t *hdr_only          # signatures without payload conditions
    uint32_t nhdr_only
    # Their index by address (_build_hdr_index): each is listed under the side (source or
    # destination set) that narrows it most, by elementary address segments, or checked
    # always (any address both sides, `<>`, sets too wide to list). Lists hold positions
    # in hdr_only, ascending.
    uint32_t *hdr_always
    uint32_t nhdr_always
    hdr_seg *hseg[2]            # per side: segment starts, ascending
    uint32_t nhseg[2]
    uint32_t *hseg_first[2]     # segment i's rules: hseg_list[side][hseg_first[side][i]:...[i + 1]]
    uint32_t *hseg_list[2]
    const void *sdb             # a stream database (c_db) some group scans, or NULL: no stream rules
    const void *bdb             # block database, or NULL
    void *scratch               # this worker's matcher scratch for all
    # Stream groups (xdpfw/detect/streamgroups.py): a flow direction's group, fixed when its
    # stream opens (_sgroup), picks the database it is scanned with; NULL: no stream rule
    # can match such a direction. Without groups all eight are the whole stream database.
    const void *sgdb[SG_MAX]
    void *sgpool[SG_MAX]        # this worker's stream pool for sgdb[g] (one per database)
    xdpfw_addr_range *sg_home   # H, the set groups split by (sg_by_addr), sorted ranges
    xdpfw_set_ref sg_home_ref
    uint8_t sg_by_addr
    const xdpfw_matcher_ops *sops
    const xdpfw_matcher_ops *bops
    # Combinations (stream rules of several expressions, evaluated here): per stream a
    # bitmap of operands seen and combinations fired (opwords words per stream slot).
    uint32_t *op_of             # stream pattern id -> operand index, NO_SIG if not one
    uint32_t nop_of
    uint32_t nops, ncombos
    uint32_t *op_first          # operand -> its combinations: op_list[op_first[k]:op_first[k+1]]
    uint32_t *op_list
    uint32_t *prog_first        # combination -> its program: prog[prog_first[c]:prog_first[c+1]]
    uint32_t *prog
    uint32_t combo_base         # combination c is reported as stream id combo_base + c
    uint32_t opwords
    uint64_t *opbits            # slots x opwords, zeroed = nothing seen
    app_buf_rt abuf[APP_VBUF_MAX]   # per app buffer and variant: its database (NULL: no rule)
    uint8_t app_on              # decoders run: some rule inspects an app buffer or the stream
    uint32_t nparts             # parts of multi-buffer rules (apprules.AppPart), shared
    uint32_t *part_lo
    uint32_t *part_hi
    uint8_t *part_op
    uint32_t *part_rfirst       # part -> the multi-buffer rules using it: part_rlist[first[k]:first[k+1]]
    uint32_t *part_rlist
    uint32_t *m_sig             # multi-buffer rule -> its signature
    uint32_t *m_pfirst          # multi-buffer rule -> its parts: m_plist[first[m]:first[m+1]]
    uint32_t *m_plist
    uint32_t *ev_first          # decoder events -> rules: ev_list[ev_first[k]:ev_first[k+1]],
    uint32_t *ev_list           #   k = XDPFW_APP_* protocol (0: L2-L4 decoder) * EV_STRIDE + event
    uint64_t dev_mask[2]        # L2-L4 decode events some rule is on (XDPFW_EV_WORDS words)
    uint32_t ptx_words          # per flow direction: a bitmap of the parts its transaction holds
    uint64_t *ptx               # slots x 2 x ptx_words (exact: sized by this rule set's parts)
    const void *fdb             # the block rules compiled for streaming: fragmented datagrams
    void *fpool                 # this worker's stream pool for fdb
    const xdpfw_matcher_ops *fops
    # Block prefilter and verify (xdpfw/detect/prefilter.py), all with bops: a datagram's
    # payload is scanned for one literal per rule (pdb); a rule whose literal occurred
    # and whose header holds has its own database (vdb) scanned; rules without a literal
    # are in rdb, scanned always. NULL pdb: bdb is scanned whole (it also is when the
    # literals of one packet overflow the prefilter buffer).
    const void *pdb
    uint32_t npre               # literals
    uint32_t *pre_first         # literal k -> verify entries pre_list[pre_first[k]:pre_first[k + 1]]
    uint32_t *pre_list
    uint32_t nverify
    const void **vdb            # verify entry -> its database
    uint32_t *vsig              # verify entry -> its signature
    uint32_t *vstamp            # verify entry -> the packet stamp it was last taken on (dedup)
    uint32_t vgen               # the current packet's stamp
    const void *rdb             # the rules without a literal, or NULL

# Engine.swap_state (atomic): a staged set is waiting / the worker retired the old one.
cdef enum:
    SWAP_IDLE = 0
    SWAP_STAGED = 1
    SWAP_RETIRED = 2


def _backend(Database db):
    """The matcher backend module (match_hs or match_ac) a database belongs to."""
    import sys
    return sys.modules[type(db).__module__]


cdef object _build(Engine self, ruleset *r, tables, Database stream_db, Database block_db,
                   Database frag_db, app, block_pre=None, stream_groups=None):
    """Fill *r from the control plane's tables and databases (r must be empty); returns
    the Python objects that own its matcher handles, to keep while r is in use."""
    cdef uint32_t i
    cdef Scratch scratch = None
    cdef StreamPool fpool = None
    cdef int g
    if frag_db is not None and (frag_db.mode != "stream" or block_db is None):
        raise ValueError("frag_db must be the block rules compiled in stream mode")
    if stream_db is not None and stream_db.mode != "stream":
        raise ValueError("stream_db must be a streaming database")
    if block_db is not None and block_db.mode != "block":
        raise ValueError("block_db must be a block-mode database")
    try:
        sigs, addrs, ports, report, breport, hdr_only = (
            tables.sigs, tables.addrs, tables.ports, tables.report, tables.block_report,
            tables.header_only)
        r.nsigs = len(sigs)
        r.sigs = <xdpfw_sig *>PyMem_Calloc(max(1, r.nsigs), sizeof(xdpfw_sig))
        r.addrs = <xdpfw_addr_range *>PyMem_Calloc(max(1, len(addrs)), sizeof(xdpfw_addr_range))
        r.ports = <xdpfw_port_range *>PyMem_Calloc(max(1, len(ports)), sizeof(xdpfw_port_range))
        r.nhdr_only = len(hdr_only)
        r.hdr_only = <uint32_t *>PyMem_Calloc(max(1, r.nhdr_only), sizeof(uint32_t))
        if not (r.sigs and r.addrs and r.ports and r.hdr_only):
            raise MemoryError()
        report = _build_combos(r, getattr(tables, "stream_combos", ()), report, self.mstream_slots)
        r.report_sig = _report_array(report, &r.nreport)
        evs = [[] for _ in range(XDPFW_APP_PROTO_MAX * EV_STRIDE)]
        for proto, ev, sg in getattr(tables, "event_rules", ()):
            if not (0 <= proto < XDPFW_APP_PROTO_MAX and 0 <= ev < (XDPFW_DECODE_EVENT_MAX if proto == 0 else 64)):
                raise ValueError(f"event rule ({proto}, {ev}) out of range")
            evs[proto * EV_STRIDE + ev].append(sg)
            if proto == 0:
                r.dev_mask[ev >> 6] |= 1ULL << (ev & 63)
        r.ev_list = _csr(evs, &r.ev_first)
        r.breport_sig = _report_array(breport, &r.nbreport)
        for i, sg in enumerate(sigs):
            _fill_sig(&r.sigs[i], sg)
            if sg.app_proto:
                r.app_on = 1    # protocol detection runs: this rule needs it
        for i, (lo, hi) in enumerate(addrs):
            r.addrs[i].lo_hi = lo >> 64
            r.addrs[i].lo_lo = lo & 0xFFFFFFFFFFFFFFFF
            r.addrs[i].hi_hi = hi >> 64
            r.addrs[i].hi_lo = hi & 0xFFFFFFFFFFFFFFFF
        for i, (lo, hi) in enumerate(ports):
            r.ports[i].lo = lo
            r.ports[i].hi = hi
        for i, sg in enumerate(hdr_only):
            r.hdr_only[i] = sg
            r.sigs[sg].hdr_only = 1
        _build_hdr_index(r)
        app_bufs = list(app.buffers) if app else []
        dbs = [d for d in (stream_db, block_db, frag_db) if d is not None] + [ab.db for ab in app_bufs if ab.db is not None]
        for ab in app_bufs:
            if ab.db is not None and ab.groups is not None:
                if len(ab.groups) != SG_MAX or any(d is not None and (type(d) is not type(ab.db) or
                                                                     (<Database>d).mode != "stream")
                                                   for d in ab.groups):
                    raise ValueError(f"app buffer {ab.buf}: {SG_MAX} group databases of its backend expected")
                dbs += [d for d in ab.groups if d is not None]
        group_dbs = []
        if stream_groups is not None:
            group_dbs = list(stream_groups.dbs)
            if len(group_dbs) != SG_MAX:
                raise ValueError(f"stream_groups: {SG_MAX} groups, got {len(group_dbs)}")
            kinds = {type(d) for d in group_dbs if d is not None}
            if len(kinds) > 1 or any(d is not None and (<Database>d).mode != "stream" for d in group_dbs):
                raise ValueError("stream_groups databases must be streaming databases of one backend")
            dbs += [d for d in group_dbs if d is not None]
        elif stream_db is not None:
            group_dbs = [stream_db] * SG_MAX
        if block_pre is not None:
            if block_db is None:
                raise ValueError("block_pre needs its block_db")
            pre_dbs = [block_pre.db] + list(block_pre.verify) + \
                ([block_pre.residual] if block_pre.residual is not None else [])
            for d in pre_dbs:
                if type(d) is not type(block_db) or (<Database>d).mode != "block":
                    raise ValueError("block_pre databases must be block-mode databases of block_db's backend")
            if len(block_pre.verify_sig) != len(block_pre.verify) or \
                    any(not 0 <= v < len(block_pre.verify) for g in block_pre.groups for v in g) or \
                    any(not 0 <= sg < r.nsigs for sg in block_pre.verify_sig):
                raise ValueError("block_pre: a group names no verify entry, or an entry no signature")
            dbs += pre_dbs
        if dbs:
            scratch = _backend(dbs[0]).Scratch(*dbs)
            r.scratch = scratch.c_scratch
        pools = {}
        for g, d in enumerate(group_dbs):
            if d is None:
                continue
            if id(d) not in pools:
                pools[id(d)] = _backend(d).StreamPool(d, self.stream_pool_size)
            r.sgdb[g] = (<Database>d).c_db
            r.sgpool[g] = (<StreamPool>pools[id(d)]).c_pool
            r.sops = (<Database>d).ops
            r.sdb = r.sgdb[g]
        home = stream_groups.home if stream_groups is not None else None
        if app and any(ab.groups is not None for ab in app_bufs):
            if stream_groups is not None and app.home != home:
                raise ValueError("stream and app-buffer groups must split by one address set")
            home = app.home
        if home is not None:
            home = list(home)
            r.sg_home = <xdpfw_addr_range *>PyMem_Calloc(max(1, len(home)), sizeof(xdpfw_addr_range))
            if r.sg_home == NULL:
                raise MemoryError()
            for i, (lo, hi) in enumerate(home):
                if i and lo <= home[i - 1][1]:
                    raise ValueError("stream_groups.home: ranges must be sorted and disjoint")
                r.sg_home[i].lo_hi = lo >> 64
                r.sg_home[i].lo_lo = lo & 0xFFFFFFFFFFFFFFFF
                r.sg_home[i].hi_hi = hi >> 64
                r.sg_home[i].hi_lo = hi & 0xFFFFFFFFFFFFFFFF
            r.sg_home_ref.first, r.sg_home_ref.count, r.sg_home_ref.any = 0, len(home), 0
            r.sg_by_addr = 1
        if stream_db is not None or pools:
            # the decoders tell when a flow's payload turns encrypted (encryption handling),
            # with or without app-layer rules
            r.app_on = 1
        if block_db is not None:
            r.bdb, r.bops = block_db.c_db, block_db.ops
        if block_pre is not None:
            r.pre_list = _csr(block_pre.groups, &r.pre_first)
            r.npre = len(block_pre.groups)
            r.vsig = _u32_array(block_pre.verify_sig, &r.nverify)
            r.vdb = <const void **>PyMem_Calloc(max(1, r.nverify), sizeof(void *))
            r.vstamp = <uint32_t *>PyMem_Calloc(max(1, r.nverify), sizeof(uint32_t))
            if r.vdb == NULL or r.vstamp == NULL:
                raise MemoryError()
            for i, d in enumerate(block_pre.verify):
                r.vdb[i] = (<Database>d).c_db
            if block_pre.residual is not None:
                r.rdb = (<Database>block_pre.residual).c_db
            r.pdb = (<Database>block_pre.db).c_db    # last: pdb set means the rest is
        if frag_db is not None:
            fpool = _backend(frag_db).StreamPool(frag_db, self.frag_mask + 1)
            r.fdb, r.fops, r.fpool = frag_db.c_db, frag_db.ops, fpool.c_pool
        apools = []
        parts = list(app.parts) if app else []
        multi = list(app.multi) if app else []
        r.nparts = len(parts)
        r.part_lo = <uint32_t *>PyMem_Calloc(max(1, r.nparts), sizeof(uint32_t))
        r.part_hi = <uint32_t *>PyMem_Calloc(max(1, r.nparts), sizeof(uint32_t))
        r.part_op = <uint8_t *>PyMem_Calloc(max(1, r.nparts), 1)
        if not (r.part_lo and r.part_hi and r.part_op):
            raise MemoryError()
        for i, pt in enumerate(parts):
            if pt.blen is not None:
                r.part_op[i], r.part_lo[i], r.part_hi[i] = pt.blen
        users = [[] for _ in parts]
        for m, (sg, ps) in enumerate(multi):
            for k in ps:
                users[k].append(m)
        r.part_rlist = _csr(users, &r.part_rfirst)
        r.m_plist = _csr([ps for _, ps in multi], &r.m_pfirst)
        r.m_sig = _u32_array([sg for sg, _ in multi], &i)
        r.ptx_words = (r.nparts + 63) // 64
        if r.ptx_words:
            r.ptx = <uint64_t *>PyMem_Calloc(<size_t>self.mstream_slots * r.ptx_words, sizeof(uint64_t))
            if r.ptx == NULL:
                raise MemoryError()
        for ab in app_bufs:
            vb = ab.buf + ab.variant * XDPFW_APP_BUFFER_MAX
            if not 0 <= ab.buf < XDPFW_APP_BUFFER_MAX or ab.variant not in (0, 1) or r.abuf[vb].active:
                raise ValueError(f"app buffer id {ab.buf}/{ab.variant}: out of range or given twice")
            r.abuf[vb].active = 1
            r.app_on = 1
            r.abuf[vb].every = _u32_array(ab.every, &r.abuf[vb].nevery)
            r.abuf[vb].every_parts = _u32_array(ab.every_parts, &r.abuf[vb].nevery_parts)
            if ab.db is None:
                continue
            if (<Database>ab.db).mode != "stream":
                raise ValueError("app buffer databases are streaming databases")
            r.abuf[vb].report = _report_array(ab.report, &r.abuf[vb].nreport)
            r.abuf[vb].db = (<Database>ab.db).c_db
            r.abuf[vb].ops = (<Database>ab.db).ops
            gdbs = list(ab.groups) if ab.groups is not None else [ab.db] * SG_MAX
            bpools = {}
            for g, d in enumerate(gdbs):
                if d is None:
                    continue
                if id(d) not in bpools:
                    bpools[id(d)] = _backend(d).StreamPool(d, APP_POOL)
                    apools.append(bpools[id(d)])
                r.abuf[vb].gdb[g] = (<Database>d).c_db
                r.abuf[vb].gpool[g] = (<StreamPool>bpools[id(d)]).c_pool
    except BaseException:
        _free_ruleset(r)
        raise
    return (stream_db, block_db, frag_db, scratch, pools, fpool, app, apools, block_pre, stream_groups)


cdef object _stage(Engine self, tables, Database stream_db, Database block_db, rules,
                   Database frag_db, app, block_pre=None, stream_groups=None):
    """Engine.stage_rules: build the set into Engine.staged, then publish it to the worker."""
    _collect_retired(self)
    if xdpfw_load_acq(&self.swap_state) != SWAP_IDLE:
        raise RuntimeError("a rule-set swap is already pending")
    refs = _build(self, &self.staged, tables, stream_db, block_db, frag_db, app, block_pre, stream_groups)
    self._staged_refs = refs
    self._staged_rules = rules
    xdpfw_store_rel(&self.swap_state, SWAP_STAGED)
    return self.generation + 1


cdef object _finish_swap(Engine self, double timeout):
    """Engine.finish_swap: wait for the worker's swap, then free the retired set."""
    import time
    deadline = time.monotonic() + timeout
    while xdpfw_load_acq(&self.swap_state) == SWAP_STAGED:
        if time.monotonic() > deadline:
            return False
        with nogil:
            _sleep_ms(1)
    _collect_retired(self)
    return True


cdef void _between(Engine self) noexcept nogil:
    """Between two batches (the worker loop) or from apply_staged(): swap a staged rule
    set in. Per-flow state that indexes the old set goes: matcher streams (they belong
    to the old databases; each flow reopens one on its next payload), the header-only
    rule cache, rate-control trackers. Flow state itself stays: TCP tracking, drop
    flags, flowbits (numbered stably across reloads by the control plane)."""
    cdef uint32_t i
    cdef size_t used
    if xdpfw_load_acq(&self.swap_state) != SWAP_STAGED:
        return
    self.retired = self.rs
    self.rs = self.staged
    memset(&self.staged, 0, sizeof(ruleset))
    # Only the flow entries handed out so far hold state (flow.pyx: entries are dense); the
    # rest are still as calloc left them, and stay untouched (not faulted in).
    used = <size_t>self.flows.nslots * 2
    memset(self.mstreams, 0, used * sizeof(xdpfw_mstream))
    memset(self.mstream_owner, 0, used * sizeof(uint64_t))
    memset(self.thr, 0, (self.thr_mask + 1) * sizeof(xdpfw_thr_entry))
    for i in range(self.frag_mask + 1):
        memset(&self.frags[i].st, 0, sizeof(xdpfw_mstream))  # reopened from the new pool
    memset(self.ainst, 0, used * APP_INST * sizeof(app_inst))
    for i in range(self.flows.nslots):
        self.flows.flows[i].hdr_rules[0] = HDR_UNKNOWN
        self.flows.flows[i].hdr_rules[1] = HDR_UNKNOWN
    xdpfw_store_rel(&self.generation, self.generation + 1)
    xdpfw_store_rel(&self.swap_state, SWAP_RETIRED)


cdef void _between_entry(void *engine) noexcept nogil:
    """The worker's between-batches function (Engine.between_batches)."""
    _between(<Engine>engine)


cdef _collect_retired(Engine self):
    """Control plane, after the worker swapped: free the retired set; the staged set's
    Python owners and rules become the live ones."""
    if xdpfw_load_acq(&self.swap_state) != SWAP_RETIRED:
        return
    _free_ruleset(&self.retired)
    self._retired_refs = None
    self._live_refs, self._staged_refs = self._staged_refs, None
    self.rules, self._staged_rules = self._staged_rules, None
    self._rules_by_gen[self.generation & 0xFFFF] = self.rules
    # alert records of older sets may still wait in the ring: keep a few generations
    for g in [g for g in self._rules_by_gen if (self.generation - g) & 0xFFFF > 8]:
        del self._rules_by_gen[g]
    xdpfw_store_rel(&self.swap_state, SWAP_IDLE)


cdef inline void _sleep_ms(unsigned int ms) noexcept nogil:
    usleep(ms * 1000)


cdef void _fill_sig(xdpfw_sig *d, s):
    cdef int w
    for w in range(2):
        d.fb.isset[w], d.fb.isnotset[w] = s.fb_isset[w], s.fb_isnotset[w]
        d.fb.set[w], d.fb.unset[w], d.fb.toggle[w] = s.fb_set[w], s.fb_unset[w], s.fb_toggle[w]
    d.fb.isset_any, d.fb.isnotset_any = s.fb_isset_any, s.fb_isnotset_any
    d.fb.checks = bool(any(s.fb_isset) or any(s.fb_isnotset))
    d.thr_type, d.thr_track, d.thr_count, d.thr_seconds = s.thr_type, s.thr_track, s.thr_count, s.thr_seconds
    d.supp = s.supp
    d.supp_addrs.first, d.supp_addrs.count, d.supp_addrs.any = s.supp_addrs
    d.src.first, d.src.count, d.src.any = s.src
    d.dst.first, d.dst.count, d.dst.any = s.dst
    d.sport.first, d.sport.count, d.sport.any = s.sport
    d.dport.first, d.dport.count, d.dport.any = s.dport
    d.action = s.action
    d.proto = s.proto
    d.bidir = s.bidir
    d.flow = s.flow
    d.dsize_op = s.dsize_op
    d.dsize_lo = s.dsize_lo
    d.dsize_hi = s.dsize_hi
    d.noalert = s.noalert
    d.rf, d.rf_track, d.rf_action, d.reject = s.rf, s.rf_track, s.rf_action, s.reject
    d.app_proto, d.blen_op, d.blen_lo, d.blen_hi = s.app_proto, s.blen_op, s.blen_lo, s.blen_hi
    d.rf_count, d.rf_seconds, d.rf_timeout = s.rf_count, s.rf_seconds, s.rf_timeout


cdef int _build_hdr_index(ruleset *r) except -1:
    """Index the header-only rules by address (see struct ruleset): a new flow direction
    then checks the rules listed under its source's and its destination's segments and the
    always-checked ones, not all of them (1,192 in ET Open, nearly all IP blocklists)."""
    import bisect
    cdef uint32_t k, side, j
    cdef const xdpfw_set_ref *ref
    cdef const xdpfw_sig *sg
    always = []
    listed = ([], [])
    limit = (<object>1) << HDR_INDEX_MAX_COVER_LOG2   # a Python int: 2^40 is past a C int
    for k in range(r.nhdr_only):
        sg = &r.sigs[r.hdr_only[k]]
        best = None
        if not sg.bidir:
            for side in range(2):
                ref = &sg.src if side == 0 else &sg.dst
                if ref.any:
                    continue
                rngs = [((<object>r.addrs[j].lo_hi << 64) | r.addrs[j].lo_lo,
                         (<object>r.addrs[j].hi_hi << 64) | r.addrs[j].hi_lo)
                        for j in range(ref.first, ref.first + ref.count)]
                cover = sum(hi - lo + 1 for lo, hi in rngs)
                if cover <= limit and (best is None or cover < best[0]):
                    best = (cover, side, rngs)
        if best is None:
            always.append(k)
        else:
            listed[best[1]].append((k, best[2]))
    r.hdr_always = _u32_array(always, &r.nhdr_always)
    for side in range(2):
        ends = sorted(e for e in {lo for _, rngs in listed[side] for lo, _ in rngs} |
                      {hi + 1 for _, rngs in listed[side] for _, hi in rngs} if e < 1 << 128)
        lists = [[] for _ in ends]
        for k, rngs in listed[side]:     # k ascending: each list comes out sorted
            for lo, hi in rngs:
                for j in range(bisect.bisect_left(ends, lo), bisect.bisect_left(ends, hi + 1)):
                    lists[j].append(k)
        r.nhseg[side] = len(ends)
        r.hseg[side] = <hdr_seg *>PyMem_Calloc(max(1, len(ends)), sizeof(hdr_seg))
        if r.hseg[side] == NULL:
            raise MemoryError()
        for j, e in enumerate(ends):
            r.hseg[side][j].hi = (e >> 64) & 0xFFFFFFFFFFFFFFFF
            r.hseg[side][j].lo = e & 0xFFFFFFFFFFFFFFFF
        r.hseg_list[side] = _csr(lists, &r.hseg_first[side])
    return 0


cdef inline const uint32_t *_hdr_listed(const ruleset *r, uint32_t side, uint64_t hi, uint64_t lo,
                                        uint32_t *n) noexcept nogil:
    """The header-only rules listed under the segment holding address (hi, lo)."""
    cdef uint32_t a = 0, b = r.nhseg[side], m
    cdef const hdr_seg *sg = r.hseg[side]
    while a < b:                  # the first segment starting past the address
        m = (a + b) >> 1
        if sg[m].hi < hi or (sg[m].hi == hi and sg[m].lo <= lo):
            a = m + 1
        else:
            b = m
    if a == 0:
        n[0] = 0
        return NULL
    n[0] = r.hseg_first[side][a] - r.hseg_first[side][a - 1]
    return &r.hseg_list[side][r.hseg_first[side][a - 1]]


cdef uint32_t *_csr(lists, uint32_t **first) except NULL:
    """Lists of ints as one array and the offsets of each list (len(lists) + 1)."""
    cdef uint32_t n = 0, i, j
    cdef uint32_t total = sum(len(x) for x in lists)
    cdef uint32_t *flat = <uint32_t *>PyMem_Calloc(max(1, total), sizeof(uint32_t))
    first[0] = <uint32_t *>PyMem_Calloc(len(lists) + 1, sizeof(uint32_t))
    if flat == NULL or first[0] == NULL:
        PyMem_Free(flat)
        raise MemoryError()
    for i, xs in enumerate(lists):
        first[0][i] = n
        for j in xs:
            flat[n] = j
            n += 1
    first[0][len(lists)] = n
    return flat


cdef uint32_t *_u32_array(values, uint32_t *n) except NULL:
    cdef uint32_t i
    n[0] = len(values)
    cdef uint32_t *a = <uint32_t *>PyMem_Calloc(max(1, n[0]), sizeof(uint32_t))
    if a == NULL:
        raise MemoryError()
    for i in range(n[0]):
        a[i] = values[i]
    return a


cdef uint32_t *_report_array(report, uint32_t *n) except NULL:
    """A dense id -> signature array (NO_SIG where an id reports nothing)."""
    cdef uint32_t i
    n[0] = max(report.keys(), default=-1) + 1
    cdef uint32_t *a = <uint32_t *>PyMem_Calloc(max(1, n[0]), sizeof(uint32_t))
    if a == NULL:
        raise MemoryError()
    for i in range(n[0]):
        a[i] = NO_SIG
    for mid, sig in report.items():
        a[mid] = sig
    return a


cdef void _free_ruleset(ruleset *r) noexcept:
    """Free what _build allocated (the matcher handles belong to their Python owners)."""
    cdef int side
    PyMem_Free(r.sigs)
    PyMem_Free(r.addrs)
    PyMem_Free(r.sg_home)
    PyMem_Free(r.ports)
    PyMem_Free(r.report_sig)
    PyMem_Free(r.breport_sig)
    PyMem_Free(r.hdr_only)
    PyMem_Free(r.hdr_always)
    for side in range(2):
        PyMem_Free(r.hseg[side])
        PyMem_Free(r.hseg_first[side])
        PyMem_Free(r.hseg_list[side])
    PyMem_Free(r.op_of)
    PyMem_Free(r.op_first)
    PyMem_Free(r.op_list)
    PyMem_Free(r.prog_first)
    PyMem_Free(r.prog)
    PyMem_Free(r.opbits)
    cdef int b
    for b in range(APP_VBUF_MAX):
        PyMem_Free(r.abuf[b].report)
        PyMem_Free(r.abuf[b].every)
        PyMem_Free(r.abuf[b].every_parts)
    PyMem_Free(r.part_lo)
    PyMem_Free(r.part_hi)
    PyMem_Free(r.part_op)
    PyMem_Free(r.part_rfirst)
    PyMem_Free(r.part_rlist)
    PyMem_Free(r.m_sig)
    PyMem_Free(r.m_pfirst)
    PyMem_Free(r.m_plist)
    PyMem_Free(r.ptx)
    PyMem_Free(r.ev_first)
    PyMem_Free(r.ev_list)
    PyMem_Free(r.pre_first)
    PyMem_Free(r.pre_list)
    PyMem_Free(r.vsig)
    PyMem_Free(<void *>r.vdb)
    PyMem_Free(r.vstamp)
    memset(r, 0, sizeof(ruleset))
