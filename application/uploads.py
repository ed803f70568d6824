"""Uploaded documents: checked (name, type, size), staged under ``DATA_DIR/uploads``
and ingested by a background task. The SQL rows keep the text afterwards, so the
staged files are removed once the task ends."""
from __future__ import annotations

import shutil
import unicodedata
import uuid
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from application.errors import BadRequest, DocsTuneError
from application.request_values import quoted, some_of

COPY_BLOCK = 1 << 16
# most file systems allow 255 bytes per name; a few to spare
MAX_NAME_BYTES = 240


class UploadTooLarge(DocsTuneError):
    status_code = 413


@dataclass
class StagedUpload:
    folder: Path
    files: list[tuple[str, Path]] = field(default_factory=list)  # (name as uploaded, staged path)

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def safe_upload_name(name: str | None, allowed: frozenset[str]) -> str:
    """The name a file is stored under; anything that could leave the folder is refused, not repaired."""
    if not name or not name.strip():
        raise BadRequest("An uploaded file has no file name.")
    if "/" in name or "\\" in name or "\x00" in name or name.strip() in (".", "..") or ".." in PurePosixPath(name).parts:
        raise BadRequest(f"Unsafe file name {quoted(name)}: send a plain file name without folders.")
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in name):
        raise BadRequest(f"Unsafe file name {quoted(name)}: it contains control characters or is not Unicode text.")
    safe = plain_file_name(name)
    suffix = Path(safe).suffix.lower()
    if not safe or suffix not in allowed:
        kinds = ", ".join(sorted(allowed))
        raise BadRequest(f"{quoted(name)} is not a supported document type; upload one of: {kinds}.")
    if max(len(name), len(safe.encode("utf-8"))) > MAX_NAME_BYTES:
        raise BadRequest(f"The file name {quoted(name)} is too long (the limit is {MAX_NAME_BYTES} bytes in UTF-8); "
                         "rename the file and upload it again.")
    return safe


def plain_file_name(name: str) -> str:
    """werkzeug's ``secure_filename`` for every script: letters, marks and digits of any language stay
    (``日本語.md``, ``Ünïcödé_notes.md``), white space becomes ``_``, anything else but ``-_.`` goes
    (bidi overrides, quotes, colons), and no name starts with a dot."""
    name = unicodedata.normalize("NFC", name)  # macOS sends decomposed accents
    name = "_".join(name.split())
    kept = "".join(ch for ch in name if ch in "-_." or unicodedata.category(ch)[0] in "LMN")
    return kept.strip("._")


def stage_uploads(files, settings) -> StagedUpload:
    """Copy the uploaded ``files`` (werkzeug FileStorage objects) to a fresh folder, checking each."""
    files = [f for f in files if f is not None]
    if not files:
        raise BadRequest("Attach one or more documents in the multipart field 'file'.")
    if len(files) > settings.upload_max_files:
        raise BadRequest(f"{len(files)} files in one upload; the limit is {settings.upload_max_files}.")
    allowed = settings.upload_extension_set
    names = [safe_upload_name(f.filename, allowed) for f in files]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise BadRequest(f"The same file name appears twice in one upload: {some_of(duplicates)}.")
    staged = StagedUpload(settings.data_dir / "uploads" / uuid.uuid4().hex)
    staged.folder.mkdir(parents=True)
    try:
        for upload, name in zip(files, names):
            target = staged.folder / name
            _copy_capped(upload.stream, target, settings.upload_max_bytes, upload.filename)
            if target.stat().st_size == 0:
                raise BadRequest(f"{quoted(upload.filename)} is empty.")
            staged.files.append((upload.filename, target))
    except BaseException:
        staged.discard()
        raise
    return staged


def _copy_capped(stream, target: Path, limit: int, name: str) -> None:
    written = 0
    with target.open("wb") as out:
        while block := stream.read(COPY_BLOCK):
            written += len(block)
            if written > limit:
                raise UploadTooLarge(f"{quoted(name)} is larger than the upload limit of {limit} bytes (UPLOAD_MAX_BYTES).")
            out.write(block)


def start_ingest_job(app, staged: StagedUpload) -> dict:
    """Enqueue the ingestion of the staged files; ``upload://<name>`` is each document's uri.
    The job removes the staged folder when it ends (a separate worker needs DATA_DIR shared)."""
    paths = [str(path) for _, path in staged.files]
    params = {
        "paths": paths,
        "uris": {path: f"upload://{Path(path).name}" for path in paths},
        "names": {str(path): original for original, path in staged.files},
        "files": [original for original, _ in staged.files],
        "staged_folder": str(staged.folder),
    }
    try:
        return app.jobs.submit("ingest", params)
    except BaseException:
        staged.discard()
        raise
