import { useState } from "react";
import { errorText } from "../lib/api";
import type { ApiKey, DocumentSource, NewApiKey } from "../lib/types";
import type { AdminCall } from "./session";
import { ErrorBox, when } from "./ui";
import { usePolling } from "./usePolling";

/** The version of DocsGPT's widget (npm `docsgpt`) that tests/e2e/test_docsgpt_widget.py drives against DocsTune. */
export const WIDGET_VERSION = "0.5.1";

/** HTML that embeds DocsGPT's published widget, answered by this server with `apiKey`. */
export function widgetSnippet(apiHost: string, apiKey: string): string {
  return [
    '<div id="docsgpt-widget"></div>',
    `<script src="https://unpkg.com/docsgpt@${WIDGET_VERSION}/dist/modern/browser.js"></script>`,
    "<script>",
    '  renderDocsGPTWidget("docsgpt-widget", {',
    `    apiHost: ${JSON.stringify(apiHost)},`,
    `    apiKey: ${JSON.stringify(apiKey)},`,
    "  });",
    "</script>",
  ].join("\n");
}

/** "Handbook, FAQ" for a key's source ids; an id whose source was deleted since shows as such. */
export function sourceNames(ids: string[] | null, sources: DocumentSource[]): string {
  if (!ids || ids.length === 0) return "all sources";
  const byId = new Map(sources.map((s) => [s.id, s.title || s.uri]));
  return ids.map((id) => byId.get(id) ?? `${id} (deleted)`).join(", ");
}

async function copyText(text: string): Promise<boolean> {
  try {
    if (!navigator.clipboard) return false; // only secure pages (https, localhost) have it
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}

function CreateForm({ call, sources, onCreated }: { call: AdminCall; sources: DocumentSource[]; onCreated: (key: NewApiKey) => void }) {
  const [name, setName] = useState("");
  const [picked, setPicked] = useState<string[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <form
      className="card"
      style={{ marginTop: "0.8rem" }}
      aria-label="Create an API key"
      onSubmit={async (event) => {
        event.preventDefault();
        setBusy(true);
        setError(null);
        try {
          const created = await call<NewApiKey>("/api/admin/api_keys", { body: { name, ...(picked.length ? { sources: picked } : {}) } });
          setName("");
          setPicked([]);
          onCreated(created);
        } catch (err) {
          setError(errorText(err));
        } finally {
          setBusy(false);
        }
      }}
    >
      <h2>Create an API key</h2>
      <p className="muted small">
        A key identifies a client (a site with DocsGPT&apos;s widget, a script): the conversations it starts and the
        ratings it gives belong to the key, and rate limits count per key.
      </p>
      <div className="form-grid">
        <label htmlFor="api-key-name">Name</label>
        <input id="api-key-name" value={name} maxLength={200} placeholder="e.g. docs site widget" onChange={(e) => setName(e.target.value)} />
      </div>
      <fieldset style={{ border: "none", padding: 0, margin: "0 0 0.7rem", display: "grid", gap: "0.3rem" }}>
        <legend>Sources it may search <span className="muted small">(none ticked: every source)</span></legend>
        {sources.length === 0 ? <p className="muted small">No documents yet.</p> : null}
        {sources.map((s) => (
          <label key={s.id} className="check">
            <input
              type="checkbox"
              checked={picked.includes(s.id)}
              onChange={(e) => setPicked((all) => (e.target.checked ? [...all, s.id] : all.filter((id) => id !== s.id)))}
            />{" "}
            {s.title || s.uri} {s.title ? <span className="mono small muted">{s.uri}</span> : null}
          </label>
        ))}
      </fieldset>
      {error ? <p className="error-inline" role="alert">{error}</p> : null}
      <button type="submit" className="primary" disabled={!name.trim() || busy}>Create key</button>
    </form>
  );
}

function NewKey({ created, onDone }: { created: NewApiKey; onDone: () => void }) {
  const [copied, setCopied] = useState<boolean | null>(null);
  return (
    <section className="card" style={{ marginTop: "0.8rem" }} aria-label="New API key" data-testid="new-key">
      <h2>Key for {created.name}</h2>
      <p>
        <strong>Copy it now: it will not be shown again.</strong> Only its hash is stored; a lost key cannot be read
        back, only revoked and replaced.
      </p>
      <div style={{ display: "flex", gap: "0.5rem", flexWrap: "wrap", alignItems: "center" }}>
        <input className="mono" aria-label="The new API key" readOnly value={created.key} size={created.key.length} onFocus={(e) => e.target.select()} />
        <button type="button" className="primary" onClick={async () => setCopied(await copyText(created.key))}>Copy</button>
        <button type="button" onClick={onDone}>Done</button>
      </div>
      {copied === true ? <p className="small" role="status">Copied to the clipboard.</p> : null}
      {copied === false ? <p className="error-inline" role="status">This page cannot use the clipboard: select the key above and copy it by hand.</p> : null}
    </section>
  );
}

export default function ApiKeys({ call }: { call: AdminCall }) {
  const list = usePolling(async () => {
    const [keys, sources] = await Promise.all([call<ApiKey[]>("/api/admin/api_keys"), call<DocumentSource[]>("/api/sources")]);
    return { keys, sources };
  }, () => false);
  const [created, setCreated] = useState<NewApiKey | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  const [revoking, setRevoking] = useState<string | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);

  const revoke = async (key: ApiKey) => {
    setRevoking(key.id);
    setActionError(null);
    try {
      await call(`/api/admin/api_keys/${encodeURIComponent(key.id)}`, { method: "DELETE" });
      if (created?.id === key.id) setCreated(null);
    } catch (err) {
      setActionError(errorText(err));
    } finally {
      setRevoking(null);
      setConfirming(null);
      void list.refresh();
    }
  };

  const sources = list.data?.sources ?? [];
  return (
    <>
      <p className="muted small">
        Keys as DocsGPT has them, for its widget and other clients of the chat API. The same as{" "}
        <code>docstune keys create</code> and <code>POST /api/admin/api_keys</code>.
      </p>
      <ErrorBox error={list.error} onRetry={() => void list.refresh()} />
      {created ? <NewKey created={created} onDone={() => setCreated(null)} /> : null}
      {list.data ? (
        <CreateForm
          call={call}
          sources={sources}
          onCreated={(key) => {
            setCreated(key);
            void list.refresh();
          }}
        />
      ) : null}
      <h2>Keys</h2>
      <ErrorBox error={actionError} />
      {list.data && list.data.keys.length === 0 ? <p className="muted">No API keys yet: create one above.</p> : null}
      {list.data && list.data.keys.length > 0 ? (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Key</th>
                <th scope="col">Sources</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col"><span className="visually-hidden">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              {list.data.keys.map((k) => (
                <tr key={k.id} data-testid="api-key-row">
                  <td><strong>{k.name}</strong></td>
                  <td className="mono small">{k.prefix}…</td>
                  <td className="small">{sourceNames(k.sources, sources)}</td>
                  <td className="small">{when(k.created_at)}</td>
                  <td className="small">{k.last_used_at ? when(k.last_used_at) : "never"}</td>
                  <td className="actions">
                    {confirming === k.id ? (
                      <span role="group" aria-label={`Confirm revoking ${k.name}`}>
                        <span className="small">Clients using it stop working at once. </span>
                        <button type="button" className="danger small" disabled={revoking === k.id} onClick={() => void revoke(k)}>
                          Yes, revoke
                        </button>
                        <button type="button" className="small" disabled={revoking === k.id} onClick={() => setConfirming(null)}>
                          Keep it
                        </button>
                      </span>
                    ) : (
                      <button type="button" className="danger small" aria-label={`Revoke ${k.name}`} onClick={() => setConfirming(k.id)}>
                        Revoke
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <section className="card" style={{ marginTop: "1.5rem" }} aria-label="Embed DocsGPT's widget" data-testid="widget-snippet">
        <h2>Embed DocsGPT&apos;s widget</h2>
        <p className="small">
          Put this in the page of your site, with a key made for that site. The widget calls this server from
          another origin, so start the server with that site in <code>CORS_ALLOWED_ORIGINS</code> (e.g.{" "}
          <code>CORS_ALLOWED_ORIGINS=https://docs.example.com</code>; several are comma-separated; <code>*</code> lets
          any site in with a key), or the browser blocks every question.
        </p>
        <pre className="mono small" style={{ overflowX: "auto", background: "#f2f4f7", padding: "0.6rem", borderRadius: "8px" }}>{widgetSnippet(window.location.origin, created?.key ?? "<your API key>")}</pre>
      </section>
    </>
  );
}
