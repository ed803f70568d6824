import ChatPage from "./chat/ChatPage";
import AdminPage from "./admin/AdminPage";
import { parseRoute, usePath } from "./lib/router";

export default function App() {
  const route = parseRoute(usePath());
  if (route.page === "admin") return <AdminPage section={route.section} />;
  return <ChatPage conversationId={route.conversationId} />;
}
