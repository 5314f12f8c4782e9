"""The README inside a court bundle: how a defence expert checks it with standard tools.

Every command in it is one a test runs, exactly as written (tests/integration/
test_bundle_standard_tools.py), from the bag's top folder.
"""

from __future__ import annotations

from datetime import datetime

from custody.bundle import layout
from custody.domain.clock import isoformat
from custody.services.disclosure.bundle_contents import FOOTAGE_INCLUDED, Contents

INDENT = "    "


def _openssl(key_file: str, stem: str) -> str:
    _, canonical, signature = layout.signed_triple(stem)
    return (
        f"openssl pkeyutl -verify -pubin -inkey {key_file} -rawin "
        f"-in {canonical} -sigfile {signature}"
    )


def render(contents: Contents, made_at: datetime, signed: list[tuple[str, str]]) -> bytes:
    """The README's text for this bundle, naming its own files."""
    seal = (
        f"openssl pkeyutl -verify -pubin -inkey {layout.SERVER_KEY} -rawin "
        f"-in {layout.TAGMANIFEST} -sigfile {layout.TAGMANIFEST_SIGNATURE}"
    )
    lines = [
        f"Court bundle of case {contents.case_reference}: {contents.case_title}",
        f"Made by Custody on {isoformat(made_at)}.",
        "",
        "This folder is a BagIt bag (RFC 8493). Everything in it can be checked with",
        "standard tools alone: sha256sum (GNU coreutils) and openssl (3.0 or later).",
        "Run every command below from the bundle's top folder (where bagit.txt is); each",
        "must succeed (openssl prints 'Signature Verified Successfully', sha256sum 'OK').",
        "For a zipped bundle, unzip it first: it holds this one folder.",
        "",
        "1. The server's key. data/server-public-key.pem is the key of the Custody server",
        "   that made this bundle. Compare it with the key the force publishes (its",
        "   /api/v1/server-key, or a copy served with the case) before trusting anything:",
        "",
        f"{INDENT}openssl pkey -pubin -in {layout.SERVER_KEY} -noout -text",
        "",
        "2. The seal. The server signed the tag manifest, which holds the SHA-256 of the",
        "   payload manifest, which holds the SHA-256 of every file under data/:",
        "",
        f"{INDENT}{seal}",
        f"{INDENT}sha256sum -c --strict {layout.TAGMANIFEST}",
        f"{INDENT}sha256sum -c --strict {layout.MANIFEST}",
        "",
        "3. Each signed document. Camera manifests are signed by the camera's own key,",
        "   ingest receipts, audit checkpoints and deletion certificates by the server's.",
        "   Each is stored as issued (NAME.json), as the exact bytes signed (RFC 8785",
        "   canonical JSON without the signature: NAME.canonical.json) and as the raw",
        "   Ed25519 signature (NAME.sig):",
        "",
    ]
    lines += [f"{INDENT}{_openssl(key_file, stem)}" for stem, key_file in signed]
    lines += [
        "",
        "4. The footage is what the camera recorded. For each recording, the SHA-256 in the",
        "   camera's signed manifest must equal the one sha256sum checked for its footage:",
        "",
    ]
    for recording in contents.recordings:
        folder = layout.recording_dir(recording.id)
        if recording.footage == FOOTAGE_INCLUDED and recording.camera_public_key:
            lines.append(
                f'{INDENT}grep -o \'"sha256":"[0-9a-f]*"\' {folder}camera-manifest.canonical.json'
            )
            lines.append(f"{INDENT}grep ' {folder}original.mp4$' {layout.MANIFEST}")
    lines += [
        "",
        "5. The audit trail. Each recording's audit-trail.json lists its audit events; each",
        "   event's hash is SHA-256 of the RFC 8785 canonical JSON of its fields (all but",
        "   'hash'), and its 'audit_path' is an RFC 6962 inclusion proof of leaf",
        "   SHA-256(0x00 || hash) under the signed checkpoint over 'checkpoint_size' events",
        "   (data/checkpoints/). A consistency proof (data/checkpoints/consistency-*.json)",
        "   shows that checkpoint is a prefix of the newest one, which also covers this",
        "   export's own events (data/export-events.json). Any RFC 6962 / RFC 9162",
        "   implementation checks these; so does `custody bundle verify` (open source).",
        "",
        "Files:",
        f"  {layout.INDEX}  the index: case, schedule, recordings, clips, what each holds",
        f"  {layout.SCHEDULE_CSV}  the disclosure schedule (sensitive lines: withheld)",
        f"  {layout.CONTINUITY}  who had each item, from camera to this bundle",
        "  data/recordings/ID/  original.mp4, camera-manifest, ingest-receipt, audit-trail",
        "                       (deletion-certificate instead of footage if deleted)",
        "  data/clips/ID/       clip.mp4 and clip.json (its original's SHA-256, in/out points)",
        "  data/redactions/ID/  redacted.mp4, redaction-record.json (what was blurred on every",
        "                       frame; its 'output.sha256' is redacted.mp4's SHA-256 and its",
        "                       'original.sha256' the original's) and redaction.json",
        "",
        "The format is described in full in Custody's docs/disclosure.md, 'Court bundles'.",
        "",
    ]
    return "\n".join(lines).encode("utf-8")
