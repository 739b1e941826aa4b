#!/usr/bin/node
// Test helper, run inside a network namespace: listens on 127.0.0.1 (port 0, printed on stdout)
// and forwards every connection to the unix socket given as the only argument. Unix sockets are
// reachable across network namespaces, so a server in the test's own namespace (the fake API
// server) becomes reachable on loopback inside the test's "host" namespace. Exits when stdin closes.
const net = require("node:net");
const target = process.argv[2];
const server = net.createServer((client) => {
  const upstream = net.connect(target);
  client.pipe(upstream).pipe(client);
  client.on("error", () => upstream.destroy());
  upstream.on("error", () => client.destroy());
});
server.listen(0, "127.0.0.1", () => process.stdout.write(`${server.address().port}\n`));
process.stdin.on("end", () => process.exit(0));
process.stdin.on("close", () => process.exit(0));
process.stdin.resume();
