'use strict';
// Minimal forward proxies for tests of per-account upstream proxies.
//
//   const p = await startHttpProxy({ username, password });   // HTTP proxy: absolute-URI + CONNECT
//   const s = await startSocks5Proxy({ username, password });  // SOCKS5 (RFC 1928), user/pass (RFC 1929)
//   p.port, p.log (one entry per proxied request/connection), p.close()
//
// Without username the proxies accept anyone; with it they demand exactly those credentials
// (HTTP: 407 + Proxy-Authenticate; SOCKS5: method 0x02 and status 0x01 on a mismatch).

const http = require('node:http');
const net = require('node:net');

function track(server) {
  const sockets = new Set();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return () =>
    new Promise((r) => {
      server.close(() => r());
      for (const s of sockets) s.destroy();
    });
}

function listen(server) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: 0, host: '127.0.0.1' }, () => resolve(server.address().port));
  });
}

async function startHttpProxy({ username, password } = {}) {
  const log = [];
  const want = username ? 'Basic ' + Buffer.from(`${username}:${password || ''}`).toString('base64') : null;
  const authorized = (req) => !want || req.headers['proxy-authorization'] === want;

  const server = http.createServer((req, res) => {
    const entry = { kind: 'forward', method: req.method, url: req.url, auth: req.headers['proxy-authorization'] || null };
    log.push(entry);
    if (!authorized(req)) {
      entry.rejected = true;
      res.writeHead(407, { 'proxy-authenticate': 'Basic realm="test"', 'content-length': 0 });
      return res.end();
    }
    let target;
    try {
      target = new URL(req.url);
    } catch {
      res.writeHead(400, { 'content-length': 0 });
      return res.end();
    }
    const headers = { ...req.headers };
    delete headers['proxy-authorization'];
    delete headers['proxy-connection'];
    const up = http.request(
      { host: target.hostname, port: target.port, path: target.pathname + target.search, method: req.method, headers },
      (ur) => {
        res.writeHead(ur.statusCode, ur.headers);
        ur.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    res.on('close', () => up.destroy());
    req.pipe(up);
  });
  server.on('connect', (req, client, head) => {
    const entry = { kind: 'connect', url: req.url, auth: req.headers['proxy-authorization'] || null };
    log.push(entry);
    if (!authorized(req)) {
      entry.rejected = true;
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\nproxy-authenticate: Basic realm="test"\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    const [host, port] = req.url.split(':');
    const up = net.connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head && head.length) up.write(head);
      up.pipe(client);
      client.pipe(up);
    });
    up.on('error', () => client.destroy());
    client.on('error', () => up.destroy());
  });
  const close = track(server);
  const port = await listen(server);
  return { port, log, close };
}

// SOCKS5 server: parses the greeting, optional RFC 1929 auth and a CONNECT request
// (IPv4, domain name or IPv6 address), then splices the sockets.
async function startSocks5Proxy({ username, password } = {}) {
  const log = [];
  const server = net.createServer((client) => {
    let buf = Buffer.alloc(0);
    let stage = 'greeting';
    const entry = { kind: 'socks5', user: null, host: null, port: null, rejected: false };
    const fail = (bytes) => {
      entry.rejected = true;
      log.push(entry);
      client.end(Buffer.from(bytes));
    };
    const onData = (d) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        if (stage === 'greeting') {
          if (buf.length < 2 || buf.length < 2 + buf[1]) return;
          const methods = [...buf.subarray(2, 2 + buf[1])];
          buf = buf.subarray(2 + buf[1]);
          const method = username ? 0x02 : 0x00;
          if (!methods.includes(method)) return fail([0x05, 0xff]);
          client.write(Buffer.from([0x05, method]));
          stage = username ? 'auth' : 'request';
        } else if (stage === 'auth') {
          if (buf.length < 2) return;
          const ulen = buf[1];
          if (buf.length < 3 + ulen || buf.length < 3 + ulen + buf[2 + ulen]) return;
          const u = buf.subarray(2, 2 + ulen).toString();
          const plen = buf[2 + ulen];
          const p = buf.subarray(3 + ulen, 3 + ulen + plen).toString();
          buf = buf.subarray(3 + ulen + plen);
          entry.user = u;
          if (u !== username || p !== (password || '')) return fail([0x01, 0x01]);
          client.write(Buffer.from([0x01, 0x00]));
          stage = 'request';
        } else if (stage === 'request') {
          if (buf.length < 5) return;
          const atyp = buf[3];
          let host;
          let off;
          if (atyp === 0x01) {
            if (buf.length < 10) return;
            host = [...buf.subarray(4, 8)].join('.');
            off = 8;
          } else if (atyp === 0x03) {
            if (buf.length < 5 + buf[4] + 2) return;
            host = buf.subarray(5, 5 + buf[4]).toString();
            off = 5 + buf[4];
          } else if (atyp === 0x04) {
            if (buf.length < 22) return;
            host = buf.subarray(4, 20).toString('hex').match(/.{4}/g).join(':');
            off = 20;
          } else {
            return fail([0x05, 0x08, 0x00, 0x01, 0, 0, 0, 0, 0, 0]);
          }
          const port = buf.readUInt16BE(off);
          const rest = buf.subarray(off + 2);
          if (buf[1] !== 0x01) return fail([0x05, 0x07, 0x00, 0x01, 0, 0, 0, 0, 0, 0]);
          entry.host = host;
          entry.port = port;
          log.push(entry);
          client.removeListener('data', onData);
          const up = net.connect(port, host, () => {
            client.write(Buffer.from([0x05, 0x00, 0x00, 0x01, 127, 0, 0, 1, 0, 0]));
            if (rest.length) up.write(rest);
            up.pipe(client);
            client.pipe(up);
          });
          up.on('error', () => client.end(Buffer.from([0x05, 0x05, 0x00, 0x01, 0, 0, 0, 0, 0, 0])));
          client.on('error', () => up.destroy());
          return;
        } else {
          return;
        }
      }
    };
    client.on('data', onData);
    client.on('error', () => {});
  });
  const close = track(server);
  const port = await listen(server);
  return { port, log, close };
}

module.exports = { startHttpProxy, startSocks5Proxy };
