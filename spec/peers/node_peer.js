#!/usr/bin/env node
/* Test peer around node-rtpmidi 1.0.0 for interop specs.
 *
 * node node_peer.js --port P [--invite HOST:PORT] [--name N] [--echo]
 *                   [--send-hex HEX --count N --interval MS] [--timeout S]
 *                   [--verbose] [--ck-guard]
 *
 * Binds UDP P (control) and P+1 (data), no mDNS. Without --invite it waits
 * for an invitation; with --invite it invites HOST:PORT (the remote control
 * port; use an even port, see README). Prints one JSON object per line on
 * stdout. node-rtpmidi's own log goes to stderr with --verbose, else nowhere.
 * Exits on SIGTERM/SIGINT, when stdin (if a pipe, socket or tty) closes, and
 * after --timeout seconds (default 60); it sends BY to connected peers first.
 */
'use strict';

const fs = require('fs');
const tty = require('tty');

function emit(obj) {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

function usage(msg) {
  if (msg) process.stderr.write(`node_peer: ${msg}\n`);
  process.stderr.write('usage: node node_peer.js --port P [--invite HOST:PORT] [--name N] [--echo]\n'
    + '         [--send-hex HEX --count N --interval MS] [--timeout S] [--verbose] [--ck-guard]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const o = {
    port: null, invite: null, name: 'node-peer', echo: false, sendHex: null,
    count: 1, interval: 100, timeout: 60, verbose: false, ckGuard: false,
  };
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i];
    const val = () => {
      i += 1;
      if (i >= argv.length) usage(`${a} needs a value`);
      return argv[i];
    };
    switch (a) {
      case '--port': o.port = parseInt(val(), 10); break;
      case '--invite': o.invite = val(); break;
      case '--name': o.name = val(); break;
      case '--echo': o.echo = true; break;
      case '--send-hex': o.sendHex = val(); break;
      case '--count': o.count = parseInt(val(), 10); break;
      case '--interval': o.interval = parseInt(val(), 10); break;
      case '--timeout': o.timeout = parseFloat(val()); break;
      case '--verbose': o.verbose = true; break;
      case '--ck-guard': o.ckGuard = true; break;
      case '-h': case '--help': usage(); break;
      default: usage(`unknown argument ${a}`);
    }
  }
  if (!Number.isInteger(o.port) || o.port <= 0 || o.port > 65534) usage('--port P required (1..65534)');
  if (o.invite) {
    const m = /^(.*):(\d+)$/.exec(o.invite);
    if (!m) usage('--invite wants HOST:PORT');
    o.invite = { address: m[1], port: parseInt(m[2], 10) };
  }
  if (o.sendHex !== null) {
    const hex = o.sendHex.replace(/[\s:]/g, '');
    if (!/^([0-9a-fA-F]{2})+$/.test(hex)) usage('--send-hex wants hex octets, e.g. 903c64');
    o.sendBytes = Buffer.from(hex, 'hex');
  }
  if (!Number.isInteger(o.count) || o.count < 1) usage('--count wants a positive integer');
  if (!Number.isInteger(o.interval) || o.interval < 0) usage('--interval wants milliseconds');
  if (!(o.timeout > 0)) usage('--timeout wants seconds > 0');
  return o;
}

const opts = parseArgs(process.argv.slice(2));

/* Configure node-rtpmidi's winston logger before the rest of the library is
 * loaded (loading it logs "mDNS discovery is not available" to stdout). */
const logger = require('rtpmidi/src/logger');
const winston = require('winston');

logger.clear();
if (opts.verbose) {
  logger.add(new winston.transports.Console({ stderrLevels: Object.keys(logger.levels) }));
  logger.level = 'verbose';
} else {
  logger.silent = true;
}
const { Session, Stream } = require('rtpmidi');

/* node-rtpmidi answers every incoming CK count 2 by starting a new CK
 * exchange of its own. Between two node-rtpmidi peers that never ends (a CK
 * storm that also multiplies with each periodic sync). --ck-guard lets only
 * the first count 2 start an exchange (the one node-rtpmidi needs before it
 * will send MIDI); later ones are ignored. Off by default = stock behaviour. */
if (opts.ckGuard) {
  const origSync = Stream.prototype.sendSynchronization;
  Stream.prototype.sendSynchronization = function guardedSync(incoming) {
    if (incoming && incoming.count === 2 && this.latency !== null && this.timeDifference !== null) {
      return undefined;
    }
    return origSync.call(this, incoming);
  };
}

/* node-rtpmidi keeps the name's terminating NUL (toString from offset 16). */
const cleanName = n => String(n || '').replace(/\0+$/, '');
const hex = buf => Array.from(buf, b => b.toString(16).padStart(2, '0')).join(' ');

/* SSRC: random 32-bit, as node-rtpmidi would choose. */
const session = new Session(opts.port, opts.name, opts.name, undefined, false, 4);
const pending = new Map(); // stream -> [Buffer] waiting for the stream's CK exchange
let exiting = false;

function canSend(stream) {
  /* node-rtpmidi drops outgoing MIDI until its own CK exchange (as initiator
   * of the exchange) has set latency and timeDifference. */
  return stream.isConnected && stream.latency !== null && stream.timeDifference !== null;
}

function sendTo(stream, data) {
  stream.sendMessage({ timestamp: session.now(), commands: [{ deltaTime: 0, data }] });
  emit({ event: 'sent', bytes: hex(data), ssrc: stream.ssrc });
}

function queueTo(stream, data) {
  if (canSend(stream)) {
    sendTo(stream, data);
  } else {
    if (!pending.has(stream)) pending.set(stream, []);
    pending.get(stream).push(data);
  }
}

function flushPending() {
  pending.forEach((list, stream) => {
    if (canSend(stream)) {
      pending.delete(stream);
      list.forEach(d => sendTo(stream, d));
    }
  });
}

let sendStarted = false;
function startSending(stream) {
  if (!opts.sendBytes || sendStarted) return;
  sendStarted = true;
  let n = 0;
  const tick = () => {
    if (exiting) return;
    queueTo(stream, Buffer.from(opts.sendBytes));
    n += 1;
    if (n < opts.count) setTimeout(tick, opts.interval);
  };
  tick();
}

function watchStream(stream) {
  if (stream.__peerWatched) return;
  stream.__peerWatched = true;
  let synced = false;
  stream.on('control-message', (msg) => {
    switch (msg.command) {
      case 'synchronization':
        emit({ event: 'ck', count: msg.count, ssrc: msg.ssrc });
        break;
      case 'receiver_feedback':
        emit({ event: 'rs', seq: msg.sequenceNumber, ssrc: msg.ssrc });
        break;
      case 'end':
        emit({ event: 'bye', name: cleanName(stream.name), ssrc: stream.ssrc });
        break;
      case 'invitation_rejected':
        emit({ event: 'rejected', ssrc: msg.ssrc });
        break;
      default:
        break;
    }
    if (!synced && canSend(stream)) {
      synced = true;
      emit({
        event: 'synced', ssrc: stream.ssrc, latency: stream.latency, offset: stream.timeDifference,
      });
      startSending(stream);
    }
    flushPending();
  });
  stream.on('message', (time, data) => {
    emit({ event: 'midi', bytes: hex(data), ssrc: stream.ssrc });
    if (opts.echo) queueTo(stream, Buffer.from(data));
  });
}

session.on('error', (err) => {
  emit({ event: 'error', message: String(err && err.message ? err.message : err) });
  shutdown('error', 1);
});

session.on('ready', () => {
  emit({
    event: 'ready', port: opts.port, ssrc: session.ssrc, name: opts.name,
  });
  if (opts.invite) {
    emit({ event: 'inviting', address: opts.invite.address, port: opts.invite.port });
    session.connect(opts.invite);
    /* session.connect() creates the stream; watch it before any reply. */
    session.streams.forEach(watchStream);
  }
});

/* A responder stream is created on the first IN; hook it via the session's
 * controlMessage event, which fires before the stream handles the message. */
session.on('controlMessage', () => {
  setImmediate(() => session.streams.forEach(watchStream));
});

session.on('streamAdded', ({ stream }) => {
  watchStream(stream);
  emit({
    event: 'connected', name: cleanName(stream.name), ssrc: stream.ssrc,
    address: stream.rinfo1 && stream.rinfo1.address, port: stream.rinfo1 && stream.rinfo1.port,
  });
});

session.on('streamRemoved', ({ stream }) => {
  emit({ event: 'disconnected', name: cleanName(stream.name), ssrc: stream.ssrc });
});

function shutdown(reason, code = 0) {
  if (exiting) return;
  exiting = true;
  emit({ event: 'exit', reason });
  const done = () => process.exit(code);
  setTimeout(done, 1000).unref(); // don't hang if a close callback never comes
  try {
    session.end(done);
  } catch (e) {
    done();
  }
}

process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
setTimeout(() => shutdown('timeout'), opts.timeout * 1000).unref();

/* Exit when stdin closes, but only if stdin is something that can close
 * (pipe, socket, tty); /dev/null (e.g. a background job) is ignored. */
let st = null;
try { st = fs.fstatSync(0); } catch (e) { st = null; }
if (st && (st.isFIFO() || st.isSocket() || tty.isatty(0))) {
  process.stdin.on('data', () => {});
  process.stdin.on('end', () => shutdown('stdin'));
  process.stdin.on('close', () => shutdown('stdin'));
  process.stdin.resume();
}

session.start();
/* Keep the process alive until the timeout even when idle. */
setInterval(() => {}, 1 << 30);
