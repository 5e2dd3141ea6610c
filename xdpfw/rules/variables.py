"""Rule variables (``$HOME_NET``, ``$HTTP_PORTS``) and Suricata's defaults.

The defaults are the ``vars:`` section of Suricata's shipped suricata.yaml. A config
overlays them; it may be

* a flat mapping ``{"HOME_NET": "[10.0.0.0/8]", "HTTP_PORTS": "[80,8080]"}`` (names may
  carry a leading ``$``); a name already known as a port group stays one, a known
  address group stays one, and a new name is usable in either position;
* Suricata's shape ``{"address-groups": {...}, "port-groups": {...}}``;
* a whole suricata.yaml document (its ``vars`` key is used).

Values are strings as in suricata.yaml; integers (``ORACLE_PORTS: 1521``) are accepted,
and a YAML sequence is read as a bracketed list. Each variable is parsed once and
cached; parsed header sets are cached per variables object too, which keeps loading a
large ruleset (25k rules, a handful of distinct headers) fast.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Mapping

from xdpfw.rules import listexpr
from xdpfw.rules.errors import ExprError

if TYPE_CHECKING:
    from xdpfw.rules.addresses import AddressSet
    from xdpfw.rules.ports import PortSet

VarKind = Literal["address", "port"]

# suricata.yaml (Suricata 6/7) vars.address-groups
DEFAULT_ADDRESS_GROUPS: dict[str, str] = {
    "HOME_NET": "[192.168.0.0/16,10.0.0.0/8,172.16.0.0/12]",
    "EXTERNAL_NET": "!$HOME_NET",
    "HTTP_SERVERS": "$HOME_NET",
    "SMTP_SERVERS": "$HOME_NET",
    "SQL_SERVERS": "$HOME_NET",
    "DNS_SERVERS": "$HOME_NET",
    "TELNET_SERVERS": "$HOME_NET",
    "AIM_SERVERS": "$EXTERNAL_NET",
    "DC_SERVERS": "$HOME_NET",
    "DNP3_SERVER": "$HOME_NET",
    "DNP3_CLIENT": "$HOME_NET",
    "MODBUS_CLIENT": "$HOME_NET",
    "MODBUS_SERVER": "$HOME_NET",
    "ENIP_CLIENT": "$HOME_NET",
    "ENIP_SERVER": "$HOME_NET",
}

# suricata.yaml (Suricata 6/7) vars.port-groups
DEFAULT_PORT_GROUPS: dict[str, str] = {
    "HTTP_PORTS": "80",
    "SHELLCODE_PORTS": "!80",
    "ORACLE_PORTS": "1521",
    "SSH_PORTS": "22",
    "DNP3_PORTS": "20000",
    "MODBUS_PORTS": "502",
    "FILE_DATA_PORTS": "[$HTTP_PORTS,110,143]",
    "FTP_PORTS": "21",
    "GENEVE_PORTS": "6081",
    "VXLAN_PORTS": "4789",
    "TEREDO_PORTS": "3544",
}


def _as_text(name: str, value: Any) -> str:
    if isinstance(value, bool) or value is None:
        raise ExprError(f"variable ${name}: value {value!r} is not an address or port list")
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_as_text(name, v) for v in value) + "]"
    return str(value).strip()


class Variables:
    """Resolves ``$NAME`` for addresses and ports; see the module docstring."""

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        self.address_groups: dict[str, str] = dict(DEFAULT_ADDRESS_GROUPS)
        self.port_groups: dict[str, str] = dict(DEFAULT_PORT_GROUPS)
        # Names given flat and unknown to both groups: valid in either position.
        self.either: dict[str, str] = {}
        self._items: dict[tuple[VarKind, str], listexpr.Item] = {}
        self.address_cache: dict[str, "AddressSet"] = {}
        self.port_cache: dict[str, "PortSet"] = {}
        if config:
            self._overlay(config)

    def _overlay(self, config: Mapping[str, Any]) -> None:
        if isinstance(config.get("vars"), Mapping):
            config = config["vars"]
        grouped = False
        for key, target in (("address-groups", self.address_groups), ("port-groups", self.port_groups)):
            group = config.get(key)
            if isinstance(group, Mapping):
                grouped = True
                for name, value in group.items():
                    name = str(name).lstrip("$")
                    target[name] = _as_text(name, value)
        if grouped:
            return
        for name, value in config.items():
            name = str(name).lstrip("$")
            text = _as_text(name, value)
            if name in self.port_groups:
                self.port_groups[name] = text
            elif name in self.address_groups:
                self.address_groups[name] = text
            else:
                self.either[name] = text

    def value(self, name: str, kind: VarKind) -> str | None:
        """The raw text of ``$name`` in an address or port position, or None."""
        group = self.address_groups if kind == "address" else self.port_groups
        text = group.get(name)
        return text if text is not None else self.either.get(name)

    def item(self, name: str, kind: VarKind) -> listexpr.Item:
        """The parsed value of ``$name``; :class:`ExprError` when undefined or malformed."""
        key = (kind, name)
        cached = self._items.get(key)
        if cached is not None:
            return cached
        text = self.value(name, kind)
        if text is None:
            other = self.value(name, "port" if kind == "address" else "address")
            hint = f" (${name} is a {'port' if kind == 'address' else 'address'} variable)" if other else ""
            raise ExprError(f"unknown variable ${name}{hint}")
        if not text:
            raise ExprError(f"variable ${name} is empty")
        try:
            item = listexpr.parse(text)
        except ExprError as e:
            raise ExprError(f"{e.message} in the value of ${name} {text!r}") from None
        self._items[key] = item
        return item
