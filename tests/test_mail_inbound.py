"""Decoding without a database: headers, addresses, charsets, bodies, parts (fast unit tests)."""

from __future__ import annotations

import base64
import time

from tessera.mail.classify import classify
from tessera.mail.decoding import decode_bytes, decode_header, html_to_text, parse_addresses, unflow
from tessera.mail.inbound import parse
from tessera.mail.stored_message import ticket_subject


def test_encoded_words_are_joined_and_split_characters_survive() -> None:
    assert decode_header("=?ISO-8859-1?Q?te?=\n =?ISO-8859-1?Q?st?=") == "test"
    assert decode_header("Re: =?utf-8?q?caf=C3=A9?= ok") == "Re: café ok"
    whole = "キジトラ".encode("iso-2022-jp")
    a, b = base64.b64encode(whole[:5]).decode(), base64.b64encode(whole[5:]).decode()
    assert decode_header(f"=?iso-2022-jp?B?{a}?= =?iso-2022-jp?B?{b}?=") == "キジトラ"
    assert decode_header("=?gb18030?B?suLK1A===?=") == "测试"  # over-long padding
    assert decode_header("=?NONE?B?VEVTVA=?=") == "TEST"  # unknown charset
    assert decode_header("=?utf-8*en?q?hi?=") == "hi"  # RFC 2231 language in RFC 2047


def test_raw_8bit_headers_read_as_utf8_else_guessed() -> None:
    raw = "Subject: Säying Hello\nFrom: Jöhn Doe <jdöe@mächine.example>\n\nbody\n".encode()
    parsed = parse(raw)
    assert parsed.subject == "Säying Hello"
    assert str(parsed.originator) == "Jöhn Doe <jdöe@mächine.example>"
    latin = b"From: L\xfctkebohle <ingo@example.org>\nSubject: x\n\nbody\n"
    assert parse(latin).originator.name == "Lütkebohle"


def test_addresses_split_before_decoding_and_bounded() -> None:
    found = parse_addresses(
        "=?iso-8859-1?Q?Last=DFlName=2C_FirstName?= <comma.name@example.com>, simple@example.net"
    )
    assert [(a.name, a.address) for a in found] == [
        ("LastßlName, FirstName", "comma.name@example.com"),
        ("", "simple@example.net"),
    ]
    assert [a.address for a in parse_addresses("alice@example.com <bob@example.com>")] == ["bob@example.com"]
    assert parse_addresses("unlisted-recipients:; (no To-header on input)") == []
    assert [a.address for a in parse_addresses("Team: a@x.org, b@x.org;, c@x.org")] == [
        "a@x.org",
        "b@x.org",
        "c@x.org",
    ]
    huge = ", ".join(f"=?utf-8?q?n{i}?= <u{i}@example.com>" for i in range(20000))
    started = time.perf_counter()
    assert len(parse_addresses(huge)) == 100
    assert time.perf_counter() - started < 2


def test_charsets_declared_wrong_or_missing() -> None:
    assert decode_bytes("ТЕСТ тест".encode("koi8_r"))[0] == "ТЕСТ тест"
    assert decode_bytes("代开发票".encode(), "gb2312")[0] == "代开发票"  # says GB2312, is UTF-8
    assert decode_bytes("스티해".encode("cp949"), "ks_c_5601-1987")[0] == "스티해"
    assert decode_bytes(b"caf\xe9", "x-unknown")[0] == "café"
    assert "\x00" not in decode_bytes("Test".encode("utf-16-le"), "utf-16le")[0]


def test_bodies_html_flowed_and_unparseable_structures() -> None:
    assert html_to_text("<html><style>p{}</style><p>Gr&uuml;&szlig;e</p><br>two</html>") == "Grüße\n\ntwo"
    assert unflow("one \ntwo\n", delsp=False) == "one two\n"
    assert unflow("あ \nい\n", delsp=True) == "あい\n"
    no_boundary = b"From: a@b.example\nContent-Type: multipart/alternative; boundary=XX\n\nstill here\n"
    assert parse(no_boundary).body.strip() == "still here"


def test_attachment_names_rfc2231_raw_utf8_and_sanitised() -> None:
    raw = (
        b"From: a@b.example\nSubject: f\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=B\n\n"
        b"--B\nContent-Type: text/plain\n\nbody\n"
        b"--B\nContent-Type: text/plain\n"
        b"Content-Disposition: attachment; filename*=utf-8''na%C3%AFve.txt\n\nx\n"
        b'--B\nContent-Type: application/octet-stream; name="ci\xc3\xable.txt"\n\ny\n'
        b"--B\nContent-Type: application/octet-stream\n"
        b'Content-Disposition: attachment; filename="../../etc/passwd"\n\nz\n'
        b"--B--\n"
    )
    names = [p.filename for p in parse(raw).attachments]
    assert names == ["naïve.txt", "ciële.txt", "passwd"]


def test_uuencoded_file_in_text_becomes_an_attachment() -> None:
    import binascii

    data = bytes(range(256))
    lines = [binascii.b2a_uu(data[i : i + 45]).decode() for i in range(0, len(data), 45)]
    raw = (
        "From: a@b.example\nSubject: uu\n\nSee file\nbegin 644 blob.bin\n" + "".join(lines) + "`\nend\n"
    ).encode()
    parsed = parse(raw)
    assert [(p.filename, p.data) for p in parsed.attachments] == [("blob.bin", data)]
    assert parsed.body.strip() == "See file"


def test_bom_cr_only_and_mbox_lines() -> None:
    assert parse(b"\xef\xbb\xbfFrom: a@b.example\nSubject: bom\n\nx\n").subject == "bom"
    assert parse(b"From: a@b.example\rSubject: mac\r\rbody\r").subject == "mac"
    assert (
        parse(b"From someone Mon Jan  1 00:00:00 2001\nFrom: a@b.example\nSubject: mbox\n\nx\n").subject
        == "mbox"
    )


def test_classification() -> None:
    def kind(raw: bytes):
        found = classify(parse(raw), {"help@desk.example"})
        return found[0] if found else None

    person = b"From: a@b.example\nSubject: hello\n\nhi\n"
    assert kind(person) is None
    assert kind(b"Auto-Submitted: auto-replied\n" + person) == "auto-reply"
    assert kind(b"Auto-Submitted: no\n" + person) is None
    assert kind(b"Precedence: bulk\n" + person) == "list"
    assert kind(b"X-Tessera-Loop-Prevention: Tessera\n" + person) == "loop"
    assert kind(b"From: help@desk.example\nSubject: x\n\nhi\n") == "loop"
    assert kind(b"From: MAILER-DAEMON@mx.example\nSubject: failure notice\n\nhi\n") == "bounce"
    assert kind(b"From: x@y.example\nSubject: Automatic reply: hi\n\nhi\n") == "auto-reply"


def test_ticket_subject_limits() -> None:
    assert ticket_subject("") == "(no subject)"
    assert ticket_subject("  a\n b  ") == "a b"
    assert len(ticket_subject("x" * 5000)) == 200


def test_corpus_resource_cases_finish_quickly() -> None:
    from pathlib import Path

    import pytest

    corpus = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "emails"
    files = [p for p in sorted(corpus.glob("*.eml")) if p.name[:3] in ("005", "009", "079", "089", "114")]
    if not files:
        pytest.skip("the shared corpus is not next to this checkout")
    for path in files:
        started = time.perf_counter()
        parsed = parse(path.read_bytes())
        assert time.perf_counter() - started < 3, path.name
        assert len(parsed.to) <= 100
