// Runs a generated /signalr/hubs script against a stub of the third-party jQuery SignalR client
// and prints, as JSON, what the script built and which client calls it made.
// Usage: node proxy_harness.js <script.js> [noSignalR]
"use strict";

const fs = require("fs");
const vm = require("vm");

const source = fs.readFileSync(process.argv[2], "utf8");
const withoutSignalR = process.argv[3] === "noSignalR";
const calls = [];

// Mirrors the shape of jquery.signalR.hubs.js: instances come from hubConnection(), share the
// prototype object reachable as $.hubConnection.prototype, and keep proxies by lowercased name.
function Connection(url, options) {
    this.url = url;
    this.options = options;
    this.proxies = {};
    this.startingHandlers = [];
    this.disconnectedHandlers = [];
    this.registerCount = 0;
}
Connection.prototype.starting = function (handler) {
    this.startingHandlers.push(handler);
    return this;
};
Connection.prototype.disconnected = function (handler) {
    this.disconnectedHandlers.push(handler);
    return this;
};
Connection.prototype._registerSubscribedHubs = function () {
    this.registerCount += 1;
};
Connection.prototype.createHubProxy = function (name) {
    const key = name.toLowerCase();
    if (!this.proxies[key]) {
        const proxy = {
            hubName: key,
            connection: this,
            subscriptions: [],
            on: function (event, wrapper, identity) {
                this.subscriptions.push({ event: event, wrapper: wrapper, identity: identity });
                calls.push(["on", key, event]);
                return this;
            },
            off: function (event, wrapper, identity) {
                this.subscriptions = this.subscriptions.filter((s) => !(s.event === event && s.identity === identity));
                calls.push(["off", key, event]);
                return this;
            },
            invoke: function () {
                const args = Array.prototype.slice.call(arguments);
                calls.push(["invoke", key].concat(args));
                return { promiseFor: args[0] };
            },
        };
        this.proxies[key] = proxy;
    }
    return this.proxies[key];
};

function hubConnection(url, options) {
    return new Connection(url, options);
}
hubConnection.prototype = Connection.prototype;

const $ = { hubConnection: hubConnection };
if (!withoutSignalR) {
    $.signalR = function signalR() {};
    $.connection = $.signalR;
}
const window = { jQuery: $ };
const context = vm.createContext({ window: window });

const report = {};
try {
    vm.runInContext(source, context, { filename: "hubs.js" });
} catch (error) {
    report.error = String(error && error.message);
    process.stdout.write(JSON.stringify(report));
    process.exit(0);
}

const signalR = $.signalR;
const connection = signalR.hub;
report.url = connection.url;
report.options = connection.options;
report.proxyKeys = Object.keys(signalR).filter((k) => k !== "hub" && signalR[k] && signalR[k].hubName);
report.hubNames = report.proxyKeys.map((k) => signalR[k].hubName);
report.sameAsConnectionProxies = report.proxyKeys.every((k) => connection.proxies[signalR[k].hubName] === signalR[k]);
report.servers = {};
report.clients = {};
for (const key of report.proxyKeys) {
    const server = signalR[key].server;
    report.servers[key] = Object.keys(server).map((m) => ({
        name: m,
        length: server[m].length,
        params: /^function\s*\(([^)]*)\)/.exec(server[m].toString())[1],
    }));
    report.clients[key] = JSON.parse(JSON.stringify(signalR[key].client));
}

// Server wrappers forward every actual argument after the declared name and return invoke's value.
report.invocations = [];
for (const key of report.proxyKeys) {
    const server = signalR[key].server;
    for (const m of Object.keys(server)) {
        const returned = server[m]("x", 2, { deep: [true, null] }, undefined);
        report.invocations.push({ returned: returned, call: calls[calls.length - 1] });
    }
}

// Client handlers are subscribed on "starting", with the original function as identity.
const first = signalR[report.proxyKeys[0]];
const seen = [];
function handler(a, b) {
    seen.push({ thisIsProxy: this === first, args: [a, b] });
}
first.client.broadcastMessage = handler;
first.client.notAFunction = 42;
calls.length = 0;
report.startingHandlers = connection.startingHandlers.length;
connection.startingHandlers.forEach((h) => h.call(connection));
report.afterStart = {
    calls: calls.slice(),
    registerCount: connection.registerCount,
    subscriptions: first.subscriptions.map((s) => ({
        event: s.event,
        identityIsHandler: s.identity === handler,
        markedAsProxyCallback: s.wrapper.toString().indexOf("// Call the client hub method") >= 0,
    })),
};
first.subscriptions[0].wrapper("alice", "hi");
report.handlerCalls = seen;

calls.length = 0;
connection.disconnectedHandlers.forEach((h) => h.call(connection));
report.afterDisconnect = { calls: calls.slice(), remaining: first.subscriptions.length };

// A second connection gets its own proxies.
const other = $.hubConnection("/elsewhere", { useDefaultPath: false });
const otherProxies = other.createHubProxies();
report.otherConnection = {
    keys: Object.keys(otherProxies),
    distinct: Object.keys(otherProxies).every((k) => otherProxies[k] !== signalR[k]),
    boundTo: Object.keys(otherProxies).every((k) => otherProxies[k].connection === other),
};

process.stdout.write(JSON.stringify(report));
