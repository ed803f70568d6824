import { useMemo, useState } from "react";
import { errorText } from "../lib/api";
import { ADMIN_SECTIONS, navigate, type AdminSection } from "../lib/router";
import ApiKeys from "./ApiKeys";
import Documents from "./Documents";
import Evaluate from "./Evaluate";
import FeedbackPage from "./FeedbackPage";
import Jobs from "./Jobs";
import Models from "./Models";
import Workbench from "./Workbench";
import { adminCaller, adminSession, checkToken } from "./session";

const TITLES: Record<AdminSection, string> = {
  documents: "Documents", feedback: "Feedback", models: "Models", evaluate: "Evaluate", workbench: "Workbench", jobs: "Jobs", "api-keys": "API keys",
};

function Login({ onLogin }: { onLogin: (token: string) => void }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <main className="login">
      <form
        className="card"
        onSubmit={async (event) => {
          event.preventDefault();
          setBusy(true);
          setError(null);
          try {
            await checkToken(token.trim());
            onLogin(token.trim());
          } catch (err) {
            setError(errorText(err));
          } finally {
            setBusy(false);
          }
        }}
      >
        <h1>DocsTune admin</h1>
        <p className="muted small">
          The admin token is in <code>DATA_DIR/admin_token</code> (or <code>ADMIN_TOKEN</code>). It is kept for this
          browser tab only.
        </p>
        <label htmlFor="admin-token">Admin token</label>
        <input id="admin-token" type="password" autoComplete="current-password" autoFocus value={token} onChange={(e) => setToken(e.target.value)} />
        {error ? <p className="error-inline" role="alert">{error}</p> : null}
        <button type="submit" className="primary" disabled={!token.trim() || busy}>
          Sign in
        </button>
        <a href="/" onClick={(event) => { event.preventDefault(); navigate("/"); }}>Back to the chat</a>
      </form>
    </main>
  );
}

export default function AdminPage({ section }: { section: AdminSection }) {
  const [token, setToken] = useState<string | null>(adminSession.get());
  const logout = () => {
    adminSession.clear();
    setToken(null);
  };
  const call = useMemo(() => (token ? adminCaller(token, logout) : null), [token]);
  if (!token || !call) {
    return (
      <Login
        onLogin={(value) => {
          adminSession.set(value);
          setToken(value);
        }}
      />
    );
  }
  return (
    <div className="admin-layout">
      <header className="topbar">
        <a className="brand" href="/" onClick={(event) => { event.preventDefault(); navigate("/"); }}>
          DocsTune
        </a>
        <nav className="tabs" aria-label="Admin sections">
          {ADMIN_SECTIONS.map((name) => (
            <a
              key={name}
              href={`/admin/${name}`}
              aria-current={name === section ? "page" : undefined}
              onClick={(event) => {
                event.preventDefault();
                navigate(`/admin/${name}`);
              }}
            >
              {TITLES[name]}
            </a>
          ))}
        </nav>
        <button type="button" className="link" onClick={logout}>
          Sign out
        </button>
      </header>
      <main className="admin-main">
        <h1>{TITLES[section]}</h1>
        {section === "documents" ? <Documents call={call} token={token} /> : null}
        {section === "feedback" ? <FeedbackPage call={call} token={token} /> : null}
        {section === "models" ? <Models call={call} token={token} /> : null}
        {section === "evaluate" ? <Evaluate call={call} token={token} /> : null}
        {section === "workbench" ? <Workbench call={call} /> : null}
        {section === "jobs" ? <Jobs call={call} /> : null}
        {section === "api-keys" ? <ApiKeys call={call} /> : null}
      </main>
    </div>
  );
}
