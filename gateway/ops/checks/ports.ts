import { createServer } from 'node:net';
import { reasonOf, result, type CheckContext, type CheckResult } from './types.js';

export interface PortDeps {
  /** Resolves when `host:port` could be bound (and was released again). */
  tryListen?: (host: string, port: number) => Promise<void>;
}

export function tryListen(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve()));
  });
}

/** The ports the gateway will bind (MQTT plain/TLS/WebSocket and the admin port) are free. */
export async function checkPorts(ctx: CheckContext, deps: PortDeps = {}): Promise<CheckResult[]> {
  const { broker, admin } = ctx.loaded.config;
  const wanted: Array<{ what: string; host: string; port: number }> = [];
  if (broker) {
    if (broker.port !== false) wanted.push({ what: 'mqtt', host: broker.host, port: broker.port });
    if (broker.tls) wanted.push({ what: 'mqtt tls', host: broker.tls.host ?? broker.host, port: broker.tls.port });
    if (broker.ws) wanted.push({ what: 'mqtt websocket', host: broker.ws.host ?? broker.host, port: broker.ws.port });
  }
  wanted.push({ what: 'admin', host: admin.host, port: admin.port });
  const listen = deps.tryListen ?? tryListen;
  const out: CheckResult[] = [];
  for (const w of wanted) {
    const name = `port ${w.what}`;
    if (w.port === 0) {
      out.push(result(name, 'skip', `${w.host}:0 binds an ephemeral port`));
      continue;
    }
    try {
      await listen(w.host, w.port);
      out.push(result(name, 'ok', `${w.host}:${w.port} is free`));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE' && ctx.gatewayRunning) {
        out.push(result(name, 'ok', `${w.host}:${w.port} is held by the running gateway`));
      } else if (code === 'EADDRINUSE') {
        out.push(result(name, 'fail', `${w.host}:${w.port} is already in use`, `find the owner with \`ss -ltnp 'sport = :${w.port}'\`; if it is the running gatehouse service this is expected, otherwise stop the other broker (systemctl disable --now mosquitto) or change the port`));
      } else if (code === 'EACCES') {
        out.push(result(name, 'fail', `no permission to bind ${w.host}:${w.port}`, 'use a port >= 1024 or grant CAP_NET_BIND_SERVICE to the service'));
      } else if (code === 'EADDRNOTAVAIL') {
        out.push(result(name, 'fail', `${w.host} is not an address of this machine`, 'use 0.0.0.0, 127.0.0.1 or an address shown by `ip -br addr`'));
      } else {
        out.push(result(name, 'fail', `${w.host}:${w.port} cannot be bound: ${reasonOf(err)}`));
      }
    }
  }
  return out;
}
