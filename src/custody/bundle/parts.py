"""The parts of a bundle as a person names them: what a failure says it is about."""

from __future__ import annotations

from custody.bundle import layout


def describe(path: str) -> str:
    """A file of a bundle as a person would name it, with its path."""
    parts = path.split("/")
    name = parts[-1]
    what = {
        layout.INDEX: "the bundle's index",
        layout.README: "the README",
        layout.SERVER_KEY: "the server's public key",
        layout.CONTINUITY: "the continuity statement",
        layout.SCHEDULE_CSV: "the disclosure schedule",
        layout.EXPORT_EVENTS: "the audit events of this export",
        layout.MANIFEST: "the BagIt payload manifest",
        layout.TAGMANIFEST: "the BagIt tag manifest",
        layout.TAGMANIFEST_SIGNATURE: "the server's seal over the tag manifest",
        layout.BAG_INFO: "the bag's description",
        layout.BAGIT_TXT: "the BagIt declaration",
    }.get(path)
    if what is None and len(parts) == 4 and parts[1] == "recordings":
        recording = parts[2]
        stem = name.split(".", 1)[0]
        what = {
            "original": f"the original footage of recording {recording}",
            "camera-manifest": f"the camera's signed manifest of recording {recording}",
            "camera-public-key": f"the camera's public key for recording {recording}",
            "ingest-receipt": f"the server's ingest receipt of recording {recording}",
            "deletion-certificate": f"the deletion certificate of recording {recording}",
            "audit-trail": f"the audit trail of recording {recording}",
        }.get(stem, f"a file of recording {recording}")
    elif what is None and len(parts) == 4 and parts[1] == "clips":
        what = f"{'the clip' if name.endswith('.mp4') else 'the description of clip'} {parts[2]}"
    elif what is None and len(parts) == 4 and parts[1] == "redactions":
        what = {
            layout.REDACTED_COPY: "the redacted copy",
            layout.REDACTION_RECORD: "the redaction record of redacted copy",
        }.get(name, "the description of redacted copy") + f" {parts[2]}"
    elif what is None and len(parts) == 3 and parts[1] == "checkpoints":
        if name.startswith("consistency-"):
            what = "the consistency proof between the audit checkpoints"
        else:
            size = name.removeprefix("checkpoint-").split(".", 1)[0]
            what = f"the signed audit checkpoint over {size} events"
    return f"{what or 'a file'} ({path})"
