#!/usr/bin/env node
/* node-rtpmidi (npm rtpmidi@1.0.0, installed in spec/peers/node_modules) for
 * the comparison rows of bench/run.sh.
 *
 *   node node_rtpmidi.js echo       <port> [idle_s] [timeout_s]
 *   node node_rtpmidi.js latency    <port> <peer_port> <round_trips> <warmup> [timeout_s]
 *   node node_rtpmidi.js throughput <port_a> <port_b> <messages> <window> [timeout_s]
 *
 * Ports are control ports; the data port is one more. node-rtpmidi answers
 * from its control socket only when the remote port is even, so use even
 * ports (spec/peers/README.md).
 * echo: waits for an invitation and sends every MIDI message back; exits when
 *   the peer sends BY, when idle for idle_s after the first message, or after
 *   timeout_s.
 * latency: invites <peer_port> (an echo side: this script's, or
 *   bench/lua_apple.lua echo), then a ping-pong of pitch bends whose 14-bit
 *   value is the probe's id; one BENCH line with the one-way latency (RTT/2).
 * throughput: one process, session A invites session B; every message B
 *   receives lets A send one more, at most <window> in flight; one message
 *   per packet (node-rtpmidi sends each sendMessage as one packet).
 *
 * node-rtpmidi drops outgoing MIDI until it has run a CK exchange of its own;
 * the sides here queue until then. Stock node-rtpmidi starts a new CK
 * exchange on every CK count 2 it receives, so two of them exchange CK
 * forever; ckGuard() below lets a stream start one only until it has its
 * first measurement. Every process stops by itself (counts, timeouts).
 * When BENCH_DAT_DIR is set the latency samples (µs, one way) are appended
 * to $BENCH_DAT_DIR/<name>.dat. */
'use strict';

const fs = require('fs');
const path = require('path');

module.paths.unshift(path.join(__dirname, '..', 'spec', 'peers', 'node_modules'));

function line(kind, name, fields) {
  const out = [`BENCH kind=${kind} name=${name}`];
  Object.keys(fields).forEach((k) => {
    let v = fields[k];
    if (typeof v === 'number') v = Number.isInteger(v) ? String(v) : v.toFixed(3);
    else {
      v = String(v);
      if (/[\s"]/.test(v)) v = `"${v.replace(/"/g, "'")}"`;
    }
    out.push(`${k}=${v}`);
  });
  process.stdout.write(`${out.join(' ')}\n`);
}

let lib;
try {
  /* node-rtpmidi logs through winston (to stdout by default): silence it
   * before the rest loads. */
  const logger = require('rtpmidi/src/logger');
  logger.clear();
  logger.silent = true;
  lib = require('rtpmidi');
} catch (e) {
  lib = null;
}

const [mode, ...rest] = process.argv.slice(2);
const num = (i, d) => (rest[i] === undefined ? d : Number(rest[i]));

function unavailable(kind, name) {
  line(kind, name, { status: 'not available', why: 'node-rtpmidi is not installed (cd spec/peers && npm install --omit=optional --ignore-scripts --no-package-lock)' });
  process.exit(0);
}

/* A stream may start a CK exchange on an incoming count 2 only while it has
 * no measurement of its own yet. */
function ckGuard() {
  const proto = lib.Stream.prototype;
  const sync = proto.sendSynchronization;
  proto.sendSynchronization = function guarded(incoming) {
    if (incoming && incoming.count === 2 && this.latency !== null && this.timeDifference !== null) return undefined;
    return sync.call(this, incoming);
  };
}

const canSend = s => s.isConnected && s.latency !== null && s.timeDifference !== null;

function session(port, name) {
  const s = new lib.Session(port, name, name, undefined, false, 4);
  s.on('error', (e) => {
    process.stderr.write(`node_rtpmidi: ${name}: ${e && e.message ? e.message : e}\n`);
    process.exit(3);
  });
  return s;
}

/* Sends data on stream now, or once its CK exchange is done. */
function sender(sess) {
  const pending = new Map();
  const send = (stream, data) => {
    if (canSend(stream)) {
      stream.sendMessage({ timestamp: sess.now(), commands: [{ deltaTime: 0, data }] });
      return;
    }
    if (!pending.has(stream)) pending.set(stream, []);
    pending.get(stream).push(data);
  };
  send.flush = () => pending.forEach((list, stream) => {
    if (!canSend(stream)) return;
    pending.delete(stream);
    list.forEach(d => send(stream, d));
  });
  return send;
}

const nowNs = () => process.hrtime.bigint();
const probeMsg = id => Buffer.from([0xe0, id & 0x7f, (id >> 7) & 0x7f]);

function writeDat(name, rttUs) {
  const dir = process.env.BENCH_DAT_DIR;
  if (!dir) return;
  try {
    fs.appendFileSync(path.join(dir, `${name}.dat`), rttUs.map(v => (v / 2).toFixed(3)).join('\n') + '\n');
  } catch (e) { /* the plot goes without it */ }
}

function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  const k = Math.min(sorted.length, Math.max(1, Math.ceil(p * sorted.length)));
  return sorted[k - 1];
}

function stopAll(sessions, code) {
  let left = sessions.length;
  const done = () => { left -= 1; if (left <= 0) process.exit(code); };
  setTimeout(() => process.exit(code), 1000).unref();
  sessions.forEach((s) => { try { s.end(done); } catch (e) { done(); } });
}

if (mode === 'echo') {
  if (!lib) process.exit(0);
  ckGuard();
  const port = num(0), idleS = num(1, 5), timeoutS = num(2, 60);
  const sess = session(port, 'node echo');
  const send = sender(sess);
  let echoed = 0, atLastTick = -1;
  const watch = (stream) => {
    if (stream.benchWatched) return;
    stream.benchWatched = true;
    stream.on('control-message', (msg) => {
      if (msg.command === 'end') stopAll([sess], 0);
      send.flush();
    });
    stream.on('message', (t, data) => { echoed += 1; send(stream, Buffer.from(data)); });
  };
  sess.on('controlMessage', () => setImmediate(() => sess.streams.forEach(watch)));
  sess.on('streamAdded', ({ stream }) => watch(stream));
  sess.on('streamRemoved', () => stopAll([sess], 0));
  setInterval(() => {
    if (echoed > 0 && echoed === atLastTick) {
      process.stderr.write(`node_rtpmidi echo: idle for ${idleS} s after ${echoed} messages, stopping\n`);
      stopAll([sess], 0);
    }
    atLastTick = echoed;
  }, idleS * 1000);
  setTimeout(() => stopAll([sess], 0), timeoutS * 1000).unref();
  sess.start();
} else if (mode === 'latency') {
  const name = 'node_rtpmidi';
  if (!lib) unavailable('latency', name);
  ckGuard();
  const port = num(0), peer = num(1), n = num(2, 20000), warmup = num(3, 2000), timeoutS = num(4, 20);
  const sess = session(port, 'node latency');
  const rtt = [];
  let id = 0, sentAt = 0n, expect = -1, measuring = false, seen = 0, lost = 0, stream = null, finished = false;
  const probe = () => {
    id = (id + 1) & 0x3fff;
    expect = id;
    sentAt = nowNs();
    stream.sendMessage({ timestamp: sess.now(), commands: [{ deltaTime: 0, data: probeMsg(id) }] });
  };
  const finish = (why) => {
    if (finished) return;
    finished = true;
    if (!measuring) {
      line('latency', name, { status: 'failed', why: why || 'echo side never answered' });
      stopAll([sess], 1);
      return;
    }
    writeDat(name, rtt);
    rtt.sort((a, b) => a - b);
    line('latency', name, {
      what: 'node-rtpmidi to node-rtpmidi (CK guard), 2 processes', n: rtt.length, lost,
      p50_us: percentile(rtt, 0.5) / 2, p99_us: percentile(rtt, 0.99) / 2,
      max_us: (rtt[rtt.length - 1] || NaN) / 2, status: rtt.length >= n ? 'ok' : 'timeout',
    });
    stopAll([sess], rtt.length >= n ? 0 : 1);
  };
  sess.on('ready', () => {
    sess.connect({ address: '127.0.0.1', port: peer });
    [stream] = sess.streams;
    stream.on('message', (t, data) => {
      const now = nowNs();
      if (data.length !== 3 || data[0] !== 0xe0 || (data[1] | (data[2] << 7)) !== expect || finished) return;
      if (!measuring) measuring = true;
      else {
        seen += 1;
        if (seen > warmup) rtt.push(Number(now - sentAt) / 1000);
      }
      if (rtt.length >= n) finish();
      else probe();
    });
  });
  const started = nowNs();
  setInterval(() => {
    if (finished) return;
    if (Number(nowNs() - started) > timeoutS * 1e9) { finish('timeout'); return; }
    if (!stream || !canSend(stream)) return;
    if (!measuring || Number(nowNs() - sentAt) > 1e9) {
      if (measuring) lost += 1;
      probe();
    }
  }, 50);
  sess.start();
} else if (mode === 'throughput') {
  const name = 'node_rtpmidi_1proc';
  if (!lib) unavailable('midi_throughput', name);
  ckGuard();
  const portA = num(0), portB = num(1), total = num(2, 200000), windowN = num(3, 256), timeoutS = num(4, 20);
  const a = session(portA, 'node A');
  const b = session(portB, 'node B');
  let sent = 0, received = 0, t0 = null, c0 = null, tLast = null, cLast = null, streamA = null, finished = false;
  const ON = Buffer.from([0x90, 0x3c, 0x64]), OFF = Buffer.from([0x80, 0x3c, 0x40]);
  const sendOne = () => {
    sent += 1;
    streamA.sendMessage({ timestamp: a.now(), commands: [{ deltaTime: 0, data: sent & 1 ? ON : OFF }] });
  };
  const finish = () => {
    if (finished) return;
    finished = true;
    if (t0 === null) {
      line('midi_throughput', name, { status: 'failed', why: 'stream never synced' });
      stopAll([a, b], 1);
      return;
    }
    /* up to the last message (a loss stalls the window until the idle check) */
    const secs = Number((tLast || nowNs()) - t0) / 1e9;
    const cu = cLast || process.cpuUsage(c0);
    const cpu = (cu.user + cu.system) / 1e6;
    line('midi_throughput', name, {
      what: `node-rtpmidi, JS callbacks, 1 process, 1 message per packet, window ${windowN}`, messages: received,
      lost: sent - received, packets: received, msgs_per_packet: 1, seconds: secs,
      msgs_per_s: Math.round(received / secs), pps: Math.round(received / secs),
      cpu_s_per_mmsg: cpu / (received / 1e6), status: received === total ? 'ok' : 'incomplete',
    });
    stopAll([a, b], received === total ? 0 : 1);
  };
  const watchB = (stream) => {
    if (stream.benchWatched) return;
    stream.benchWatched = true;
    stream.on('message', () => {
      received += 1;
      if ((received & 255) === 0 || received + windowN >= total) { tLast = nowNs(); cLast = process.cpuUsage(c0); }
      if (sent < total) sendOne();
      else if (received === total) finish();
    });
  };
  b.on('controlMessage', () => setImmediate(() => b.streams.forEach(watchB)));
  b.on('streamAdded', ({ stream }) => watchB(stream));
  let ready = 0;
  const onReady = () => {
    ready += 1;
    if (ready < 2) return;   // 'ready': both sockets of a session bound
    a.connect({ address: '127.0.0.1', port: portB });
    [streamA] = a.streams;
  };
  a.on('ready', onReady);
  b.on('ready', onReady);
  const started = nowNs();
  let last = -1, lastChange = nowNs();
  setInterval(() => {
    if (finished) return;
    const now = nowNs();
    if (received !== last) { last = received; lastChange = now; }
    if (Number(now - started) > timeoutS * 1e9 || (t0 !== null && Number(now - lastChange) > 0.5e9)) { finish(); return; }
    if (t0 === null && streamA && canSend(streamA)) {
      t0 = nowNs();
      c0 = process.cpuUsage();
      while (sent < windowN && sent < total) sendOne();
    }
  }, 20);
  a.start();
  b.start();
} else {
  process.stderr.write('usage: node node_rtpmidi.js echo|latency|throughput ... (see the top of the file)\n');
  process.exit(2);
}
