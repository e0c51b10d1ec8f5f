/**
 * TLS on the job server's port: the whole listener speaks TLS, as gearmand's `--ssl` (no STARTTLS).
 *
 * Each accepted socket's first bytes decide what it is. A TLS ClientHello (0x16) is handed to a
 * tls.Server that never listens (its TLSSocket starts with the bytes already read); anything
 * else is a plain-text Gearman or admin peer on the TLS port, which is told TLS_REQUIRED in its
 * own dialect instead of being dropped silently. After the handshake, a client certificate is checked against the CA
 * when one was presented; the caller decides what a connection without one may do.
 */
import fs from 'node:fs';
import type net from 'node:net';
import tls from 'node:tls';
import { z } from 'zod';
import { InvalidArgumentError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { refuseConnection } from './limits.ts';
import type { PeerCertificate } from './tenants.ts';

export const DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

/** gearmand's compiled-in defaults (`--ssl` without files). */
export const GEARMAND_DEFAULT_CERTIFICATE = '/etc/ssl/certs/gearmand.pem';
export const GEARMAND_DEFAULT_KEY = '/etc/ssl/certs/gearmand.key';

const pem = z.union([z.string().min(1), z.instanceof(Buffer)]);

export const serverTlsSchema = z.strictObject({
  /** Server certificate chain, PEM. */
  cert: pem,
  /** Private key of the certificate, PEM. */
  key: pem,
  /** CA certificate(s), PEM: with it, clients are asked for a certificate, checked against it. */
  ca: pem.optional(),
  /** Refuse clients that present no certificate (needs `ca`). */
  requireClientCert: z.boolean().default(false),
  /** Accept-to-handshake budget; a peer that takes longer is dropped. */
  handshakeTimeoutMs: z.number().int().min(100).max(600_000).default(DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS),
});

export type ServerTlsInput = z.input<typeof serverTlsSchema>;
export type ServerTlsOptions = z.output<typeof serverTlsSchema>;

/** A connection that finished its handshake. */
export interface TlsPeer {
  readonly socket: tls.TLSSocket;
  /** The verified client certificate, or null when the client presented none. */
  readonly certificate: PeerCertificate | null;
}

/** Paths as given on the command line (gearmand's `--ssl-certificate --ssl-key --ssl-ca-file`). */
export interface TlsFiles {
  readonly certificate: string;
  readonly key: string;
  readonly caFile?: string | undefined;
}

/** Read the PEM files; errors name the flag whose file cannot be read. */
export function readTlsFiles(files: TlsFiles): { cert: Buffer; key: Buffer; ca?: Buffer } {
  const read = (file: string, flag: string) => {
    try {
      return fs.readFileSync(file);
    } catch (err) {
      throw new InvalidArgumentError(`--${flag}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { field: flag, cause: err });
    }
  };
  return {
    cert: read(files.certificate, 'ssl-certificate'),
    key: read(files.key, 'ssl-key'),
    ...(files.caFile !== undefined ? { ca: read(files.caFile, 'ssl-ca-file') } : {}),
  };
}

export interface TlsAcceptorEvents {
  /** A peer finished its handshake, and its certificate (if any) is verified. */
  secure(peer: TlsPeer): void;
  /** A peer was turned away (plain text on the TLS port, a bad or missing certificate). */
  refused(): void;
}

/**
 * Hands accepted sockets to a `tls.Server` that never listens itself, after a look at their first
 * bytes; the tls.Server runs the handshake (with its timeout) and the certificate check.
 */
export class TlsAcceptor {
  readonly #options: ServerTlsOptions;
  readonly #logger: Logger;
  readonly #events: TlsAcceptorEvents;
  readonly #server: tls.Server;

  constructor(options: ServerTlsOptions, logger: Logger, events: TlsAcceptorEvents) {
    this.#options = options;
    this.#logger = logger;
    this.#events = events;
    this.#server = tls.createServer({
      ...credentials(options),
      requestCert: options.ca !== undefined,
      // Checked on 'secureConnection', so that a refused peer can be told why in-band.
      rejectUnauthorized: false,
      handshakeTimeout: options.handshakeTimeoutMs,
    });
    this.#server.on('secureConnection', (socket: tls.TLSSocket) => this.#onSecure(socket));
    this.#server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: tls.TLSSocket) => {
      this.#logger.info(`TLS handshake with ${socket.remoteAddress}:${socket.remotePort} failed: ${err.code ?? err.message}`);
      // With a listener, the tls.Server leaves the socket open (a handshake timeout, for one).
      socket.destroy();
    });
  }

  /** Whether clients are asked for a certificate. */
  get requestsClientCert(): boolean {
    return this.#options.ca !== undefined;
  }

  /**
   * Swap certificate, key and CA for new handshakes (rotation); open connections keep theirs.
   * Whether clients are asked for a certificate stays as it was at start-up.
   */
  setCredentials(creds: { cert: string | Buffer; key: string | Buffer; ca?: string | Buffer | undefined }): void {
    try {
      this.#server.setSecureContext(credentials({ ...this.#options, ...creds }));
    } catch (err) {
      throw new InvalidArgumentError(`invalid TLS certificate, key or CA: ${(err as Error).message}`, { field: 'tls', cause: err });
    }
  }

  /**
   * Look at an accepted socket's first bytes: a TLS ClientHello goes to the handshake, anything
   * else is refused with TLS_REQUIRED in its own dialect.
   */
  accept(raw: net.Socket): void {
    const peerName = `${raw.remoteAddress}:${raw.remotePort}`;
    const timer = setTimeout(() => {
      this.#logger.info(`TLS peer ${peerName}: nothing received within ${this.#options.handshakeTimeoutMs} ms`);
      raw.destroy();
    }, this.#options.handshakeTimeoutMs);
    const onRawError = () => {};
    raw.on('error', onRawError);
    raw.once('close', () => clearTimeout(timer));
    raw.once('data', (first: Buffer) => {
      clearTimeout(timer);
      raw.pause();
      if (first[0] !== 0x16) {
        this.#logger.info(`plain-text peer ${peerName} on the TLS port: refused`);
        this.#events.refused();
        refuseConnection(raw, 'TLS_REQUIRED', 'this port speaks TLS (the server speaks TLS? try --ssl)', { firstChunk: first });
        return;
      }
      raw.off('error', onRawError);
      // The TLSSocket the server wraps around `raw` starts with the bytes already read.
      raw.unshift(first);
      this.#server.emit('connection', raw);
    });
  }

  #onSecure(socket: tls.TLSSocket): void {
    const peerName = `${socket.remoteAddress}:${socket.remotePort}`;
    const cert = this.requestsClientCert ? socket.getPeerCertificate() : null;
    const presented = cert !== null && Object.keys(cert).length > 0;
    if (presented && !socket.authorized) {
      const why = String(socket.authorizationError ?? 'not trusted');
      this.#logger.info(`TLS peer ${peerName}: client certificate refused (${why})`);
      this.#events.refused();
      refuseConnection(socket, 'CERTIFICATE_INVALID', `client certificate refused: ${why}`);
      return;
    }
    if (!presented && this.#options.requireClientCert) {
      this.#logger.info(`TLS peer ${peerName}: no client certificate`);
      this.#events.refused();
      refuseConnection(socket, 'CERTIFICATE_REQUIRED', 'this server requires a client certificate (--ssl-certificate and --ssl-key)');
      return;
    }
    this.#events.secure({ socket, certificate: presented ? certificateOf(cert) : null });
  }
}

function credentials(o: { cert: string | Buffer; key: string | Buffer; ca?: string | Buffer | undefined }): tls.SecureContextOptions {
  // Fail early, with the option named, on unusable PEM.
  createContext(o);
  return { cert: o.cert, key: o.key, ...(o.ca !== undefined ? { ca: o.ca } : {}) };
}

function createContext(o: { cert: string | Buffer; key: string | Buffer; ca?: string | Buffer | undefined }): tls.SecureContext {
  try {
    return tls.createSecureContext({ cert: o.cert, key: o.key, ...(o.ca !== undefined ? { ca: o.ca } : {}) });
  } catch (err) {
    throw new InvalidArgumentError(`invalid TLS certificate, key or CA: ${(err as Error).message}`, { field: 'tls', cause: err });
  }
}

function certificateOf(cert: tls.PeerCertificate): PeerCertificate {
  const cn = cert.subject?.CN as string | string[] | undefined;
  return { cn: cn === undefined ? [] : Array.isArray(cn) ? cn : [cn], fingerprint256: cert.fingerprint256 };
}
