"""``VERIFY.md``: how to check a package with standard tools, in Chinese and English."""

from __future__ import annotations

from typing import Final

_TEMPLATE: Final[str] = """\
# 核验说明 · How to verify this package

Request / 调取申请: {request_id} · Recipient / 接收方: {recipient}
Signed tree head / 签名树头: size {size}, root `{root}`
Ledger public key fingerprint / 公钥指纹 (SHA-256 of the raw 32-byte Ed25519 key:
`openssl pkey -pubin -in proofs/vault-public.pem -outform DER | tail -c 32 | sha256sum`): `{fingerprint}`

**Pin the key / 固定公钥.** Every signature below is checked with `proofs/vault-public.pem`,
which this package carries itself, and the fingerprint above is printed from it: anyone who
forges a package and re-signs it with their own key gets a package that passes every step.
Compare the fingerprint with one obtained **independently of this package** from the vault's
operator (another channel: a signed letter, their website, a call), or pass it to
`chatcustody verify-package --key-fingerprint`.
以下所有签名都用包内自带的 `proofs/vault-public.pem` 核验，上面的指纹也取自该文件：伪造者用自己的密钥重新签名后，
每一步都能通过。请务必与**通过其他渠道**（非本证据包）从存证方获得的指纹比对，或用
`chatcustody verify-package --key-fingerprint` 固定公钥。

## 中文

1. 文件完整性：在包的根目录运行 `sha256sum -c SHA256SUMS`，每一行都应为 “OK”。
   `SM3SUMS` 用 SM3 列出同样的文件（例如 `openssl dgst -sm3 文件` 或 `gmssl sm3` 逐个比对）。
   除 `SHA256SUMS`、`SM3SUMS`、`SHA256SUMS.sig`、`SM3SUMS.sig` 和 `timestamps/` 下的令牌与 CA 证书外，包内每个文件都必须出现在清单中。
2. 清单签名：`openssl pkeyutl -verify -pubin -inkey proofs/vault-public.pem -rawin -in SHA256SUMS -sigfile SHA256SUMS.sig`
   与 `openssl pkeyutl -verify -pubin -inkey proofs/vault-public.pem -rawin -in SM3SUMS -sigfile SM3SUMS.sig`
   都应输出 “Signature Verified Successfully”。签名密钥为存证库的账本密钥（Ed25519），签名对象为清单文件的原始字节。
3. 树头签名：`openssl pkeyutl -verify -pubin -inkey proofs/vault-public.pem -rawin -in proofs/tree-head.json -sigfile proofs/tree-head.sig`。
   `tree-head.json` 的字节就是被签名的字节（键排序、无空格的 JSON）。`proofs/heads/N.json` 与 `.sig` 是更早的树头，核验方法相同。
4. 可信时间戳（若有 `timestamps/`）：`openssl ts -verify -data SHA256SUMS -in timestamps/SHA256SUMS.tsr -CAfile timestamps/tsa-ca.pem`
   （SM3SUMS 同理）。请先确认 `tsa-ca.pem` 是您信任的时间戳机构。
5. 逐条记录：`messages.jsonl` 每行一条（记录 kind=record，编辑/撤回 kind=amendment），`custody.jsonl` 中 `leaf` 为原始文件的账本条目。按下文“算法”重算叶哈希，
   与 `proofs/records.jsonl`（或 `amendments.jsonl`、`sources.jsonl`）中同一 `kind` 与 `id` 那一行的 `leaf_hash` 比对，
   再用 `path` 算出根哈希，应等于 `tree-head.json` 的 `root`。
6. 一致性证明：`proofs/consistency/M-N.json` 证明大小为 M 的旧树头是当前树的前缀（账本只追加、未改写）。
7. 被隐去的字段只给出承诺值（`withheld`），`display` 中的遮盖副本不在证明范围内；`redactions.jsonl` 说明隐去了什么、为什么。
8. 也可运行 `chatcustody verify-package 包路径 --key-fingerprint 指纹`（离线，无需存证库；不给指纹时报告会注明公钥未固定）。

## English

1. Files: in the package root run `sha256sum -c SHA256SUMS`; every line must say OK. `SM3SUMS`
   lists the same files with SM3 (check with `openssl dgst -sm3 FILE` or `gmssl sm3`). Every
   file but `SHA256SUMS`, `SM3SUMS`, `SHA256SUMS.sig`, `SM3SUMS.sig` and the tokens and CA
   certificate in `timestamps/` must be listed.
2. Manifest signatures: `openssl pkeyutl -verify -pubin -inkey proofs/vault-public.pem -rawin -in SHA256SUMS -sigfile SHA256SUMS.sig`
   and `openssl pkeyutl -verify -pubin -inkey proofs/vault-public.pem -rawin -in SM3SUMS -sigfile SM3SUMS.sig`
   must each print "Signature Verified Successfully" (the vault's Ed25519 ledger key, over the
   exact bytes of each manifest).
3. Tree head: `openssl pkeyutl -verify -pubin -inkey proofs/vault-public.pem -rawin -in proofs/tree-head.json -sigfile proofs/tree-head.sig`.
   `tree-head.json` holds exactly the signed bytes (canonical JSON: sorted keys, no spaces).
   Older heads in `proofs/heads/N.json` (+ `.sig`) check the same way.
4. Trusted timestamps (when `timestamps/` exists):
   `openssl ts -verify -data SHA256SUMS -in timestamps/SHA256SUMS.tsr -CAfile timestamps/tsa-ca.pem`
   (and the same for SM3SUMS), after making sure `tsa-ca.pem` is a TSA you trust.
5. Items: each line of `messages.jsonl` is one item (kind `record`, or `amendment` for an
   edit or recall); the `leaf` of an `acquired` line in `custody.jsonl` is an original's
   ledger entry. Recompute its leaf hash (algorithm below), compare it with `leaf_hash` on
   the line of the same `kind` and `id` in `proofs/records.jsonl` (or `amendments.jsonl`,
   `sources.jsonl`), then fold `path` into a root: it must equal `root` in `tree-head.json`.
6. `proofs/consistency/M-N.json` proves the older head of size M is a prefix of the current
   tree (the ledger only grew).
7. A withheld field appears only as its commitment (`withheld`); a masked copy under
   `display` is NOT covered by any proof; `redactions.jsonl` says what was withheld and why.
8. Or run `chatcustody verify-package PATH --key-fingerprint HEX` (offline; no vault needed;
   without a fingerprint it reports that the key was not pinned).

## Algorithm / 算法

```
canon(v)   = JSON of v with sorted keys, separators "," ":", non-ASCII kept as UTF-8,
             strings escaped as Python's json.dumps(ensure_ascii=False) does
commit(f)  = hex(SHA-256(bytes.fromhex(salts[f]) || UTF-8(canon(fields[f]))))  # disclosed
commit(f)  = withheld[f]                                                    # withheld
leaf       = UTF-8(canon({{"c": {{f: commit(f) for every field}}, "kind": kind, "ref": id, "v": 1}}))
leaf_hash  = SHA-256(0x00 || leaf)                       # RFC 9162 section 2.1.1
node(l, r) = SHA-256(0x01 || l || r)

root from an inclusion proof (RFC 9162 section 2.1.3.2), index i, tree size n, path p[]:
  fn = i; sn = n - 1; r = leaf_hash
  for c in p:
      if sn == 0: fail
      if fn is odd or fn == sn:
          r = node(c, r)
          while fn is even and fn != 0: fn >>= 1; sn >>= 1
      else:
          r = node(r, c)
      fn >>= 1; sn >>= 1
  accept iff sn == 0 and r == root
Consistency proofs follow RFC 9162 section 2.1.4.2 (old_size, new_size, path).
```
"""  # noqa: E501 (commands are kept whole so they can be copied)


def verify_md(request_id: str, recipient: str, size: int, root: str, fingerprint: str) -> bytes:
    """Return VERIFY.md for one package."""
    return _TEMPLATE.format(
        request_id=request_id, recipient=recipient, size=size, root=root, fingerprint=fingerprint
    ).encode("utf-8")
