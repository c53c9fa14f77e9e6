// The web app: the control panel and the node's messages, for a browser logged in with
// `hyphae app` (a one-time link that sets an HttpOnly session cookie).
import { StrictMode, useEffect, useState } from "react";
import { createRoot } from "react-dom/client";

import { Api, ApiError } from "./api";
import { ControlPanel } from "./ControlPanel";
import { Messages } from "./Messages";
import { Messenger } from "./Messenger";
import "./styles.css";

function App() {
  const [api, setApi] = useState<Api | null>(null);
  const [problem, setProblem] = useState("");
  const [tab, setTab] = useState<"panel" | "messages" | "messenger">("panel");
  useEffect(() => {
    Api.connect()
      .then(setApi)
      .catch((e: unknown) =>
        setProblem(
          e instanceof ApiError && e.status === 401
            ? "Not logged in. Run `hyphae app` on the node's machine and open the link it prints."
            : String(e),
        ),
      );
  }, []);
  if (problem) return <div className="login" data-testid="login-needed">{problem}</div>;
  if (!api) return <div className="login">Connecting…</div>;
  return (
    <>
      <header>
        <h1>Hyphae</h1>
        <nav>
          <button className={tab === "panel" ? "active" : ""} onClick={() => setTab("panel")}>Control panel</button>
          <button className={tab === "messages" ? "active" : ""} onClick={() => setTab("messages")}>Messages</button>
          <button className={tab === "messenger" ? "active" : ""} onClick={() => setTab("messenger")}>Rooms</button>
        </nav>
        <button
          className="logout"
          onClick={() => {
            void api.post("/v1/app/logout", {}).finally(() => location.reload());
          }}
        >
          Log out
        </button>
      </header>
      {tab === "panel" && <ControlPanel api={api} />}
      {tab === "messages" && <Messages api={api} />}
      {tab === "messenger" && <Messenger api={api} />}
    </>
  );
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
