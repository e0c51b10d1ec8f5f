/**
 * Clear errors for the ways TLS and plain text meet the wrong kind of port, and for refusals the
 * server explains (geartrain's server answers a refused peer with an ERROR packet or an `ERR` line
 * carrying one of REFUSAL_CODES, then closes; src/server/limits.ts).
 */
import { ConnectionError } from '../errors.ts';
import type { ServerAddress } from './server-address.ts';

/** Appended to errors of a plain-text connection that met a TLS port. */
export const TLS_HINT = 'the server speaks TLS? try --ssl';
/** Appended to errors of a TLS connection that met a plain-text port. */
export const PLAIN_HINT = 'the server speaks plain text? try without --ssl';

/** ERROR codes with which geartrain's server turns a connection away before closing it. */
export const REFUSAL_CODES: ReadonlySet<string> = new Set([
  'TLS_REQUIRED',
  'CERTIFICATE_REQUIRED',
  'CERTIFICATE_INVALID',
  'UNKNOWN_TENANT',
  'TOO_MANY_CONNECTIONS',
]);

const refusals = new WeakMap<Error, string>();

/**
 * Whether a connection ended because the server turned it away (a refusal code, or TLS where
 * plain text was expected): trying again at once would meet the same answer.
 */
export function isRefusal(error: Error): boolean {
  return refusals.has(error);
}

/** The refusal code of such an error (`TLS` when the server answered in TLS), else undefined. */
export function refusalCodeOf(error: Error): string | undefined {
  return refusals.get(error);
}

function refusal(error: ConnectionError, code: string): ConnectionError {
  refusals.set(error, code);
  return error;
}

/** The server refused the connection and said why (`text` may be `+`-encoded, as admin replies are). */
export function refusalError(server: ServerAddress, code: string, text: string): ConnectionError {
  return refusal(new ConnectionError(`${server.id} refused the connection: ${code}: ${text.replace(/\+/g, ' ')}`, { server: server.id }), code);
}

/** Whether `chunk` opens with a TLS record (handshake 0x16 or alert 0x15, version 3.x). */
export function looksLikeTls(chunk: Buffer): boolean {
  return chunk.length >= 2 && (chunk[0] === 0x16 || chunk[0] === 0x15) && chunk[1] === 0x03;
}

/** A plain-text connection received TLS bytes. */
export function tlsAnswerError(server: ServerAddress): ConnectionError {
  return refusal(new ConnectionError(`${server.id} answered in TLS (${TLS_HINT})`, { server: server.id }), 'TLS');
}

const CERT_UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

const NOT_TLS = new Set(['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG', 'ERR_SSL_RECORD_LENGTH_MISMATCH', 'ERR_SSL_UNEXPECTED_EOF_WHILE_READING']);

/** A TLS connection failed before its handshake finished. */
export function tlsConnectError(server: ServerAddress, err: NodeJS.ErrnoException, tcpConnected: boolean): ConnectionError {
  const code = err.code ?? '';
  const at = `cannot connect to ${server.id}`;
  const make = (message: string) => new ConnectionError(message, { cause: err, server: server.id });
  if (!tcpConnected) return make(`${at}: ${code || err.message}`);
  if (CERT_UNTRUSTED.has(code)) return make(`${at}: its certificate is not trusted: ${err.message} (${code}); give its CA with --ssl-ca-file`);
  if (/ALERT_(CERTIFICATE_REQUIRED|BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_UNKNOWN|ACCESS_DENIED)/.test(code)) {
    return make(`${at}: the server refused our client certificate (${code}); give one with --ssl-certificate and --ssl-key`);
  }
  if (NOT_TLS.has(code) || /wrong version number/i.test(err.message)) {
    return make(`${at}: the TLS handshake got an answer that is not TLS (${code}; ${PLAIN_HINT})`);
  }
  if (code === 'ECONNRESET' || /before secure TLS connection/i.test(err.message)) {
    return make(`${at}: the server closed the connection during the TLS handshake (${PLAIN_HINT})`);
  }
  return make(`${at}: TLS handshake failed: ${err.message}${code && !err.message.includes(code) ? ` (${code})` : ''}`);
}

/** A TLS connection whose TCP part is up got no handshake answer in time. */
export function tlsTimeoutError(server: ServerAddress, ms: number): ConnectionError {
  return new ConnectionError(`cannot connect to ${server.id}: no TLS handshake answer within ${ms} ms (${PLAIN_HINT})`, { server: server.id });
}
