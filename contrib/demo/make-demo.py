#!/usr/bin/env python3
"""Builds contrib/demo/Maildir from messages in tests/fixtures and tests/corpus (see SOURCES.md).

Run once from the repository root; the output is committed. Each message gets a top Received:
header dated the day it "arrived" in November 2026; genuine ones carry a carrier made with the
demo keyring on that day (a signature header in the returned original, or a BATV tag in
X-Original-To), so they verify as genuine at their own arrival time, forever. The carriers are
computed exactly as src/sign/{header,batv}.rs make them (DESIGN §3-4).
"""
import calendar, datetime, hashlib, hmac, os, re, shutil

SECRET = "Hq3kZ7uVn0cYtB2wR8sLx5pE9aJdG4mKf6NhT1oWz_Q"  # demo only: never use this key for real mail
KEY_ID = 0
ROOT = "contrib/demo/Maildir"


def day_of(y, m, d):
    return calendar.timegm((y, m, d, 0, 0, 0)) // 86400


def header_sig(day, nonce, secret=SECRET):
    subkey = hmac.new(secret.encode(), b"backscatter/header/v1", hashlib.sha256).digest()
    signed = f"v1.{KEY_ID}.{day}.{nonce:016x}"
    mac = hmac.new(subkey, signed.encode(), hashlib.sha256).digest()[:16].hex()
    return f"{signed}.{mac}"


def batv(address, day, secret=SECRET):
    expiry = f"{(day % 1000 + 7) % 1000:03}"
    mac = hmac.new(secret.encode(), f"{KEY_ID}{expiry}{address}".encode(), hashlib.sha1).digest()[:3].hex()
    return f"prvs={KEY_ID}{expiry}{mac}={address}"


def received(when, n):
    date = when.strftime("%a, %d %b %Y %H:%M:%S +0000")
    return (f"Received: from mx.example.net (mx.example.net [198.51.100.25])\n"
            f"\tby mail.example.com (Postfix) with ESMTP id DEMO{n:04}\n"
            f"\tfor <user@example.com>; {date}\n").encode()


def sign_original(data, line):
    """Inserts `line` as the first header of the returned original (message/rfc822 or
    text/rfc822-headers part)."""
    m = re.search(rb"(?im)^content-type:\s*(message/rfc822|text/rfc822-headers)[^\n]*\n(?:[ \t][^\n]*\n|[^\n]+\n)*?\r?\n", data)
    assert m, "no returned original"
    return data[:m.end()] + line + data[m.end():]


# (source, name stem, arrival, what to do)
PLAN = [
    ("tests/fixtures/ndr/001.eml", "genuine-sig-rfc822", (2026, 11, 17, 9, 14), "sig"),
    ("tests/fixtures/ndr/115.eml", "genuine-sig-headers", (2026, 11, 18, 7, 2), "sig"),
    ("tests/fixtures/ndr/102.eml", "genuine-batv", (2026, 11, 19, 16, 40), "batv"),
    ("tests/fixtures/autoreply/002.eml", "genuine-autoreply-batv", (2026, 11, 19, 17, 5), "batv"),
    ("tests/fixtures/ndr/004.eml", "forged-sig", (2026, 11, 18, 3, 33), "forged-sig"),
    ("tests/fixtures/ndr/107.eml", "forged-batv", (2026, 11, 20, 11, 12), "forged-batv"),
    ("tests/fixtures/ndr/114.eml", "expired-sig", (2026, 11, 20, 23, 59), "expired-sig"),
    ("tests/fixtures/ndr/106.eml", "unsigned", (2026, 11, 16, 5, 21), "none"),
    ("tests/fixtures/ndr/100.eml", "unsigned-inline", (2026, 11, 17, 22, 45), "none"),
    ("tests/fixtures/autoreply/001.eml", "unsigned-autoreply", (2026, 11, 18, 12, 0), "none"),
    ("tests/fixtures/delay/001.eml", "unsigned-delay", (2026, 11, 19, 8, 30), "none"),
    ("tests/fixtures/ordinary/001.eml", "ordinary", (2026, 11, 16, 10, 0), "none"),
    ("tests/fixtures/ordinary/002.eml", "ordinary", (2026, 11, 17, 10, 0), "none"),
    ("tests/corpus/ham/spamassassin-corpus/easy_ham/00001.7c53336b37003a9286aba55d2945844c", "ordinary", (2026, 11, 18, 10, 0), "none"),
    ("tests/corpus/ham/spamassassin-corpus/easy_ham/00006.253ea2f9a9cc36fa0b1129b04b806608", "ordinary", (2026, 11, 19, 10, 0), "none"),
]


def main():
    shutil.rmtree(ROOT, ignore_errors=True)
    for sub in ("cur", "new", "tmp"):
        os.makedirs(f"{ROOT}/{sub}")
    open(f"{ROOT}/tmp/.keep", "w").close()
    for n, (source, stem, (y, mo, d, h, mi), how) in enumerate(PLAN, 1):
        data = open(source, "rb").read()
        when = datetime.datetime(y, mo, d, h, mi, 7)
        day = day_of(y, mo, d)
        nonce = int.from_bytes(hashlib.sha256(f"{n}".encode()).digest()[:8], "big")
        top = received(when, n)
        if how == "sig":
            data = sign_original(data, f"X-Backscatter-Sig: {header_sig(day - 1, nonce)}\n".encode())
        elif how == "forged-sig":
            data = sign_original(data, f"X-Backscatter-Sig: {header_sig(day - 1, nonce, 'not-our-secret')}\n".encode())
        elif how == "expired-sig":
            data = sign_original(data, f"X-Backscatter-Sig: {header_sig(day - 30, nonce)}\n".encode())
        elif how == "batv":
            top = f"X-Original-To: {batv('user@example.com', day - 1)}\nDelivered-To: user@example.com\n".encode() + top
        elif how == "forged-batv":
            top = f"X-Original-To: {batv('user@example.com', day - 1, 'not-our-secret')}\nDelivered-To: user@example.com\n".encode() + top
        # Older messages are read (cur/, flag S); the last few are new.
        stamp = calendar.timegm(when.timetuple())
        name = f"{stamp}.M{n}P{n}.demo-{stem}"
        path = f"{ROOT}/new/{name}" if n % 3 == 0 else f"{ROOT}/cur/{name}:2,S"
        with open(path, "wb") as f:
            f.write(top + data)
        os.utime(path, (stamp, stamp))
    with open("contrib/demo/keyring.toml", "w") as f:
        f.write("# The demo keyring: signs nothing real. Git checks it out 0644; the loader wants 0600:\n"
                "#   chmod 600 contrib/demo/keyring.toml\n"
                f"[[key]]\nid = {KEY_ID}\ncreated = \"2026-10-01\"\nsecret = \"{SECRET}\"\n")


main()
