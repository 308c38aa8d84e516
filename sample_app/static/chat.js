// The sample chat page: one HubConnection to the "chat" hub; re-created when the protocol changes.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const joined = new Set();
  let connection = null;

  function show(kind, text) {
    const item = document.createElement("li");
    item.className = kind;
    item.textContent = text;
    $("messages").appendChild(item);
  }

  function setStatus(state) {
    $("status").textContent = state;
    $("status").dataset.state = state;
  }

  function name() {
    return $("name").value.trim() || "anonymous";
  }

  async function run(action) {
    try {
      await action();
    } catch (error) {
      show("error", error.message || String(error));
    }
  }

  function build() {
    const builder = new signalR.HubConnectionBuilder()
      .withUrl("/chat")
      .withAutomaticReconnect()
      .configureLogging(signalR.LogLevel.Warning);
    if ($("msgpack").checked) {
      builder.withHubProtocol(new signalR.protocols.msgpack.MessagePackHubProtocol());
    }
    const hub = builder.build();
    hub.on("broadcastMessage", (sender, message) => show("broadcast", `${sender}: ${message}`));
    hub.on("groupMessage", (group, sender, message) => show("group", `[${group}] ${sender}: ${message}`));
    hub.on("privateMessage", (sender, message) => show("private", `${sender || "anonymous"} (private): ${message}`));
    hub.on("answer", (question) => `${name()} read "${question}"`);
    hub.onreconnecting(() => setStatus("reconnecting"));
    hub.onreconnected(() => run(async () => {
      joined.clear();
      $("joined").textContent = "";
      await describe(hub);
    }));
    hub.onclose(() => setStatus("disconnected"));
    return hub;
  }

  async function describe(hub) {
    const me = await hub.invoke("whoami");
    $("me").textContent = me.userId ? `${me.userId} (${me.connectionId})` : `anonymous (${me.connectionId})`;
    $("protocol").textContent = $("msgpack").checked ? "messagepack" : "json";
    setStatus("connected");
  }

  async function connect() {
    if (connection) {
      await connection.stop();
    }
    joined.clear();
    $("joined").textContent = "";
    connection = build();
    setStatus("connecting");
    await connection.start();
    await describe(connection);
  }

  function requireText(id) {
    const value = $(id).value.trim();
    if (!value) {
      $(id).focus();
      throw new Error(`${id.replace("-", " ")} is empty`);
    }
    return value;
  }

  $("broadcast").addEventListener("click", () => run(async () => {
    await connection.invoke("broadcastMessage", name(), requireText("message"));
    $("message").value = "";
  }));

  $("join").addEventListener("click", () => run(async () => {
    const group = requireText("group");
    await connection.invoke("joinGroup", group);
    joined.add(group);
    $("joined").textContent = [...joined].join(", ");
  }));

  $("leave").addEventListener("click", () => run(async () => {
    const group = requireText("group");
    await connection.invoke("leaveGroup", group);
    joined.delete(group);
    $("joined").textContent = [...joined].join(", ");
  }));

  $("send-group").addEventListener("click", () => run(async () => {
    await connection.invoke("sendToGroup", requireText("group"), name(), requireText("message"));
    $("message").value = "";
  }));

  $("send-private").addEventListener("click", () => run(async () => {
    const to = requireText("to-user");
    const message = requireText("message");
    await connection.invoke("sendToUser", to, message);
    show("sent", `to ${to} (private): ${message}`);
    $("message").value = "";
  }));

  $("msgpack").addEventListener("change", () => run(connect));

  run(connect);
})();
