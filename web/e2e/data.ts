// The data the e2e suite sends through the real SDK 0.0.44: conversations with every dimension,
// messages, tool calls (one failing), a button, feedback (explicit and in metadata), an image and
// a PDF attachment. Public IPs so the map has countries (DB-IP Lite).

/** The SDK code (after the harness's preamble: `t`, `m`, `P`, `emit`). */
export const MAIN_SCENARIO = String.raw`
import struct, zlib

def png(w=4, h=3):
    raw = b"".join(b"\x00" + bytes([200, 60, 20] * w) for _ in range(h))
    def chunk(kind, data):
        c = kind + data
        return struct.pack(">I", len(data)) + c + struct.pack(">I", zlib.crc32(c) & 0xffffffff)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))

convs = [
    ("e2e-c1", "u-1", "8.8.8.8", "mobile", "web", "en", {"feedback": 5}),
    ("e2e-c2", "u-2", "1.1.1.1", "desktop", "whatsapp", "de", {"feedback": "negative"}),
    ("e2e-c3", "u-3", "193.198.128.1", "mobile", "web", "hr", {}),
    ("e2e-c4", "u-1", "9.9.9.9", "tablet", "viber", "en", {"feedback": True}),
    ("e2e-c5", "u-5", "10.0.0.7", "mobile", "web", "en-US", {}),
    ("e2e-c6", None, None, None, None, None, {}),
]
sent = []
for i, (cid, cust, ip, dev, src, lang, md) in enumerate(convs):
    t.get_or_create_conversation(cid, customer_id=cust, customer_ip_address=ip, device=dev, source=src,
                                 language=lang, metadata=md or None)
    t.track_human_message(f"Hello from {cid}, where is my order {i}?")
    time.sleep(0.05)
    t.track_agent_message(f"Checking order {i} for you.")
    t.track_action("search_orders", duration_ms=100 + 20 * i, tools_used={"db": "orders"}, response="found")
    if i == 1:
        t.track_action("send_email", duration_ms=900, error_msg="SMTP timeout")
    if i == 2:
        t.track_human_message("I want a human please")
        t.track_action("fallback_to_human", duration_ms=5)
        t.track_button("handoff", "Talk to an agent", "agent")
    t.track_agent_message(f"Order {i} ships tomorrow.")
    sent.append(t.send_tracked_data()["summary"])

# The transcript conversation: a unique phrase to search for, a tool call, an image and a PDF.
t.get_or_create_conversation("e2e-transcript", customer_id="u-9", customer_ip_address="8.8.4.4",
                             device="desktop", source="web", language="en")
t.track_human_message("Can you read my receipt zebra-quartz?", attachments=[
    {"filename": "receipt.png", "mime_type": "image/png", "data": base64.b64encode(png()).decode()}])
time.sleep(0.05)
t.track_action("lookup_receipt", duration_ms=250, tools_used={"ocr": True}, response="total 42.00")
t.track_agent_message("Your receipt says 42.00. Here is the invoice.", attachment_mode="form_data", attachments=[
    {"filename": "invoice.pdf", "data": b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"}])
sent.append(t.send_tracked_data()["summary"])
m.submit_feedback("e2e-transcript", "positive", comment="quick and right")
t.initialize_conversation("e2e-visit", customer_id="u-7", device="mobile", source="web")
emit({"sent": sent})
`;

/** One more message in an existing conversation (the live test). */
export const LIVE_SCENARIO = String.raw`
t.get_or_create_conversation(P["cid"], customer_id="u-live", device="mobile", source="web", language="en")
t.track_human_message("A live message " + P["tag"])
t.track_agent_message("A live answer")
emit(t.send_tracked_data()["summary"])
`;

/** Any write with a given key (the revoked-key test). */
export const WRITE_SCENARIO = String.raw`
t.get_or_create_conversation(P["cid"])
t.track_human_message("with a new key")
emit(t.send_tracked_data()["summary"])
`;
