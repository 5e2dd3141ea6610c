# Cython view of xdpfw/_fast/xdpfw_pkt.h: the decoded-packet struct the L2-L4 decoder
# fills and the detection engine reads, and the decode-event table. Values come from the
# header at C compile time; a name missing there fails the build.
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t

cdef extern from "xdpfw_pkt.h" nogil:
    enum:
        XDPFW_MAX_VLAN
        XDPFW_IPV6_MAX_EXTHDRS
        XDPFW_MAX_TUNNELS
        XDPFW_EV_WORDS

    enum:
        XDPFW_TUN_IPIP
        XDPFW_TUN_GRE
        XDPFW_TUN_GRE_ETH
        XDPFW_TUN_VXLAN
        XDPFW_TUN_GENEVE
        XDPFW_TUN_TEREDO
        XDPFW_TUN_MPLS

    enum:
        XDPFW_LAYER_L2
        XDPFW_LAYER_L3
        XDPFW_LAYER_L4

    enum:
        XDPFW_IP_FRAG
        XDPFW_IP_MF
        XDPFW_IP_DF
        XDPFW_IP_RF

    enum:
        XDPFW_EXT_HOPOPTS
        XDPFW_EXT_ROUTING
        XDPFW_EXT_FRAG
        XDPFW_EXT_DSTOPTS
        XDPFW_EXT_AH

    enum:
        XDPFW_TCPOPT_MSS
        XDPFW_TCPOPT_WSCALE
        XDPFW_TCPOPT_SACK_PERM
        XDPFW_TCPOPT_SACK
        XDPFW_TCPOPT_TS
        XDPFW_TCPOPT_MD5
        XDPFW_TCPOPT_AO
        XDPFW_TCPOPT_MPTCP
        XDPFW_TCPOPT_FASTOPEN

    enum:  # enum xdpfw_decode_event
        XDPFW_EV_ETHERNET_PKT_TOO_SMALL
        XDPFW_EV_VLAN_HEADER_TOO_SMALL
        XDPFW_EV_VLAN_TOO_MANY_LAYERS
        XDPFW_EV_IPV4_PKT_TOO_SMALL
        XDPFW_EV_IPV4_HLEN_TOO_SMALL
        XDPFW_EV_IPV4_IPLEN_SMALLER_THAN_HLEN
        XDPFW_EV_IPV4_TRUNC_PKT
        XDPFW_EV_IPV4_WRONG_IP_VERSION
        XDPFW_EV_IPV4_OPT_INVALID
        XDPFW_EV_IPV4_OPT_INVALID_LEN
        XDPFW_EV_IPV4_OPT_MALFORMED
        XDPFW_EV_IPV4_OPT_EOL_REQUIRED
        XDPFW_EV_IPV4_OPT_DUPLICATE
        XDPFW_EV_IPV4_WITH_ICMPV6
        XDPFW_EV_IPV4_FRAG_PKT_TOO_LARGE
        XDPFW_EV_IPV4_FRAG_INVALID_LENGTH
        XDPFW_EV_IPV6_PKT_TOO_SMALL
        XDPFW_EV_IPV6_TRUNC_PKT
        XDPFW_EV_IPV6_WRONG_IP_VERSION
        XDPFW_EV_IPV6_TRUNC_EXTHDR
        XDPFW_EV_IPV6_EXTHDR_TOO_MANY
        XDPFW_EV_IPV6_EXTHDR_DUPL_FH
        XDPFW_EV_IPV6_EXTHDR_USELESS_FH
        XDPFW_EV_IPV6_EXTHDR_DUPL_RH
        XDPFW_EV_IPV6_EXTHDR_DUPL_HH
        XDPFW_EV_IPV6_EXTHDR_DUPL_DH
        XDPFW_EV_IPV6_EXTHDR_DUPL_AH
        XDPFW_EV_IPV6_EXTHDR_INVALID_OPTLEN
        XDPFW_EV_IPV6_EXTHDR_AH_RES_NOT_NULL
        XDPFW_EV_IPV6_HOPOPTS_UNKNOWN_OPT
        XDPFW_EV_IPV6_HOPOPTS_ONLY_PADDING
        XDPFW_EV_IPV6_DSTOPTS_UNKNOWN_OPT
        XDPFW_EV_IPV6_DSTOPTS_ONLY_PADDING
        XDPFW_EV_IPV6_RH_TYPE_0
        XDPFW_EV_IPV6_ZERO_LEN_PADN
        XDPFW_EV_IPV6_FH_NON_ZERO_RESERVED_FIELD
        XDPFW_EV_IPV6_DATA_AFTER_NONE_HEADER
        XDPFW_EV_IPV6_WITH_ICMPV4
        XDPFW_EV_IPV6_FRAG_PKT_TOO_LARGE
        XDPFW_EV_IPV6_FRAG_INVALID_LENGTH
        XDPFW_EV_TCP_PKT_TOO_SMALL
        XDPFW_EV_TCP_HLEN_TOO_SMALL
        XDPFW_EV_TCP_INVALID_OPTLEN
        XDPFW_EV_TCP_OPT_INVALID_LEN
        XDPFW_EV_TCP_OPT_DUPLICATE
        XDPFW_EV_UDP_PKT_TOO_SMALL
        XDPFW_EV_UDP_HLEN_TOO_SMALL
        XDPFW_EV_UDP_HLEN_INVALID
        XDPFW_EV_ICMPV4_PKT_TOO_SMALL
        XDPFW_EV_ICMPV4_UNKNOWN_TYPE
        XDPFW_EV_ICMPV4_UNKNOWN_CODE
        XDPFW_EV_ICMPV4_IPV4_TRUNC_PKT
        XDPFW_EV_ICMPV4_IPV4_UNKNOWN_VER
        XDPFW_EV_ICMPV6_PKT_TOO_SMALL
        XDPFW_EV_ICMPV6_UNKNOWN_TYPE
        XDPFW_EV_ICMPV6_UNKNOWN_CODE
        XDPFW_EV_ICMPV6_IPV6_TRUNC_PKT
        XDPFW_EV_ICMPV6_IPV6_UNKNOWN_VERSION
        XDPFW_EV_ICMPV6_MLD_MESSAGE_WITH_INVALID_HL
        XDPFW_EV_ICMPV6_UNASSIGNED_TYPE
        XDPFW_EV_ICMPV6_EXPERIMENTATION_TYPE
        XDPFW_EV_IPV6_UNKNOWN_NEXT_HEADER
        XDPFW_EV_DECODER_TOO_MANY_LAYERS
        XDPFW_EV_DECODER_TUNNEL_FRAGMENT
        XDPFW_EV_GRE_PKT_TOO_SMALL
        XDPFW_EV_GRE_WRONG_VERSION
        XDPFW_EV_GRE_UNKNOWN_PAYLOAD_TYPE
        XDPFW_EV_INNER_ETHERNET_PKT_TOO_SMALL
        XDPFW_EV_VXLAN_PKT_TOO_SMALL
        XDPFW_EV_GENEVE_PKT_TOO_SMALL
        XDPFW_EV_GENEVE_UNKNOWN_PAYLOAD_TYPE
        XDPFW_EV_MPLS_HEADER_TOO_SMALL
        XDPFW_EV_MPLS_UNKNOWN_PAYLOAD_TYPE
        XDPFW_DECODE_EVENT_MAX

    const char *xdpfw_decode_event_label(unsigned int ev)
    const char *xdpfw_decode_event_name(unsigned int ev)

    struct xdpfw_pkt:
        uint64_t events[2]
        uint32_t frame_len
        uint32_t payload_len
        uint16_t l3_off
        uint16_t l4_off
        uint16_t payload_off
        uint16_t ethertype
        uint16_t vlan_id[2]
        uint8_t vlan_depth
        uint8_t layers
        uint8_t invalid_layer
        uint8_t ip_version
        uint8_t l4_proto
        uint8_t ttl
        uint8_t tos
        uint8_t ip_flags
        uint32_t ip_id
        uint16_t frag_off
        uint16_t sport
        uint16_t dport
        uint8_t ipv6_exthdrs
        uint8_t tcp_flags
        uint32_t tcp_seq
        uint32_t tcp_ack
        uint16_t tcp_window
        uint16_t tcp_mss
        uint16_t tcp_opts
        uint8_t tcp_doff
        uint8_t tcp_wscale
        uint32_t tcp_tsval
        uint32_t tcp_tsecr
        uint8_t icmp_type
        uint8_t icmp_code
        uint16_t icmp_inner_off
        uint16_t icmp_id
        uint16_t icmp_seq
        uint8_t src[16]
        uint8_t dst[16]
        uint16_t outer_l3_off
        uint8_t tunnel_depth
        uint8_t tunnels
        uint8_t outer_proto
