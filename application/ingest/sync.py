"""Sources that stay in sync: add a folder, a web site or a git repository once; a sync re-reads it.

A sync reads the whole source (its fetcher: ``local_documents``, ``application.ingest.web``,
``application.ingest.git``) and hands the documents to the ``Ingestor``, which skips unchanged
bytes and embeds only changed chunk texts. A document missing from a *complete* listing is marked
missing, and removed once ``SYNC_DELETE_GRACE_HOURS`` have passed; a listing cut short (a page limit,
a fetch error) removes nothing. Each document is replaced in one step, so a sync that fails half-way
leaves every document it did not reach as it was, serving.

Example::

    sources = SourceSync(db, serving, settings)
    source = sources.add("git", "https://example.com/team/docs.git", options={"include": ["docs/**"]},
                         schedule="daily")
    sources.sync(source["id"])      # what changed since the last synced commit
"""
from __future__ import annotations

import logging
import shutil
import tempfile
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from sqlalchemy import func, select

from application.db import Database
from application.db.models import SYNC_SCHEDULES, SYNC_SOURCE_KINDS, Source, SyncSource
from application.errors import BadRequest, NotFound
from application.ingest.documents import FetchedDocument, FetchResult, SourceError
from application.ingest.parsers import is_supported
from application.ingest.pipeline import IngestReport, Ingestor, delete_documents, local_documents, source_id_for
from application.redaction import redact_url
from application.request_values import quoted

if TYPE_CHECKING:
    from application.retrieval.serving import ServingIndex
    from application.settings import Settings

log = logging.getLogger(__name__)

# the migration 0008_sync_sources gives documents from before sources the same ids
SYNC_SOURCE_NAMESPACE = uuid.UUID("9d3f1f55-0c4e-4b7a-8f63-5a2f7c1e8b44")
UPLOADS_LOCATION = "upload://"
SCHEDULE_INTERVALS = {"hourly": timedelta(hours=1), "daily": timedelta(days=1), "weekly": timedelta(weeks=1)}
WEB_MODES = ("auto", "page", "sitemap", "crawl")
# the kinds an admin adds by hand (uploads have their one source, files come with `docstune ingest FILE`)
ADDABLE_KINDS = ("folder", "file", "web", "git")
MAX_GLOBS = 50


def sync_source_id_for(kind: str, location: str) -> str:
    return str(uuid.uuid5(SYNC_SOURCE_NAMESPACE, f"{kind}:{location}"))


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; they were written in UTC."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment


def shown_location(kind: str, location: str) -> str:
    """A location as people may see it: credentials in a URL hidden."""
    return redact_url(location) if kind in ("web", "git") else location


def looks_like_git(location: str) -> bool:
    """A repository URL by its form: ``….git``, ``git@host:…``, ``ssh://``, ``git://``."""
    text = location.strip()
    return (text.endswith(".git") or text.endswith(".git/") or text.startswith(("git@", "ssh://", "git://", "git+")))


class SourceSync:
    """The sources (``sync_sources`` rows) and their syncs; the CLI, the API and the job share it."""

    def __init__(self, db: Database, serving: ServingIndex, settings: Settings):
        self.db = db
        self.serving = serving  # removals go to the serving collection and those a re-index is building
        self.settings = settings

    # -- the catalogue ----------------------------------------------------------------
    def add(self, kind: str, location: str, *, name: str | None = None, options: dict | None = None,
            schedule: str | None = None) -> dict:
        """Register a source (or update the one at the same place); it is read by ``sync``."""
        kind, location, options = self._validated(kind, location, options or {})
        if schedule is not None and schedule not in SYNC_SCHEDULES:
            raise BadRequest(f"schedule must be one of {', '.join(SYNC_SCHEDULES)}, not {quoted(schedule)}.")
        source_id = sync_source_id_for(kind, location)
        with self.db.session() as session:
            row = session.get(SyncSource, source_id)
            if row is None:
                row = SyncSource(id=source_id, kind=kind, location=location, name=(name or self._default_name(
                    kind, location, options))[:512], options=options, schedule=schedule or "never", status="new",
                    created_at=utcnow())
                session.add(row)
            else:
                merged = {**(row.options or {}), **options}
                if merged != (row.options or {}):
                    # other globs or another branch: files that newly match may be unchanged since the
                    # last commit synced, so the next sync reads the whole listing again
                    row.cursor = None
                row.options = merged
                if name:
                    row.name = name[:512]
                if schedule is not None:
                    row.schedule = schedule
            row.next_sync_at = self._first_sync(row)
        return self.get(source_id)

    def uploads(self) -> str:
        """The id of the one source uploaded documents belong to (made on first use)."""
        source_id = sync_source_id_for("upload", UPLOADS_LOCATION)
        with self.db.session() as session:
            if session.get(SyncSource, source_id) is None:
                session.add(SyncSource(id=source_id, kind="upload", location=UPLOADS_LOCATION, name="Uploads",
                                       options={}, schedule="never", status="ok", created_at=utcnow()))
        return source_id

    def find(self, source_id_or_location: str) -> SyncSource:
        """A source by id, or by its location (a path is resolved first)."""
        with self.db.session() as session:
            row = session.get(SyncSource, source_id_or_location)
            if row is None:
                location = source_id_or_location
                if Path(location).expanduser().exists():
                    location = str(Path(location).expanduser().resolve())
                row = session.scalars(select(SyncSource).where(SyncSource.location == location)).first()
            if row is None:
                raise NotFound(f"No source with id or location {quoted(source_id_or_location)}; "
                               f"`docstune sources` lists them.")
            session.expunge(row)
            return row

    def get(self, source_id: str) -> dict:
        row = self.find(source_id)
        return self._to_dict(row, self._counts([row.id]).get(row.id, {}))

    def list(self) -> list[dict]:
        with self.db.session() as session:
            rows = list(session.scalars(select(SyncSource).order_by(SyncSource.created_at, SyncSource.id)))
            for row in rows:
                session.expunge(row)
        counts = self._counts([row.id for row in rows])
        return [self._to_dict(row, counts.get(row.id, {})) for row in rows]

    def update(self, source_id: str, *, schedule: str | None = None, name: str | None = None) -> dict:
        if schedule is not None and schedule not in SYNC_SCHEDULES:
            raise BadRequest(f"schedule must be one of {', '.join(SYNC_SCHEDULES)}, not {quoted(schedule)}.")
        row = self.find(source_id)
        with self.db.session() as session:
            row = session.get(SyncSource, row.id)
            if schedule is not None:
                if row.kind == "upload" and schedule != "never":
                    raise BadRequest("Uploads are not read from anywhere, so they have no schedule; "
                                     "upload a new version instead.")
                row.schedule = schedule
                row.next_sync_at = self._first_sync(row)
            if name is not None:
                if not name.strip():
                    raise BadRequest("A source's name cannot be empty.")
                row.name = name.strip()[:512]
        return self.get(row.id)

    def delete(self, source_id: str) -> dict:
        """Remove a source with its documents, their chunks and vectors."""
        row = self.find(source_id)
        with self.db.session() as session:
            documents = list(session.scalars(select(Source.id).where(Source.sync_source_id == row.id)))
        removed = delete_documents(self.db, self.serving.store, self.serving.collections(), documents)
        with self.db.session() as session:
            gone = session.get(SyncSource, row.id)
            if gone is not None:
                session.delete(gone)
        if row.kind == "git":
            shutil.rmtree(self._git_cache(row.id), ignore_errors=True)
        return {"id": row.id, "name": row.name, "documents": removed}

    def interrupted(self, source_id: str | None) -> None:
        """Its sync job's process stopped: the source is not syncing any more."""
        if source_id:
            self._set(source_id, status="failed", last_error="The sync was interrupted (its process stopped); "
                                                             "sync again.")

    def due(self, now: datetime | None = None) -> list[str]:
        """Sources whose schedule says a sync is due."""
        now = now or utcnow()
        with self.db.session() as session:
            rows = session.execute(select(SyncSource.id, SyncSource.next_sync_at)
                                   .where(SyncSource.schedule != "never")).all()
        return [source_id for source_id, next_at in rows if _aware(next_at) is None or _aware(next_at) <= now]

    # -- a sync ---------------------------------------------------------------------
    def sync(self, source_id: str, progress: Callable[[int, int], None] | None = None,
             message: Callable[[str], None] | None = None) -> IngestReport:
        """Read the source again and bring its documents up to date; returns what changed.

        A source that cannot be read at all raises ``SourceError`` (its documents stay as they were)."""
        row = self.find(source_id)
        started = utcnow()
        self._set(row.id, status="syncing")
        workdir = Path(tempfile.mkdtemp(prefix="sync-", dir=self._work_root()))
        try:
            if message:
                message(f"reading {shown_location(row.kind, row.location)}")
            fetched = self._fetch(row, workdir, progress)
            if message:
                message(f"indexing {len(fetched.documents)} new or changed documents")
            report = Ingestor.for_serving(self.db, self.serving, self.settings).ingest_documents(fetched.documents, progress=progress,
                                                              sync_source_id=row.id)
            report.failed.extend(fetched.failed)
            report.skipped.extend(fetched.skipped)
            self._keep_present(row.id, fetched.unchanged_uris)
            if fetched.complete:
                report.removed.extend(self._remove_missing(row.id, fetched, started))
        except BaseException as exc:
            if not isinstance(exc, Exception):  # a cancelled job, Ctrl-C
                error = "The sync was stopped before it ended; the documents it had not reached are unchanged."
            elif isinstance(exc, (SourceError, BadRequest)):
                error = str(exc)
            else:
                error = f"{exc.__class__.__name__}: {exc}"
            self._set(row.id, status="failed", last_error=redact_url(error)[:2000], last_sync_at=started,
                      next_sync_at=self._next_sync(row.schedule, started))
            raise
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        self.record(row.id, report, started, cursor=fetched.cursor or row.cursor)
        return report

    def record(self, source_id: str, report: IngestReport, started: datetime | None = None,
               cursor: str | None = None) -> None:
        """Write what a sync (or an upload into the uploads source) did: status, time, report."""
        started = started or utcnow()
        row = self.find(source_id)
        self._set(row.id, status="partial" if report.failed else "ok",
                  last_error=report.failed[0][1][:2000] if report.failed else None, last_sync_at=started,
                  next_sync_at=self._next_sync(row.schedule, started), last_report=report.summary(),
                  cursor=cursor or row.cursor)

    def _fetch(self, row: SyncSource, workdir: Path, progress) -> FetchResult:
        options = row.options or {}
        if row.kind == "upload":
            # nothing upstream to read again: an upload's documents stay until deleted
            return FetchResult(complete=False)
        if row.kind == "file":
            path = Path(row.location)
            if not path.exists():  # a file deleted upstream: its document is missing
                return FetchResult(complete=True)
            if not is_supported(path):
                raise SourceError(f"{path} has an unsupported type {path.suffix or '(none)'}.")
            return FetchResult(documents=[FetchedDocument(uri=str(path), path=path)])
        if row.kind == "folder":
            root = Path(row.location)
            if not root.is_dir():
                # an unmounted disk must not delete every document: the sync fails, nothing is removed
                raise SourceError(f"The folder {root} does not exist or is not a folder (any more); "
                                  f"nothing was removed. Mount it again, or delete the source.")
            documents, skipped = local_documents([root])
            return FetchResult(documents=documents, skipped=skipped)
        if row.kind == "web":
            from application.ingest.web import fetch_web

            limits = self.settings.web_limits(max_pages=options.get("max_pages"), max_depth=options.get("max_depth"))
            return fetch_web(row.location, options.get("mode", "auto"), limits, workdir, progress=progress,
                             include=tuple(options.get("include") or ()), exclude=tuple(options.get("exclude") or ()))
        if row.kind == "git":
            from application.ingest.git import GitSpec, fetch_git

            spec = GitSpec(url=row.location, branch=options.get("branch"),
                           include=tuple(options.get("include") or ()), exclude=tuple(options.get("exclude") or ()))
            return fetch_git(spec, self._git_cache(row.id), row.cursor, is_supported, progress=progress,
                             timeout_seconds=self.settings.git_timeout_seconds)
        raise SourceError(f"Unknown source kind {quoted(row.kind)}.")

    def _keep_present(self, sync_source_id: str, uris: list[str]) -> None:
        """Documents known unchanged upstream without reading them (git): present, and this source's."""
        if not uris:
            return
        ids = [source_id_for(uri) for uri in uris]
        with self.db.session() as session:
            for start in range(0, len(ids), 500):
                for document in session.scalars(select(Source).where(Source.id.in_(ids[start:start + 500]))):
                    document.missing_since = None
                    document.sync_source_id = sync_source_id

    def _remove_missing(self, sync_source_id: str, fetched: FetchResult, now: datetime) -> list[str]:
        """Mark this source's documents missing from the listing; remove those missing past the grace period."""
        present = {source_id_for(d.uri) for d in fetched.documents} | {source_id_for(u) for u in fetched.unchanged_uris}
        present |= {source_id_for(uri) for uri, _ in fetched.failed}  # unreadable now is not gone
        grace = timedelta(hours=self.settings.sync_delete_grace_hours)
        expired: list[tuple[str, str]] = []
        with self.db.session() as session:
            for document in session.scalars(select(Source).where(Source.sync_source_id == sync_source_id)):
                if document.id in present:
                    continue
                if document.missing_since is None:
                    document.missing_since = now
                if _aware(document.missing_since) + grace <= now:
                    expired.append((document.id, document.uri))
        if expired:
            delete_documents(self.db, self.serving.store, self.serving.collections(), [i for i, _ in expired])
            log.info("Removed %s documents gone from source %s", len(expired), sync_source_id)
        return [uri for _, uri in expired]

    # -- helpers ------------------------------------------------------------------------
    def _validated(self, kind: str, location: str, options: dict) -> tuple[str, str, dict]:
        if kind not in SYNC_SOURCE_KINDS or kind == "upload":
            raise BadRequest(f"kind must be one of {', '.join(ADDABLE_KINDS)}, not {quoted(kind)}.")
        if not isinstance(location, str) or not location.strip():
            raise BadRequest("Give the source's location: a folder, a URL or a git repository.")
        location = location.strip()
        if not isinstance(options, dict):
            raise BadRequest("options must be a JSON object.")
        if kind in ("folder", "file"):
            path = Path(location).expanduser()
            if not path.exists():
                raise BadRequest(f"{location} does not exist.")
            if kind == "folder" and not path.is_dir():
                raise BadRequest(f"{location} is a file, not a folder.")
            return kind, str(path.resolve()), {}
        if kind == "web":
            from application.ingest.web import check_url

            mode = options.get("mode", "auto")
            if mode not in WEB_MODES:
                raise BadRequest(f"mode must be one of {', '.join(WEB_MODES)}, not {quoted(str(mode))}.")
            clean = {"mode": mode}
            for key, most in (("max_pages", 100_000), ("max_depth", 50)):
                value = options.get(key)
                if value is not None:
                    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= most:
                        raise BadRequest(f"{key} must be a whole number from 0 to {most}.")
                    clean[key] = value
            clean.update(self._globs(options))
            return kind, check_url(location, self.settings.web_limits()), clean
        # git: a URL or a local repository
        if not location.startswith(("http://", "https://", "ssh://", "git://", "git@", "file://")):
            path = Path(location).expanduser()
            if not path.exists():
                raise BadRequest(f"{location} is neither a git URL nor an existing local repository.")
            location = str(path.resolve())
        branch = options.get("branch")
        if branch is not None and (not isinstance(branch, str) or not branch.strip() or branch.startswith("-")
                                   or any(c in branch for c in " ~^:?*[\\\x00")):
            raise BadRequest(f"{quoted(str(branch))} is not a branch name.")
        return kind, location, {"branch": branch.strip() if branch else None, **self._globs(options)}

    @staticmethod
    def _globs(options: dict) -> dict:
        clean = {}
        for key in ("include", "exclude"):
            value = options.get(key) or []
            if isinstance(value, str):
                value = [part.strip() for part in value.replace("\n", ",").split(",")]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise BadRequest(f"{key} must be a list of glob patterns like \"docs/**/*.md\".")
            value = [v.strip() for v in value if v.strip()]
            if len(value) > MAX_GLOBS or any(len(v) > 512 or "\x00" in v for v in value):
                raise BadRequest(f"{key}: at most {MAX_GLOBS} patterns of at most 512 characters.")
            clean[key] = value
        return clean

    @staticmethod
    def _default_name(kind: str, location: str, options: dict) -> str:
        if kind in ("folder", "file"):
            return Path(location).name or location
        shown = shown_location(kind, location)
        branch = options.get("branch")
        return f"{shown} ({branch})" if kind == "git" and branch else shown

    def _first_sync(self, row: SyncSource) -> datetime | None:
        """When a scheduled source is due next: one interval after its last sync; never synced: now."""
        last = _aware(row.last_sync_at)
        if last is None:
            return utcnow() if row.schedule in SCHEDULE_INTERVALS else None
        return self._next_sync(row.schedule, last)

    @staticmethod
    def _next_sync(schedule: str, since: datetime) -> datetime | None:
        interval = SCHEDULE_INTERVALS.get(schedule)
        return since + interval if interval else None

    def _set(self, source_id: str, **values) -> None:
        with self.db.session() as session:
            row = session.get(SyncSource, source_id)
            if row is not None:
                for key, value in values.items():
                    setattr(row, key, value)

    def _counts(self, ids: list[str]) -> dict[str, dict]:
        if not ids:
            return {}
        with self.db.session() as session:
            rows = session.execute(
                select(Source.sync_source_id, func.count(Source.id), func.coalesce(func.sum(Source.chunk_count), 0),
                       func.count(Source.missing_since))
                .where(Source.sync_source_id.in_(ids)).group_by(Source.sync_source_id)).all()
        return {sid: {"document_count": docs, "chunk_count": int(chunks), "missing_count": missing}
                for sid, docs, chunks, missing in rows}

    def _to_dict(self, row: SyncSource, counts: dict) -> dict:
        return {
            "id": row.id, "kind": row.kind, "name": row.name, "location": shown_location(row.kind, row.location),
            "schedule": row.schedule, "status": row.status, "options": row.options or {},
            "document_count": counts.get("document_count", 0), "chunk_count": counts.get("chunk_count", 0),
            "missing_count": counts.get("missing_count", 0),
            "last_sync_at": _iso(row.last_sync_at), "next_sync_at": _iso(row.next_sync_at),
            "last_error": row.last_error, "last_report": row.last_report, "cursor": row.cursor,
            "created_at": _iso(row.created_at),
        }

    def _work_root(self) -> Path:
        root = self.settings.data_dir / "sync"
        root.mkdir(parents=True, exist_ok=True)
        return root

    def _git_cache(self, source_id: str) -> Path:
        return self.settings.data_dir / "git" / source_id


def _iso(moment: datetime | None) -> str | None:
    moment = _aware(moment)
    return moment.isoformat() if moment else None
