"""The court bundle format and its verifier: what anyone may check without Custody's server.

A bundle is a BagIt bag (RFC 8493). `layout` names its files, `reader` opens a bag as a
folder or one zip, and `verify` checks every hash, signature and proof in it with the
server's public key alone: no database, no network. It builds on the pure rules of
`custody.domain` (Merkle proofs, signed documents) and nothing of the server's internals,
so a defence expert's copy of this package is all the software a check needs.
"""
