"""free_port: ports for throwaway environments that nothing else can take before they bind."""

from __future__ import annotations

from supastack.local.system import _ephemeral_start, free_port


def test_ports_are_below_the_ephemeral_range_and_never_handed_out_twice() -> None:
    """The audit's stress run lost a fresh environment to "address in use": the kernel had
    handed the same ephemeral port to an outgoing connection between the pick and the bind."""
    ports = [free_port() for _ in range(300)]
    assert len(set(ports)) == len(ports)
    assert all(20000 <= port < _ephemeral_start() for port in ports)
    assert not {54321, 54322} & set(ports)
