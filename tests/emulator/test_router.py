"""The routing core, driven directly (it does no IO): binding, fan-out, groups, users, acks."""

from __future__ import annotations

import random
from typing import Any

import pytest

from flask_azure_signalr.emulator.router import (
    SERVER_OFFLINE_ERROR,
    NoServerAvailable,
    Router,
)
from flask_azure_signalr.protocol import service_messages as sm
from flask_azure_signalr.protocol.hub_messages import CloseMessage


class Link:
    def __init__(self, server_id: str, connection_type: int = 0, migration_level: int = 0) -> None:
        self.connection_id = f"{server_id}-link"
        self.server_id = server_id
        self.connection_type = connection_type
        self.migration_level = migration_level
        self.sent: list[Any] = []

    def send(self, message: Any) -> None:
        self.sent.append(message)

    def of(self, kind: type) -> list[Any]:
        return [m for m in self.sent if isinstance(m, kind)]


class Sink:
    def __init__(self, connection_id: str) -> None:
        self.connection_id = connection_id
        self.delivered: list[bytes] = []
        self.caches: list[dict[Any, Any]] = []
        self.closed: list[CloseMessage | None] = []

    def deliver(self, data: bytes, cache: dict[Any, Any]) -> None:
        self.delivered.append(data)
        self.caches.append(cache)

    def close(self, message: CloseMessage | None = None) -> None:
        self.closed.append(message)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def router(clock: Clock) -> Router:
    return Router(instance_id="inst", clock=clock, rng=random.Random(7))


def connect(router: Router, sink_id: str, *, hub: str = "chat", user: str | None = None, protocol: str = "json",
            **kwargs: Any) -> tuple[Any, Sink]:
    sink = Sink(sink_id)
    record = router.connect(
        hub, sink, user_id=user, protocol=protocol, claims=[("asrs.s.uid", user or "")], headers={"Host": ["h"]},
        query_string="?hub=chat", handshake=b'{"protocol":"json","version":1}\x1e', **kwargs,
    )
    return record, sink


PAYLOADS = {"json": b"J", "messagepack": b"M"}


def test_a_client_is_opened_on_its_server_with_its_handshake(router: Router) -> None:
    link = Link("s1")
    router.add_server("Chat", link)
    record, _ = connect(router, "c1", user="alice")
    open_message, data = link.sent
    assert isinstance(open_message, sm.OpenConnection)
    assert open_message.connection_id == "c1"
    assert open_message.protocol == "json"
    assert open_message.query_string == "?hub=chat"
    assert open_message.claims == (("asrs.s.uid", "alice"),)
    assert data == sm.ConnectionData(connection_id="c1", payload=b'{"protocol":"json","version":1}\x1e')
    router.client_data(record, b"xyz")
    assert link.sent[-1] == sm.ConnectionData(connection_id="c1", payload=b"xyz")
    router.disconnect(record)
    assert link.sent[-1] == sm.CloseConnection(connection_id="c1", error_message="")


def test_no_server_raises_and_weak_connections_take_no_clients(router: Router) -> None:
    with pytest.raises(NoServerAvailable):
        connect(router, "c1")
    router.add_server("chat", Link("weak", connection_type=2))
    assert not router.has_servers("chat")
    with pytest.raises(NoServerAvailable):
        connect(router, "c1")


def test_clients_spread_across_servers_and_stay(router: Router) -> None:
    a1, a2, b1 = Link("A"), Link("A"), Link("B")
    for link in (a1, a2, b1):
        router.add_server("chat", link)
    records = [connect(router, f"c{i}")[0] for i in range(6)]
    by_server = {"A": 0, "B": 0}
    for record in records:
        by_server[record.server.server_id] += 1
    assert by_server == {"A": 3, "B": 3}
    assert len(a1.of(sm.OpenConnection)) and len(a2.of(sm.OpenConnection))
    for record in records:
        router.client_data(record, b"x")
        assert record.server.sent[-1].connection_id == record.connection_id


def test_sticky_required_server(router: Router) -> None:
    router.add_server("chat", Link("A"))
    router.add_server("chat", Link("B"))
    for i in range(3):
        record, _ = connect(router, f"c{i}", sticky_server="B", sticky_required=True)
        assert record.server.server_id == "B"
    with pytest.raises(NoServerAvailable):
        connect(router, "x", sticky_server="C", sticky_required=True)
    record, _ = connect(router, "y", sticky_server="C", sticky_required=False)
    assert record.server.server_id in ("A", "B")


def test_broadcast_picks_each_clients_protocol_and_shares_one_cache(router: Router) -> None:
    link = Link("s")
    router.add_server("chat", link)
    _, json1 = connect(router, "j1")
    _, json2 = connect(router, "j2")
    _, pack = connect(router, "m1", protocol="messagepack")
    _, excluded = connect(router, "j3")
    router.handle(link, sm.BroadcastData(excluded_list=("j3",), payloads={"JSON": b"J", "messagepack": b"M"}))
    assert json1.delivered == [b"J"] and json2.delivered == [b"J"] and pack.delivered == [b"M"]
    assert excluded.delivered == []
    assert json1.caches[0] is json2.caches[0] is pack.caches[0]


def test_a_client_without_a_payload_for_its_protocol_gets_nothing(router: Router) -> None:
    link = Link("s")
    router.add_server("chat", link)
    _, pack = connect(router, "m1", protocol="messagepack")
    router.handle(link, sm.BroadcastData(payloads={"json": b"J"}))
    assert pack.delivered == []


def test_multicasts_reach_clients_of_every_server(router: Router) -> None:
    a, b = Link("A"), Link("B")
    router.add_server("chat", a)
    router.add_server("chat", b)
    ra, sa = connect(router, "ca", user="u1")
    rb, sb = connect(router, "cb", user="u2")
    assert {ra.server.server_id, rb.server.server_id} == {"A", "B"}
    router.handle(a, sm.MultiConnectionData(connection_list=("ca", "cb", "nope"), payloads=PAYLOADS))
    router.handle(b, sm.UserData(user_id="u1", payloads=PAYLOADS))
    router.handle(a, sm.MultiUserData(user_list=("u1", "u2"), payloads=PAYLOADS))
    assert sa.delivered == [b"J", b"J", b"J"]
    assert sb.delivered == [b"J", b"J"]


def test_group_join_leave_with_acks_and_group_broadcasts(router: Router) -> None:
    a, b = Link("A"), Link("B")
    router.add_server("chat", a)
    router.add_server("chat", b)
    _, s1 = connect(router, "c1", user="u1")
    _, s2 = connect(router, "c2", user="u2")
    _, s3 = connect(router, "c3", user="u3")
    router.handle(a, sm.JoinGroupWithAck(connection_id="c1", group_name="g", ack_id=1))
    router.handle(b, sm.JoinGroupWithAck(connection_id="c2", group_name="g", ack_id=2))
    router.handle(b, sm.JoinGroup(connection_id="c3", group_name="g"))
    router.handle(a, sm.JoinGroupWithAck(connection_id="missing", group_name="g", ack_id=3))
    assert [(m.ack_id, m.status) for m in a.of(sm.Ack)] == [(1, 1), (3, 2)]
    assert [(m.ack_id, m.status) for m in b.of(sm.Ack)] == [(2, 1)]
    router.handle(a, sm.GroupBroadcastData(group_name="g", excluded_list=("c3",), payloads=PAYLOADS))
    router.handle(a, sm.GroupBroadcastData(group_name="G", payloads=PAYLOADS))
    router.handle(a, sm.GroupBroadcastData(group_name="g", excluded_user_list=("u1",), payloads={"json": b"X"}))
    assert s1.delivered == [b"J"]
    assert s2.delivered == [b"J", b"X"]
    assert s3.delivered == [b"X"]
    router.handle(b, sm.LeaveGroupWithAck(connection_id="c2", group_name="g", ack_id=9))
    router.handle(b, sm.LeaveGroup(connection_id="c3", group_name="g"))
    router.handle(a, sm.MultiGroupBroadcastData(group_list=("g", "other"), payloads=PAYLOADS))
    assert (b.of(sm.Ack)[-1].ack_id, b.of(sm.Ack)[-1].status) == (9, 1)
    assert s1.delivered[-1] == b"J" and len(s1.delivered) == 2
    assert len(s2.delivered) == 2 and len(s3.delivered) == 1


def test_existence_checks(router: Router) -> None:
    link = Link("s")
    router.add_server("chat", link)
    connect(router, "c1", user="u1")
    router.handle(link, sm.JoinGroup(connection_id="c1", group_name="g"))
    checks = [
        sm.CheckConnectionExistenceWithAck(connection_id="c1", ack_id=1),
        sm.CheckConnectionExistenceWithAck(connection_id="zz", ack_id=2),
        sm.CheckUserExistenceWithAck(user_id="u1", ack_id=3),
        sm.CheckUserExistenceWithAck(user_id="u9", ack_id=4),
        sm.CheckGroupExistenceWithAck(group_name="g", ack_id=5),
        sm.CheckGroupExistenceWithAck(group_name="h", ack_id=6),
        sm.CheckUserInGroupWithAck(user_id="u1", group_name="g", ack_id=7),
        sm.CheckUserInGroupWithAck(user_id="u1", group_name="h", ack_id=8),
    ]
    for check in checks:
        router.handle(link, check)
    assert [m.status for m in link.of(sm.Ack)] == [1, 2, 1, 2, 1, 2, 1, 2]
    assert [m.ack_id for m in link.of(sm.Ack)] == list(range(1, 9))


def test_user_groups_apply_to_current_and_future_connections_until_the_ttl(router: Router, clock: Clock) -> None:
    link = Link("s")
    router.add_server("chat", link)
    _, first = connect(router, "c1", user="u")
    router.handle(link, sm.UserJoinGroupWithAck(user_id="u", group_name="g", ack_id=1, ttl=60))
    _, second = connect(router, "c2", user="u")
    router.handle(link, sm.GroupBroadcastData(group_name="g", payloads=PAYLOADS))
    assert first.delivered == [b"J"] and second.delivered == [b"J"]
    clock.now += 61
    _, third = connect(router, "c3", user="u")
    router.handle(link, sm.GroupBroadcastData(group_name="g", payloads=PAYLOADS))
    assert third.delivered == []
    assert second.delivered == [b"J", b"J"]
    router.handle(link, sm.UserLeaveGroupWithAck(user_id="u", group_name=None, ack_id=2))
    router.handle(link, sm.GroupBroadcastData(group_name="g", payloads=PAYLOADS))
    assert len(first.delivered) == 2
    assert [(m.ack_id, m.status) for m in link.of(sm.Ack)] == [(1, 1), (2, 1)]


def test_user_leave_group_removes_the_users_connections(router: Router) -> None:
    link = Link("s")
    router.add_server("chat", link)
    _, sink = connect(router, "c1", user="u")
    router.handle(link, sm.UserJoinGroup(user_id="u", group_name="g"))
    router.handle(link, sm.CheckUserInGroupWithAck(user_id="u", group_name="g", ack_id=1))
    router.handle(link, sm.UserLeaveGroup(user_id="u", group_name="g"))
    router.handle(link, sm.CheckUserInGroupWithAck(user_id="u", group_name="g", ack_id=2))
    router.handle(link, sm.GroupBroadcastData(group_name="g", payloads=PAYLOADS))
    assert [m.status for m in link.of(sm.Ack)] == [1, 2]
    assert sink.delivered == []


def test_invalid_names_are_refused(router: Router) -> None:
    link = Link("s")
    router.add_server("chat", link)
    connect(router, "c1")
    router.handle(link, sm.JoinGroupWithAck(connection_id="c1", group_name="x" * 1025, ack_id=1))
    router.handle(link, sm.JoinGroup(connection_id="c1", group_name="   "))
    router.handle(link, sm.UserJoinGroupWithAck(user_id="", group_name="g", ack_id=2))
    assert [(m.ack_id, m.status) for m in link.of(sm.Ack)] == [(1, 4), (2, 4)]
    event = link.of(sm.ServiceEvent)[0]
    assert (event.type, event.kind) == (sm.ServiceEventObjectType.GROUP, sm.ServiceEventKind.INVALID)
    router.handle(link, sm.CheckGroupExistenceWithAck(group_name="   ", ack_id=3))
    assert link.of(sm.Ack)[-1].status == 2


def test_close_with_acks(router: Router) -> None:
    a, b = Link("A"), Link("B")
    router.add_server("chat", a)
    router.add_server("chat", b)
    records = {}
    sinks = {}
    for name, user in (("c1", "u1"), ("c2", "u1"), ("c3", "u2"), ("c4", "u3")):
        records[name], sinks[name] = connect(router, name, user=user)
    router.handle(a, sm.JoinGroup(connection_id="c4", group_name="g"))
    router.handle(a, sm.CloseConnectionWithAck(connection_id="c3", reason="bye", ack_id=1))
    router.handle(a, sm.CloseConnectionWithAck(connection_id="c3", reason="bye", ack_id=2))
    assert sinks["c3"].closed == [CloseMessage(error="bye", allow_reconnect=True)]
    closes = [m for m in records["c3"].server.sent if isinstance(m, sm.CloseConnection)]
    assert closes == [sm.CloseConnection(connection_id="c3", error_message="bye")]
    router.handle(a, sm.CloseUserConnectionsWithAck(user_id="u1", reason=None, ack_id=3, excluded_list=("c2",)))
    assert sinks["c1"].closed == [CloseMessage(allow_reconnect=True)] and sinks["c2"].closed == []
    router.handle(a, sm.CloseGroupConnectionsWithAck(group_name="g", reason="x", ack_id=4))
    assert sinks["c4"].closed
    router.handle(a, sm.CloseConnectionsWithAck(reason="all", ack_id=5))
    assert sinks["c2"].closed
    assert [(m.ack_id, m.status) for m in a.of(sm.Ack)] == [(1, 1), (2, 2), (3, 1), (4, 1), (5, 1)]


def test_server_connection_drop_closes_its_clients_with_reconnect_allowed(router: Router) -> None:
    a, b = Link("A"), Link("B")
    router.add_server("chat", a)
    router.add_server("chat", b)
    ra, sa = connect(router, "ca")
    rb, sb = connect(router, "cb")
    dropped, kept = (sa, sb) if ra.server is a else (sb, sa)
    router.remove_server(ra.server if ra.server is a else rb.server)
    assert dropped.closed == [CloseMessage(error=SERVER_OFFLINE_ERROR, allow_reconnect=True)]
    assert kept.closed == []
    router.handle(b, sm.BroadcastData(payloads=PAYLOADS))
    assert dropped.delivered == [] and kept.delivered == [b"J"]


def test_drop_with_migration_level_any_migrates(router: Router) -> None:
    a, b = Link("A", migration_level=2), Link("B")
    router.add_server("chat", a)
    record, sink = connect(router, "c1")
    assert record.server is a
    router.handle(a, sm.JoinGroup(connection_id="c1", group_name="g"))
    router.add_server("chat", b)
    router.remove_server(a)
    assert sink.closed == []
    opened = b.of(sm.OpenConnection)[0]
    assert opened.header("Asrs-Migrate-From") == "A"
    assert b.of(sm.ConnectionData)[0].payload.startswith(b'{"protocol"')
    router.handle(b, sm.ConnectionData(connection_id="c1", payload=b'{}\x1e{"type":6}\x1e'))
    assert sink.delivered == [b'{"type":6}\x1e']
    router.handle(b, sm.GroupBroadcastData(group_name="g", payloads=PAYLOADS))
    assert sink.delivered[-1] == b"J"


def test_fin_acks_and_migrates_clients_when_asked(router: Router) -> None:
    a, b = Link("A", migration_level=1), Link("B")
    router.add_server("chat", a)
    record, sink = connect(router, "c1")
    router.add_server("chat", b)
    router.handle(a, sm.Ping.of("shutdown", "fin:1"))
    assert a.sent[-2:] == [
        sm.Ping.of("shutdown", "finack"),
        sm.CloseConnection(connection_id="c1", error_message="", headers={"Asrs-Migrate-To": ("B",)}),
    ]
    assert b.of(sm.OpenConnection)[0].header("Asrs-Migrate-From") == "A"
    assert record.server is b and sink.closed == []
    new, _ = connect(router, "c2")
    assert new.server is b


def test_fin_2_keeps_clients_but_takes_no_new_ones(router: Router) -> None:
    a = Link("A")
    router.add_server("chat", a)
    _, sink = connect(router, "c1")
    router.handle(a, sm.Ping.of("shutdown", "fin:2"))
    assert sm.Ping.of("shutdown", "finack") in a.sent
    assert sink.closed == []
    with pytest.raises(NoServerAvailable):
        connect(router, "c2")


def test_status_and_servers_pings(router: Router) -> None:
    a, b = Link("A"), Link("B")
    router.add_server("chat", a)
    router.add_server("chat", b)
    router.handle(a, sm.Ping.of("status", "1"))
    assert a.sent[-1] == sm.Ping.of("status", "0")
    connect(router, "c1")
    router.handle(a, sm.Ping.of("status", "1"))
    assert a.sent[-1] == sm.Ping.of("status", "1")
    router.handle(b, sm.Ping.of("servers", ""))
    ticks, _, ids = b.sent[-1].get("servers").partition(":")
    assert int(ticks) > 0 and ids.split(";") == ["A", "B"]


def test_client_invocation_across_servers(router: Router) -> None:
    caller, host = Link("caller"), Link("host")
    router.add_server("chat", host)
    record, sink = connect(router, "c1")
    router.add_server("chat", caller)
    invocation = sm.ClientInvocation(invocation_id="i1", connection_id="c1", caller_server_id="caller", payloads=PAYLOADS)
    router.handle(caller, invocation)
    assert sink.delivered == [b"J"]
    assert host.sent[-1] == invocation
    assert caller.sent[-1] == sm.ServiceMapping(invocation_id="i1", connection_id="c1", instance_id="inst")
    completion = sm.ClientCompletion(invocation_id="i1", connection_id="c1", caller_server_id="caller",
                                     protocol="json", payload=b"R")
    router.handle(host, completion)
    assert caller.sent[-1] == completion
    router.handle(caller, sm.ClientInvocation(invocation_id="i2", connection_id="c1", caller_server_id="caller",
                                              payloads=PAYLOADS))
    router.disconnect(record)
    error = caller.of(sm.ErrorCompletion)[0]
    assert (error.invocation_id, error.connection_id) == ("i2", "c1")
    router.handle(caller, sm.ClientInvocation(invocation_id="i3", connection_id="gone", caller_server_id="caller",
                                              payloads=PAYLOADS))
    assert caller.of(sm.ErrorCompletion)[-1].invocation_id == "i3"


def test_client_invocation_on_the_callers_own_server(router: Router) -> None:
    link = Link("s")
    router.add_server("chat", link)
    _, sink = connect(router, "c1", protocol="messagepack")
    router.handle(link, sm.ClientInvocation(invocation_id="i", connection_id="c1", caller_server_id="s", payloads=PAYLOADS))
    assert sink.delivered == [b"M"]
    assert not link.of(sm.ServiceMapping) and not link.of(sm.ClientInvocation)
    router.handle(link, sm.ClientCompletion(invocation_id="i", connection_id="c1", caller_server_id="s",
                                            protocol="messagepack", payload=b""))
    assert not link.of(sm.ClientCompletion)


def test_server_close_connection_closes_the_client_without_echo(router: Router) -> None:
    link = Link("s")
    router.add_server("chat", link)
    record, sink = connect(router, "c1")
    router.handle(link, sm.CloseConnection(connection_id="c1", error_message=""))
    assert sink.closed == [None]
    count = len(link.sent)
    router.disconnect(record)
    assert len(link.sent) == count
