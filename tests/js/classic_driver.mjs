// Drives one node-signalr client (a classic ASP.NET SignalR 2.x client, WebSockets only) for pytest.
//
// Usage: node classic_driver.mjs <service url .../aspnetclient> <access token> <hub> <redirect query> <method>...
// node-signalr does not follow a negotiate RedirectUrl, so pytest negotiates with the app and points the
// client straight at the service with the token. Every call of the listed client methods is printed as
// {"event": "message", "method", "args"}; "connected"/"disconnected"/"error" are printed as they happen.
// Commands, one JSON object per stdin line: {"id", "call": method, "args": [...]} answers
// {"event": "result", "id", "value"} or {"event": "error", "id", "message"}. Closing stdin ends the client.

import readline from "node:readline";
import { Client } from "node-signalr";

const [url, token, hub, redirectQuery, ...methods] = process.argv.slice(2);

function emit(event) {
  process.stdout.write(JSON.stringify(event) + "\n");
}

const client = new Client(url, [hub]);
client.headers.Authorization = `Bearer ${token}`;
client.qs = Object.fromEntries(new URLSearchParams(redirectQuery));
client.callTimeout = 10000;
client.reconnectDelayTime = 1000;
client.on("connected", () => emit({ event: "connected", id: client.connection.id }));
client.on("disconnected", (reason) => emit({ event: "disconnected", reason }));
client.on("error", (error) => emit({ event: "error", message: String(error.message || error) }));
for (const method of methods) {
  client.connection.hub.on(hub, method, (...args) => emit({ event: "message", method, args }));
}

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  const command = JSON.parse(line);
  client.connection.hub
    .call(hub, command.call, ...command.args)
    .then((value) => emit({ event: "result", id: command.id, value: value === undefined ? null : value }))
    .catch((error) => emit({ event: "error", id: command.id, message: String(error) }));
}).on("close", () => {
  client.end();
  setTimeout(() => process.exit(0), 200);
});

client.start();
