// Drives one @microsoft/signalr HubConnection for pytest (tests/fixtures/node_client.py).
//
// Input: one JSON command per line on stdin. Output: one JSON event per line on stdout.
// Values cross as JSON; bytes travel as {"$bytes": "<base64>"} both ways, dates arrive as {"$date": "<iso>"},
// 64-bit integers as {"$bigint": "<decimal>"}. Every command may carry an "id"; its outcome is reported as
// {"event": "result", "id", "value"} (only when an id was given; connect answers "started", stream answers
// "streamItem"/"streamComplete"/"streamError") or {"event": "error", "id", "message"} with the client's own message.
// When stdin closes the connection is stopped and the process exits.

import readline from "node:readline";
import signalR from "@microsoft/signalr";
import msgpack from "@microsoft/signalr-protocol-msgpack";

const TRANSPORTS = {
  webSockets: signalR.HttpTransportType.WebSockets,
  serverSentEvents: signalR.HttpTransportType.ServerSentEvents,
  longPolling: signalR.HttpTransportType.LongPolling,
};

let connection = null;
const handlers = new Map(); // method -> {result?, error?}, applied to every connection built

function emit(event) {
  process.stdout.write(JSON.stringify(event) + "\n");
}

function toJson(value) {
  if (value === undefined || value === null) return null;
  if (value instanceof Uint8Array) return { $bytes: Buffer.from(value).toString("base64") };
  if (value instanceof ArrayBuffer) return { $bytes: Buffer.from(value).toString("base64") };
  if (value instanceof Date) return { $date: value.toISOString() };
  if (typeof value === "bigint") return { $bigint: value.toString() };
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), toJson(v)]));
  if (Array.isArray(value)) return value.map(toJson);
  if (typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJson(v)]));
  return value;
}

function fromJson(value) {
  if (Array.isArray(value)) return value.map(fromJson);
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === "$bytes") return new Uint8Array(Buffer.from(value.$bytes, "base64"));
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fromJson(v)]));
  }
  return value;
}

function messageOf(error) {
  if (error === undefined || error === null) return null;
  return error instanceof Error ? error.message : String(error);
}

const LEVELS = { trace: 0, debug: 1, information: 2, warning: 3, error: 4, critical: 5, none: 6 };

class LineLogger {
  constructor(minimum) {
    this.minimum = minimum;
  }

  log(level, message) {
    if (level >= this.minimum) emit({ event: "log", level: signalR.LogLevel[level], message: String(message) });
  }
}

function register(method, spec) {
  connection.on(method, (...args) => {
    emit({ event: "message", method, args: toJson(args) });
    if (spec.error !== undefined) throw new Error(spec.error);
    return spec.result === undefined ? undefined : fromJson(spec.result);
  });
}

function build(command) {
  const transport = TRANSPORTS[command.transport ?? "webSockets"];
  if (transport === undefined) throw new Error(`unknown transport ${command.transport}`);
  const level = LEVELS[(command.logLevel ?? "warning").toLowerCase()];
  if (level === undefined) throw new Error(`unknown log level ${command.logLevel}`);
  const options = {
    transport,
    headers: command.headers ?? {},
    skipNegotiation: Boolean(command.skipNegotiation),
    logger: new LineLogger(level),
  };
  if (command.accessToken) options.accessTokenFactory = () => command.accessToken;
  let builder = new signalR.HubConnectionBuilder().withUrl(command.url, options).configureLogging(options.logger);
  if ((command.protocol ?? "json") === "messagepack") builder = builder.withHubProtocol(new msgpack.MessagePackHubProtocol());
  else if (command.protocol !== "json") throw new Error(`unknown protocol ${command.protocol}`);
  if (Array.isArray(command.automaticReconnect)) builder = builder.withAutomaticReconnect(command.automaticReconnect);
  else if (command.automaticReconnect) builder = builder.withAutomaticReconnect();
  if (command.serverTimeoutMs) builder = builder.withServerTimeout(command.serverTimeoutMs);
  if (command.keepAliveMs) builder = builder.withKeepAliveInterval(command.keepAliveMs);
  const built = builder.build();
  built.onclose((error) => emit({ event: "closed", error: messageOf(error) }));
  built.onreconnecting((error) => emit({ event: "reconnecting", error: messageOf(error) }));
  built.onreconnected((connectionId) => emit({ event: "reconnected", connectionId: connectionId ?? null }));
  return built;
}

function requireConnection() {
  if (connection === null) throw new Error("no connection: send a connect command first");
  return connection;
}

function stream(command) {
  const take = command.take ?? null;
  let count = 0;
  let subscription = null;
  let finished = false;
  subscription = requireConnection()
    .stream(command.method, ...fromJson(command.args ?? []))
    .subscribe({
      next: (item) => {
        if (finished) return;
        emit({ event: "streamItem", id: command.id, item: toJson(item) });
        count += 1;
        if (take !== null && count >= take) {
          finished = true;
          // dispose() may run before subscribe() has returned: defer it to the next turn.
          setImmediate(() => subscription.dispose());
          emit({ event: "streamComplete", id: command.id, disposed: true });
        }
      },
      error: (error) => {
        if (finished) return;
        finished = true;
        emit({ event: "streamError", id: command.id, message: messageOf(error) });
      },
      complete: () => {
        if (finished) return;
        finished = true;
        emit({ event: "streamComplete", id: command.id, disposed: false });
      },
    });
}

async function upload(command) {
  const subject = new signalR.Subject();
  const pending = requireConnection().invoke(command.method, ...fromJson(command.args ?? []), subject);
  for (const item of command.items ?? []) subject.next(fromJson(item));
  subject.complete();
  return pending;
}

async function run(command) {
  switch (command.cmd) {
    case "connect":
      if (connection !== null) throw new Error("already connected: one connection per driver");
      connection = build(command);
      for (const [method, spec] of handlers) register(method, spec);
      try {
        await connection.start();
      } catch (error) {
        connection = null;
        throw error;
      }
      emit({ event: "started", id: command.id ?? null, connectionId: connection.connectionId ?? null });
      return undefined;
    case "invoke":
      return requireConnection().invoke(command.method, ...fromJson(command.args ?? []));
    case "send":
      return requireConnection().send(command.method, ...fromJson(command.args ?? []));
    case "stream":
      stream(command);
      return undefined;
    case "upload":
      return upload(command);
    case "on": {
      const spec = { result: command.result, error: command.error };
      if (connection !== null) connection.off(command.method);
      handlers.set(command.method, spec);
      if (connection !== null) register(command.method, spec);
      return undefined;
    }
    case "stop":
      if (connection !== null) await connection.stop();
      return undefined;
    default:
      throw new Error(`unknown command ${JSON.stringify(command.cmd)}`);
  }
}

async function handle(line) {
  if (!line.trim()) return;
  let command;
  try {
    command = JSON.parse(line);
  } catch (error) {
    emit({ event: "error", id: null, message: `bad command line: ${messageOf(error)}` });
    return;
  }
  const id = command.id ?? null;
  try {
    const value = await run(command);
    if (id !== null && command.cmd !== "connect" && command.cmd !== "stream") emit({ event: "result", id, value: toJson(value) });
  } catch (error) {
    emit({ event: "error", id, cmd: command.cmd ?? null, message: messageOf(error) });
  }
}

process.on("unhandledRejection", (reason) => emit({ event: "log", level: "Error", message: `unhandled: ${messageOf(reason)}` }));

const input = readline.createInterface({ input: process.stdin, terminal: false });
input.on("line", (line) => {
  handle(line);
});
input.on("close", async () => {
  const stopping = connection === null ? Promise.resolve() : connection.stop().catch(() => undefined);
  await Promise.race([stopping, new Promise((resolve) => setTimeout(resolve, 3000))]);
  process.exit(0);
});
emit({ event: "ready", node: process.version });
