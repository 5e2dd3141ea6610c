# The alert ring (included by engine.pyx): one single-producer single-consumer ring of
# xdpfw_alert_rec per worker. The worker (Engine._alert, per packet: no Python object)
# fills a record and publishes it with a release store of ring_head; the control plane
# (Engine.drain_alerts) reads up to an acquire load of ring_head and hands the slots back
# with a release store of ring_tail. A full ring is counted (alert_ring_full), never
# waited for.

cdef inline void _outer_addrs(xdpfw_alert_rec *r, const uint8_t *ip, uint8_t proto) noexcept nogil:
    if ip[0] >> 4 == 4:
        memset(r.outer_src, 0, 10)
        memset(r.outer_dst, 0, 10)
        r.outer_src[10] = r.outer_src[11] = r.outer_dst[10] = r.outer_dst[11] = 0xff
        memcpy(&r.outer_src[12], ip + 12, 4)
        memcpy(&r.outer_dst[12], ip + 16, 4)
        r.outer_version = 4
    else:
        memcpy(r.outer_src, ip + 8, 16)
        memcpy(r.outer_dst, ip + 24, 16)
        r.outer_version = 6
    r.outer_proto = proto


cdef void _alert_push(Engine self, uint32_t sig, uint8_t action, const xdpfw_pkt *p,
                      const xdpfw_flow *f, int direction, uint32_t side, bint blocked,
                      uint8_t policy) noexcept nogil:
    """Engine._alert: one record into the ring."""
    cdef unsigned int head = self.ring_head
    cdef xdpfw_alert_rec *r
    cdef timespec ts
    if head - xdpfw_load_acq(&self.ring_tail) > self.ring_mask:
        self.cnt[C_ALERT_RING_FULL] += 1   # the reader is behind: count, never wait
        return
    r = &self.ring[head & self.ring_mask]
    if self.pkt_ts_ns:
        r.ts_ns = self.pkt_ts_ns
    else:
        clock_gettime(CLOCK_REALTIME, &ts)
        r.ts_ns = <uint64_t>ts.tv_sec * 1000000000ULL + <uint64_t>ts.tv_nsec
    r.pkt_num = self.pkt_num
    r.has_flow = f != NULL
    r.policy_reason = policy
    if f != NULL:
        r.flow_id = f.flow_id
        # Live, the flow clock is monotonic; in replay it is the capture's (wall time).
        r.flow_start_ns = f.first_ns if self.pkt_ts_ns else f.first_ns + self.mono_to_real
        r.flow_pkts[0] = f.dir[0].packets
        r.flow_pkts[1] = f.dir[1].packets
        r.flow_bytes[0] = f.dir[0].bytes
        r.flow_bytes[1] = f.dir[1].bytes
    else:
        r.flow_id = r.flow_start_ns = 0
        r.flow_pkts[0] = r.flow_pkts[1] = r.flow_bytes[0] = r.flow_bytes[1] = 0
    memcpy(r.src, p.src, 16)
    memcpy(r.dst, p.dst, 16)
    r.sport = p.sport
    r.dport = p.dport
    r.sig = sig
    r.proto = p.l4_proto
    r.ip_version = p.ip_version
    r.action = action          # the rule's, or its rate_filter's while active
    r.blocked = blocked
    r.direction = direction
    r.side = side
    r.gen = self.generation & 0xFFFF
    r.app_proto = f.app_proto if f != NULL else 0
    r.vlan_depth = p.vlan_depth
    r.vlan[0] = p.vlan_id[0]
    r.vlan[1] = p.vlan_id[1]
    r.tunnel_depth = p.tunnel_depth
    r.outer_version = 0
    if p.tunnel_depth and p.outer_l3_off and p.outer_l3_off != p.l3_off and self.cur_frame != NULL:
        # The outermost IP header, for EVE's `tunnel` object (decoded sound: the decoder
        # went past it). Read from the frame, which is still the worker's.
        _outer_addrs(r, self.cur_frame + p.outer_l3_off, p.outer_proto)
    xdpfw_store_rel(&self.ring_head, head + 1)
    if not policy:
        self.cnt[C_ALERTS] += 1


cdef list _drain_alerts(Engine self, int max_records, bint policy_drops):
    """Engine.drain_alerts: the records published since the last drain, as dicts."""
    cdef unsigned int tail = self.ring_tail
    cdef unsigned int head = xdpfw_load_acq(&self.ring_head)
    cdef xdpfw_alert_rec *r
    out = []
    while tail != head and len(out) < max_records:
        r = &self.ring[tail & self.ring_mask]
        if r.policy_reason and not policy_drops:
            tail += 1
            continue
        out.append({"ts_ns": r.ts_ns, "flow_id": r.flow_id, "pkt_num": r.pkt_num,
                    "flow_start_ns": r.flow_start_ns, "flow_pkts": (r.flow_pkts[0], r.flow_pkts[1]),
                    "flow_bytes": (r.flow_bytes[0], r.flow_bytes[1]),
                    "src": bytes(r.src[:16]), "dst": bytes(r.dst[:16]), "sport": r.sport,
                    "dport": r.dport, "sig": r.sig, "proto": r.proto, "ip_version": r.ip_version,
                    "action": ("pass", "drop", "reject", "alert")[r.action],
                    "blocked": bool(r.blocked),
                    "direction": "to_server" if r.direction == XDPFW_DIR_TOSERVER else "to_client",
                    "side": r.side, "gen": r.gen, "has_flow": bool(r.has_flow),
                    "policy_reason": r.policy_reason - 1 if r.policy_reason else None, "vlan": tuple(r.vlan[i] for i in range(min(r.vlan_depth, 2))),
                    "tunnel": ({"depth": r.tunnel_depth, "ip_version": r.outer_version, "proto": r.outer_proto,
                                "src": bytes(r.outer_src[:16]), "dst": bytes(r.outer_dst[:16])}
                               if r.outer_version else None),
                    "app_proto": APP_PROTO_NAMES[r.app_proto] if XDPFW_APP_UNKNOWN < r.app_proto < XDPFW_APP_FAILED
                    else None,
                    "rule": _rule_of(self, r.gen, r.sig) if r.sig != XDPFW_NO_SIG else None})
        tail += 1
    xdpfw_store_rel(&self.ring_tail, tail)
    return out


cdef _rule_of(Engine self, uint16_t gen, uint32_t sig):
    rules = self._rules_by_gen.get(gen)
    return rules[sig] if rules is not None and sig < len(rules) else None
