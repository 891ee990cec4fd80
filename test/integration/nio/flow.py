"""matrix-nio (Debian python3-matrix-nio 0.20.1) chatting through a running Hearth.

Usage: /usr/bin/python3 flow.py BASE_URL MESSAGE_COUNT

Two users register, one creates a room and invites the other, who joins; they exchange
MESSAGE_COUNT messages, the receiver sees them through incremental /sync, the whole history is
paginated backwards with room_messages, the topic is changed twice and read back from the
synced room, and an image is uploaded, sent as m.image and downloaded by the other user. Prints one JSON report on stdout (what was seen) and exits 0 only if every check held;
the failed checks are listed in the report's "failures".
"""

import asyncio
import json
import sys
import time
import uuid

from nio import (
    AsyncClient,
    AsyncClientConfig,
    DownloadResponse,
    UploadResponse,
    JoinResponse,
    RegisterResponse,
    RoomCreateResponse,
    RoomInviteResponse,
    RoomMessageImage,
    RoomMessagesResponse,
    RoomMessageText,
    RoomPutStateResponse,
    RoomSendResponse,
    SyncResponse,
)

# Incremental syncs must carry every new event: no `limited` gaps in what the test counts.
SYNC_FILTER = {"room": {"timeline": {"limit": 100}}}
SYNC_TIMEOUT_MS = 2000
DEADLINE_S = 20


class Flow:
    def __init__(self, base_url, message_count):
        self.base_url = base_url
        self.message_count = message_count
        self.failures = []
        self.report = {}

    def check(self, ok, what):
        if not ok:
            self.failures.append(what)
        return ok

    def new_client(self, localpart):
        # No E2EE store for this test: the room is unencrypted.
        return AsyncClient(self.base_url, localpart, config=AsyncClientConfig(encryption_enabled=False))

    async def register(self, localpart):
        client = self.new_client(localpart)
        response = await client.register(localpart, f"{localpart} password", device_name="nio test")
        if not isinstance(response, RegisterResponse):
            await client.close()
            raise RuntimeError(f"register {localpart}: {response}")
        return client

    async def sync(self, client):
        response = await client.sync(timeout=SYNC_TIMEOUT_MS, sync_filter=SYNC_FILTER)
        if not isinstance(response, SyncResponse):
            raise RuntimeError(f"sync for {client.user_id}: {response}")
        return response

    async def sync_until(self, client, done, what):
        """Incremental syncs until done(response) holds for one of them."""
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            response = await self.sync(client)
            if done(response):
                return True
        self.failures.append(f"timed out waiting for {what}")
        return False

    async def run(self):
        suffix = uuid.uuid4().hex[:6]
        alice = await self.register(f"nio_alice_{suffix}")
        try:
            bob = await self.register(f"nio_bob_{suffix}")
            try:
                await self.chat(alice, bob)
            finally:
                await bob.close()
        finally:
            await alice.close()
        self.report["failures"] = self.failures
        return not self.failures

    async def chat(self, alice, bob):
        self.report["users"] = [alice.user_id, bob.user_id]
        await self.sync(alice)
        await self.sync(bob)

        # 1. Create, invite, join.
        created = await alice.room_create(name="nio room", topic="first topic")
        if not isinstance(created, RoomCreateResponse):
            raise RuntimeError(f"room_create: {created}")
        room_id = created.room_id
        self.report["room_id"] = room_id
        invited = await alice.room_invite(room_id, bob.user_id)
        self.check(isinstance(invited, RoomInviteResponse), f"room_invite: {invited}")
        await self.sync_until(bob, lambda r: room_id in r.rooms.invite, "bob's invite")
        joined = await bob.join(room_id)
        self.check(isinstance(joined, JoinResponse) and joined.room_id == room_id, f"join: {joined}")
        await self.sync_until(alice, lambda r: bob.user_id in alice.rooms[room_id].users, "bob in alice's member list")
        await self.sync(bob)
        bob_room = bob.rooms.get(room_id)
        self.report["name_seen_by_bob"] = bob_room.name if bob_room else None
        self.report["topic_seen_by_bob"] = bob_room.topic if bob_room else None

        # 2. Messages, alternating senders; each side collects what /sync brings, in order.
        sent = []
        for i in range(self.message_count):
            sender, name = (alice, "alice") if i % 2 == 0 else (bob, "bob")
            body = f"nio message {i:02d} from {name}"
            response = await sender.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": body})
            if not isinstance(response, RoomSendResponse):
                raise RuntimeError(f"room_send {i}: {response}")
            sent.append(body)
        self.report["sent"] = sent

        received = {"alice": [], "bob": []}

        def collect(who):
            def done(response):
                room = response.rooms.join.get(room_id)
                if room:
                    received[who].extend(e.body for e in room.timeline.events if isinstance(e, RoomMessageText))
                return len(received[who]) >= len(sent)

            return done

        await self.sync_until(bob, collect("bob"), "all messages at bob")
        await self.sync_until(alice, collect("alice"), "all messages at alice")
        self.report["received_by_bob"] = received["bob"]
        self.report["received_by_alice"] = received["alice"]
        self.check(received["bob"] == sent, "bob's /sync shows the messages once each, in order")
        self.check(received["alice"] == sent, "alice's /sync shows the messages once each, in order")

        # 3. Backwards pagination over everything, from the end of bob's stream.
        paginated = []
        reached_create = False
        token = bob.next_batch
        for _ in range(100):
            page = await bob.room_messages(room_id, start=token, limit=7)
            if not isinstance(page, RoomMessagesResponse):
                raise RuntimeError(f"room_messages: {page}")
            for event in page.chunk:
                if isinstance(event, RoomMessageText):
                    paginated.append(event.body)
                # By its source type: nio 0.20.1's RoomCreateEvent schema wants `creator`, which
                # room versions 11+ dropped from the content, so nio parses it as a BadEvent.
                if event.source.get("type") == "m.room.create":
                    reached_create = True
            if not page.chunk or not page.end or page.end == token:
                break
            token = page.end
        paginated.reverse()
        self.report["paginated"] = paginated
        self.report["pagination_reached_create"] = reached_create
        self.check(paginated == sent, "room_messages backwards yields every message in order")
        self.check(reached_create, "room_messages reaches the m.room.create event")

        # 4. Topic changes, read back from the room that bob's client builds from /sync.
        topics_seen = [bob.rooms[room_id].topic]
        for topic in ("second topic", "third topic"):
            put = await alice.room_put_state(room_id, "m.room.topic", {"topic": topic})
            self.check(isinstance(put, RoomPutStateResponse), f"room_put_state: {put}")
            await self.sync_until(bob, lambda r, t=topic: bob.rooms[room_id].topic == t, f"topic {topic!r} at bob")
            topics_seen.append(bob.rooms[room_id].topic)
        self.report["topics_seen_by_bob"] = topics_seen
        self.check(topics_seen == ["first topic", "second topic", "third topic"], "topic changes seen in order")

        # 5. Media: alice uploads an image and sends it; bob downloads it from the mxc URI he synced.
        image = bytes(range(256)) * 40
        uploaded, _ = await alice.upload(lambda *_: image, content_type="image/png", filename="garden.png", filesize=len(image))
        self.check(isinstance(uploaded, UploadResponse), f"upload: {uploaded}")
        content = {"msgtype": "m.image", "body": "garden.png", "url": uploaded.content_uri, "info": {"mimetype": "image/png", "size": len(image)}}
        sent_image = await alice.room_send(room_id, "m.room.message", content)
        self.check(isinstance(sent_image, RoomSendResponse), f"room_send m.image: {sent_image}")
        seen_urls = []

        def image_arrived(response):
            room = response.rooms.join.get(room_id)
            seen_urls.extend(e.url for e in (room.timeline.events if room else []) if isinstance(e, RoomMessageImage))
            return bool(seen_urls)

        await self.sync_until(bob, image_arrived, "the m.image at bob")
        self.check(seen_urls == [uploaded.content_uri], f"bob synced the image's mxc URI: {seen_urls}")
        downloaded = await bob.download(mxc=seen_urls[0] if seen_urls else uploaded.content_uri)
        self.check(isinstance(downloaded, DownloadResponse), f"download: {downloaded}")
        self.report["media"] = {
            "same_bytes": isinstance(downloaded, DownloadResponse) and downloaded.body == image,
            "content_type": getattr(downloaded, "content_type", None),
            "filename": getattr(downloaded, "filename", None),
        }


def main():
    base_url, message_count = sys.argv[1], int(sys.argv[2])
    flow = Flow(base_url, message_count)
    try:
        ok = asyncio.run(flow.run())
    except Exception as err:  # the report must still come out, with the reason
        flow.report["failures"] = flow.failures + [f"{type(err).__name__}: {err}"]
        ok = False
    print(json.dumps(flow.report))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
