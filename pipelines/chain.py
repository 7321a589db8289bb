"""The hash chain: one mechanism for captures and the audit log.

Each entry of a chain has a *record hash*, the SHA-256 of its canonical JSON
payload, and a *chain hash* that folds in the chain hash of the entry before:

    record_hash = sha256(canonical_json(payload))
    chain_hash  = sha256(prev_chain_hash || ":" || record_hash)      (hex strings, ASCII)

The first entry's previous hash is GENESIS (64 zeros). A changed payload
changes its record hash; a removed, inserted or reordered entry breaks the
link of the entry after it. Anyone can recompute a chain with a few lines of
any language, which is the point: an inspector's expert can verify it without
this software.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64


def canonical_json(payload: Any) -> bytes:
    """Deterministic JSON: sorted keys, no spaces, UTF-8, no NaN."""
    return json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def record_hash(payload: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of one entry's payload."""
    return sha256_hex(canonical_json(payload))


def link(prev_chain_hash: str, rec_hash: str) -> str:
    """The chain hash of an entry whose record hash is `rec_hash`, after `prev_chain_hash`."""
    return sha256_hex(f"{prev_chain_hash}:{rec_hash}".encode("ascii"))


@dataclass(frozen=True)
class Break:
    """The first broken link of a chain."""

    entry_id: Any
    reason: str  # one line, English then Chinese

    def __str__(self) -> str:
        return f"entry {self.entry_id}: {self.reason}"


def verify(entries: Iterable[tuple[Any, Mapping[str, Any], str, str, str]]) -> tuple[int, Break | None]:
    """Walk a chain in order and return (entries checked, first break or None).

    Each entry is (id, payload, stored record hash, stored previous hash, stored chain hash).
    """
    prev = GENESIS
    count = 0
    for entry_id, payload, stored_rec, stored_prev, stored_chain in entries:
        count += 1
        if stored_prev != prev:
            return count, Break(
                entry_id,
                "previous-hash link does not match the entry before (removed, inserted or reordered entry) "
                "/ 前序哈希不衔接（条目被删除、插入或调换）",
            )
        rec = record_hash(payload)
        if rec != stored_rec:
            return count, Break(
                entry_id, "content does not match its record hash (altered) / 内容与记录哈希不符（被篡改）"
            )
        if link(prev, rec) != stored_chain:
            return count, Break(entry_id, "chain hash does not match (altered) / 链哈希不符（被篡改）")
        prev = stored_chain
    return count, None


def fold(start_chain_hash: str, record_hashes: Iterable[str]) -> str:
    """Fold record hashes onto a chain hash: used to prove that an entry leads to a later head."""
    h = start_chain_hash
    for rec in record_hashes:
        h = link(h, rec)
    return h
